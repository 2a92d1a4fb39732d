"""The scenario compiler: the typed scenario (jobs/lang) and the node types (jobs/nodes) -> a checked graph -> a plan.

Each stage is one module and only looks forward:
  lang.loader (YAML with positions) -> lang.model (typed scenario) -> validate (graph) -> plan (segments)
  -> flink.job (PyFlink build).
"""
