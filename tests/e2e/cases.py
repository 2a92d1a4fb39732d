"""Every scenario the end-to-end suite runs, with its input files and expected outputs."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Case:
    name: str
    scenario: str  # paths relative to the repository root
    files: dict[str, str]
    expected: str
    references: dict[str, str] = field(default_factory=dict)


def _example(name: str, files: dict[str, str]) -> Case:
    base = f"scenarios/{name}"
    return Case(name, f"{base}/{name}.yaml", {s: f"{base}/{f}" for s, f in files.items()}, f"{base}/expected")


def _e2e(name: str, files: dict[str, str]) -> Case:
    base = f"tests/e2e/scenarios/{name}"
    return Case(name, f"{base}/{name}.yaml", {s: f"{base}/{f}" for s, f in files.items()}, f"{base}/expected")


EXAMPLES = [
    _example("card_fraud_velocity", {"transactions": "events.jsonl"}),
    _example("low_balance_offer", {"atm": "events.jsonl", "profiles": "profiles.jsonl"}),
    _example("telco_topup_offer", {"usage": "usage.jsonl"}),
]
NODE_SCENARIOS = [
    _e2e("routing", {"orders": "orders.jsonl"}),
    _e2e("changelog_joins", {"payments": "payments.jsonl", "limits": "limits.jsonl"}),
    _e2e("windows", {"clicks": "clicks.jsonl"}),
]
ALL = EXAMPLES + NODE_SCENARIOS
BY_NAME = {case.name: case for case in ALL}
