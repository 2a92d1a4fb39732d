"""Nodes take an event only when its condition is TRUE (SQL WHERE): false and null (unknown) are not taken.

Runs small scenarios in the in-process harness (the same runtime objects as Flink); expected outputs are
worked out by hand from SQL's three-valued logic.
"""

from __future__ import annotations

import json

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.runtime.files import bind_references, canonical
from jobs.runtime.harness import run_in_process

HEADER = """
name: null_logic
description: conditions over missing data
owner: tests
version: 1
sources:
  tx:
    schema: {id: string, customer_id: string, amount: float, country: string, ts: timestamp}
    key: customer_id
    time: ts
    id: id
    out_of_orderness: 1m
"""

EVENTS = [
    {"id": "1", "customer_id": "c1", "amount": 50.0, "country": "PL", "ts": 0},
    {"id": "2", "customer_id": "c2", "amount": 250.0, "country": "DE", "ts": 1000},
    {"id": "3", "customer_id": "c3", "country": None, "ts": 2000},  # no amount, null country
    {"id": "4", "customer_id": "c4", "amount": 80.0, "ts": 3000},  # country missing
]


def run(nodes: str) -> tuple[list[dict], dict]:
    plan = make_plan(load("null_logic.yaml", HEADER + nodes))
    bind_references(plan, {})
    result = run_in_process(plan, [("tx", json.dumps(e)) for e in EVENTS])
    assert result.dead_letter == []
    return [a["payload"] for a in canonical(result.actions)], result.counts


def test_filter_drops_unknown() -> None:
    # not (amount > 100): 1 -> TRUE, 2 -> FALSE, 3 -> NOT NULL = NULL (dropped, as SQL WHERE), 4 -> TRUE
    payloads, _ = run("""
nodes:
  - {id: small, type: filter, condition: not (amount > 100)}
  - {id: out, type: action, channel: push, payload: {id: id}}
""")
    assert sorted(p["id"] for p in payloads) == ["1", "4"]


def test_not_in_with_a_null_item_is_never_true() -> None:
    # country not in ('PL', null): 'PL' -> FALSE; 'DE' -> NULL (it might be the null); null/missing -> NULL
    payloads, _ = run("""
nodes:
  - {id: foreign, type: filter, condition: "country not in ('PL', null)"}
  - {id: out, type: action, channel: push, payload: {id: id}}
""")
    assert payloads == []


def test_switch_and_decide_take_only_true() -> None:
    # case big: amount >= 100 or country = 'DE' -> 2 TRUE; 1 FALSE; 3: NULL or NULL = NULL; 4: FALSE or NULL = NULL
    # case home: not (country <> 'PL') -> 1 TRUE; 2 FALSE; 3, 4 NULL. Default gets 3 and 4.
    payloads, _ = run("""
nodes:
  - id: route
    type: switch
    cases:
      - {name: big, when: "amount >= 100 or country = 'DE'"}
      - {name: home, when: "not (country <> 'PL')"}
  - {id: big_out, type: action, from: route.big, channel: push, payload: {id: id, port: "'big'"}}
  - {id: home_out, type: action, from: route.home, channel: push, payload: {id: id, port: "'home'"}}
  - id: rest
    type: decide
    from: route.default
    output: label
    rules:
      - {when: "amount < 100 and country is null", then: "'small, nowhere'"}
      - {when: "not (amount < 100)", then: "'big, nowhere'"}
    default: "'unknown'"
  - {id: rest_out, type: action, from: rest, channel: push, payload: {id: id, port: label}}
""")
    # decide on 3: amount < 100 is NULL -> rule 1 NULL; not NULL = NULL -> rule 2 not taken -> default
    # decide on 4: amount 80 < 100 TRUE and country missing is null TRUE -> rule 1
    assert sorted((p["id"], p["port"]) for p in payloads) == [
        ("1", "home"),
        ("2", "big"),
        ("3", "unknown"),
        ("4", "small, nowhere"),
    ]
