"""Sliding windows: each event sees the last `size` before it, `(ts - size, ts]` (Nussknacker's sliding
aggregate; with order: event_time, Flink SQL's OVER ... RANGE BETWEEN size PRECEDING AND CURRENT ROW).

State: (pending cleanup timer, {bucket time: accumulators}); no key per bucket, since nothing ever closes.
Buckets are evicted lazily once the watermark has passed their end (no later on-time event can reach them).
The timer only bounds the state of a key that goes quiet, so there is one pending per key, set SLIDE_CLEANUP
windows ahead: fraud example, 300k events, one timer per event before.
"""

from __future__ import annotations

from dataclasses import dataclass

from jobs.nodes.base import DEFAULT_PORT, Ctx, Runtime
from jobs.nodes.windows.base import WindowRuntime

SLIDE_CLEANUP = 3  # a quiet key's sliding-window state is dropped this many window lengths after its last event


@dataclass
class SlidingRuntime(WindowRuntime):
    def process(self, ctx: Ctx, ts: int, rt: Runtime):
        state = rt.value_state(self.id, "windows")
        pending, buckets = state.value() or (None, {})
        # order: event_time evicts in its release timers only: a file run's stamp may be ahead of the timers
        # (docs/time.md), and a bucket a held event still needs must stay until that event leaves
        if not self.event_time:
            watermark = rt.watermark(ctx)
            for bucket_ts in [t for t in buckets if t + self.size_ms <= watermark]:
                del buckets[bucket_ts]
        buckets[ts] = self._add(buckets.get(ts), ctx, ts)
        if pending is None:
            pending = ts + SLIDE_CLEANUP * self.size_ms
            rt.register_timer(pending)
        state.update((pending, buckets))
        if self.event_time:
            # the event is in its bucket already; it leaves once the watermark passes ts, when no on-time
            # event of (ts - size, ts] can still come. One timer per distinct time (Flink dedups them).
            waiting = rt.map_state(self.id, "waiting")
            waiting.put(ts, [*(waiting.get(ts) or []), ctx])
            rt.register_timer(ts)
            return ()
        return (self._with_results(ctx, self._window(buckets, ts)),)

    def _window(self, buckets: dict, ts: int) -> tuple:
        accs = None
        for bucket_ts, bucket in buckets.items():
            if ts - self.size_ms < bucket_ts <= ts:
                accs = bucket if accs is None else self._merge(accs, bucket)
        return accs

    def _release(self, state, ts: int, rt: Runtime):
        waiting = rt.map_state(self.id, "waiting")
        due = sorted(t for t in waiting.keys() if t <= ts)
        if not due:
            return []
        # released before the eviction below: every bucket an event of `due` needs is still there
        buckets = (state.value() or (None, {}))[1]
        out = []
        for event_ts in due:
            results = self._results(self._window(buckets, event_ts))  # once for all the events of that time
            out.extend((DEFAULT_PORT, {**ctx, **results}) for ctx in waiting.get(event_ts))
            waiting.remove(event_ts)
        return out

    def _evict(self, state, ts: int, rt: Runtime) -> None:
        value = state.value()
        if not value:
            return
        pending, buckets = value
        for bucket_ts in [t for t in buckets if t + self.size_ms <= ts]:
            del buckets[bucket_ts]
        if not buckets:
            state.clear()
            return
        if ts >= pending:  # our timer (another node's timers of this key come here too)
            pending = max(buckets) + SLIDE_CLEANUP * self.size_ms
            rt.register_timer(pending)
        state.update((pending, buckets))

    def on_timer(self, ts: int, rt: Runtime):
        state = rt.value_state(self.id, "windows")
        released = self._release(state, ts, rt) if self.event_time else []
        self._evict(state, ts, rt)
        yield from released
