"""Read kairos metrics back from Flink's Prometheus reporter (the text format of /metrics, parsed with
prometheus_client's parser): what `kairos metrics` prints and what the scrape test checks.

Flink names a metric `flink_<logical scope>_<name>`: the operator scope is `taskmanager_job_task_operator`,
then the groups kairos registers (jobs/flink/metrics.py); a key/value group (`scenario`, `node`, `channel`,
`reason`) adds its key to the name and its value as a label.
"""

from __future__ import annotations

import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

PREFIX = "flink_taskmanager_job_task_operator_kairos_scenario_"
NODE = PREFIX + "node_"  # + in / out / filtered / dead_letter / held / emitted / late
ACTIONS = PREFIX + "node_channel_actions"
SUPPRESSED = PREFIX + "node_reason_suppressed"
LATENCY_EVENT = PREFIX + "latency_event_ms"
LATENCY_INGESTION = PREFIX + "latency_ingestion_ms"


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse(text: str) -> list[Sample]:
    return [Sample(s.name, dict(s.labels), s.value) for family in text_string_to_metric_families(text)
            for s in family.samples]


def scrape(url: str, timeout_s: float = 5) -> list[Sample]:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        return parse(response.read().decode("utf-8"))


def port_range(ports: str) -> list[int]:
    """'9250-9253' or '9250' (the reporter's `port` setting) as a list of ports."""
    low, _, high = ports.partition("-")
    return list(range(int(low), int(high or low) + 1))


def taskmanager_samples(host: str, ports: str) -> list[Sample]:
    """Every sample of the TaskManager endpoints in the reporter's port range (the JobManager's has no
    `flink_taskmanager_` metrics; ports nobody listens on are skipped)."""
    found: list[Sample] = []
    for port in port_range(ports):
        try:
            samples = scrape(f"http://{host}:{port}/metrics")
        except OSError:
            continue
        if any(s.name.startswith("flink_taskmanager_") for s in samples):
            found.extend(samples)
    return found


def kairos_samples(samples: list[Sample], job_id: str | None = None) -> list[Sample]:
    return [s for s in samples if s.name.startswith(PREFIX) and (job_id is None or s.labels.get("job_id") == job_id)]


def total(samples: list[Sample], name: str, **labels: str) -> float:
    """The sum over operators and subtasks of one metric with these labels."""
    return sum(s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()))


def node_counts(samples: list[Sample], scenario: str) -> dict[str, dict[str, int]]:
    """{node: {counter: value}} summed over operators and subtasks, like counts.json of a file run."""
    out: dict[str, dict[str, int]] = {}
    for s in samples:
        if s.name.startswith(NODE) and s.labels.get("scenario") == scenario and "node" in s.labels:
            counter = s.name[len(NODE):]
            if counter.startswith(("channel_", "reason_")):
                continue
            node = out.setdefault(s.labels["node"], {})
            node[counter] = node.get(counter, 0) + int(s.value)
    return out
