"""Session windows: an event opens `[ts, ts + gap)`; every session it touches is merged into it, so a session
ends `gap` after its last event, whatever order the events arrive in."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.nodes.base import Ctx
from jobs.nodes.windows.base import ClosingWindowRuntime


@dataclass
class SessionRuntime(ClosingWindowRuntime):
    def _assign(self, windows: dict, ctx: Ctx, ts: int) -> tuple[int, int, tuple]:
        start, end, accs = ts, ts + self.size_ms, self._add(None, ctx, ts)
        for other, (_, other_end, other_accs) in sorted(windows.items()):
            if other < end and other_end > start:
                start, end = min(start, other), max(end, other_end)
                accs = self._merge(accs, other_accs)
                del windows[other]
        return start, end, accs
