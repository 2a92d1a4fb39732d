"""Tumbling windows: fixed, back to back, `[start, start + size)` with start a multiple of the size."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.nodes.base import Ctx
from jobs.nodes.windows.base import ClosingWindowRuntime


@dataclass
class TumblingRuntime(ClosingWindowRuntime):
    def _assign(self, windows: dict, ctx: Ctx, ts: int) -> tuple[int, int, tuple]:
        start = ts - ts % self.size_ms
        return start, start + self.size_ms, self._add((windows.get(start) or (None, None, None))[2], ctx, ts)
