"""Runtime of compiled scenarios: the executor shared by the Flink job and the in-process harness."""
