"""The scenario language: YAML with positions, the typed scenario model, types, parameters, expressions.

The bottom layer: it imports nothing else of `jobs`. Node types (jobs/nodes) are written in it, and the
compiler (jobs/compiler) checks a scenario's graph with both:
  loader (YAML with positions) -> model (typed scenario) -> compiler.validate -> compiler.plan -> flink.job.
"""
