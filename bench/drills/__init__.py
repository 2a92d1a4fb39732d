"""Fault drills (issue 13, docs/reliability.md): `make drills` or `python -m bench.drills`."""
