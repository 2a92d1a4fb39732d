"""The scenario compiler: YAML -> model -> validation -> plan -> PyFlink build.

Each stage is one module and only looks forward:
  loader (YAML with positions) -> model (typed scenario) -> validate -> plan (graph) -> build (PyFlink).
"""
