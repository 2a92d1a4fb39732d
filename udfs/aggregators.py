"""The built-in aggregators moved next to the aggregate node (jobs/nodes/windows/aggregators.py): udfs/ is
for users' trusted functions. This name stays so that code importing `udfs.aggregators` keeps working; it
exports no function a `call` node could reach."""

from __future__ import annotations

from jobs.nodes.windows.aggregators import AGGREGATORS, Aggregator  # noqa: F401 - re-exported
