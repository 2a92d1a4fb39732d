"""Hand-written baselines the compiled scenarios are measured against (issue 9): the same logic written the way
a Flink engineer would, independently of kairos's compiler and runtime (they import nothing from `jobs`)."""
