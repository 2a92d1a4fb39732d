"""What a kairos operator publishes through Flink's metric system (exported by the Prometheus reporter of
flink-conf/cluster/config.yaml; names and meanings in docs/operations.md "Watch").

Under the operator's metric group `kairos` / `scenario=<name>`:
* `node=<id>`: one counter per executor counter (in, out, filtered, dead_letter, held, emitted, late);
* `node=<id>` / `channel=<channel>`: counter `actions`, the actions the node sent on that channel;
* `node=<id>` / `reason=<reason>`: counter `suppressed`, contacts not sent (contact policy or cancel_if);
* `latency_event_ms` and `latency_ingestion_ms` histograms (Flink DescriptiveStatisticsHistogram over the
  last 1024 actions): wall clock at emission minus the action's event time (its trigger's time + delay),
  and minus the moment the triggering event entered the job (actions emitted while that event is processed;
  an action released by an event-time timer is measured by the event-time histogram only).

Costs, in PyFlink thread mode each metric call is a JNI call into Java. Counters are fed from Python tallies
every REPORT_EVERY inputs or REPORT_S seconds (checked before each input, so the tally of the input being
processed waits for the next report), and by a processing-time timer in keyed operators so the
last events of a burst are published without waiting for more input. A histogram is updated once per
action (actions are rarer than events); measured in docs/operations.md "Cost of the metrics".
"""

from __future__ import annotations

import contextlib
import time
from datetime import datetime
from typing import Any

from jobs.runtime.executor import COUNTERS

REPORT_EVERY = 256
REPORT_S = 0.5
HISTOGRAM_WINDOW = 1024
SUPPRESSED_KINDS = ("contact_suppressed", "action_cancelled")  # jobs/nodes/action.py detections


def _java_histogram(window: int):
    """A Flink histogram object, created in Java (PyFlink's Python API has counters, meters and gauges only)."""
    from pemja import findClass

    return findClass("org.apache.flink.runtime.metrics.DescriptiveStatisticsHistogram")(window)


def _epoch_ms(iso: str) -> int:
    # action times are written by outputs.iso_ms: 'YYYY-MM-DDTHH:MM:SS.mmmZ' (UTC)
    moment = datetime.fromisoformat(iso[:-1] if iso.endswith("Z") else iso)
    return int((moment - datetime(1970, 1, 1)).total_seconds() * 1000)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


class OperatorMetrics:
    """The metrics of one kairos operator instance, fed from its executors' live tallies."""

    def __init__(self, runtime_context, scenario: str, executors: list):
        self.group = runtime_context.get_metrics_group().add_group("kairos").add_group("scenario", scenario)
        self.executors = executors
        node_counts = {node: None for e in executors for node in e.counts}
        # not gauges: Flink reads a gauge from its own threads, and calling into the embedded interpreter
        # from there crashes the TaskManager once a job is cancelled
        self.counters = {(node, name): self.group.add_group("node", node).counter(name)
                         for node in node_counts for name in COUNTERS}
        self.reported: dict[Any, int] = dict.fromkeys(self.counters, 0)
        self.tallies: dict[tuple[str, str, str], int] = {}  # ("channel" | "reason", node, value) -> count
        self.tally_counters: dict[tuple[str, str, str], Any] = {}
        self.event_latency = self._histogram("latency_event_ms")
        self.ingestion_latency = self._histogram("latency_ingestion_ms")
        self.inputs, self.last_report = 0, time.monotonic()
        self.dirty = False  # something counted since the last report
        self.on_report = None  # file runs: also tell the client how far the run is (jobs/flink/embedded.py)

    def _histogram(self, name: str):
        histogram = _java_histogram(HISTOGRAM_WINDOW)
        self.group._metrics.histogram(name, histogram)  # the Java MetricGroup behind PyFlink's wrapper
        return histogram

    def before_input(self) -> None:
        """Called before each input: publish when REPORT_EVERY inputs or REPORT_S seconds have gone by."""
        self.inputs += 1
        if self.inputs >= REPORT_EVERY or time.monotonic() - self.last_report >= REPORT_S:
            self.report()
        self.dirty = True

    def action(self, record: dict, arrival_ms: int | None) -> None:
        key = ("channel", record["node"], record["channel"])
        self.tallies[key] = self.tallies.get(key, 0) + 1
        now = now_ms()
        with contextlib.suppress(KeyError, TypeError, ValueError):  # a time no calendar shows: no latency
            self.event_latency.update(now - _epoch_ms(record["time"]))
        if arrival_ms is not None:
            self.ingestion_latency.update(now - arrival_ms)

    def detection(self, record: dict) -> None:
        if record.get("kind") in SUPPRESSED_KINDS:
            reason = str((record.get("fields") or {}).get("reason", "unknown"))
            key = ("reason", record["node"], reason)
            self.tallies[key] = self.tallies.get(key, 0) + 1

    def report(self) -> None:
        for (node, name), metric in self.counters.items():
            value = sum(e.counts.get(node, {}).get(name, 0) for e in self.executors)
            delta = value - self.reported[(node, name)]
            if delta:
                metric.inc(delta)
                self.reported[(node, name)] = value
        for key, value in self.tallies.items():
            metric = self.tally_counters.get(key)
            if metric is None:  # the first action on a channel / suppression for a reason registers it
                what, node, label = key
                metric = self.group.add_group("node", node).add_group(what, label).counter(
                    "actions" if what == "channel" else "suppressed")
                self.tally_counters[key] = metric
            metric.inc(value)
        self.tallies.clear()
        self.inputs, self.last_report, self.dirty = 0, time.monotonic(), False
        if self.on_report is not None:
            self.on_report()
