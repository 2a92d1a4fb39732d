"""Sandbox testing: trace events through a scenario (kairos test), run its test cases (kairos verify)
and draw it (kairos graph), all in-process with the same node code the Flink job runs."""
