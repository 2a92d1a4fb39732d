"""What a node declares on the contract (jobs/nodes/base.py) instead of being probed from outside jobs/nodes/:
the tables it needs bound, the channels it writes, the changelogs it joins in event time, its family."""

from __future__ import annotations

from dataclasses import dataclass

from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.nodes import MODULES, NODE_TYPES, NodeKind, family, side_inputs, summary
from jobs.nodes.base import Family, NodeRuntime, Output, output_kind
from jobs.runtime.files import bind_references

SCENARIO = """\
name: contract
sources:
  tx:
    schema: {id: string, customer_id: string, amount: float, country: string, ts: timestamp}
    key: customer_id
    time: ts
  profiles:
    kind: changelog
    schema: {customer_id: string, segment: string, ts: timestamp}
    key: customer_id
    time: ts
references:
  countries:
    schema: {code: string, risk: int}
    key: code
nodes:
  - {id: country, type: enrich, table: countries, key: country, as: c}
  - {id: latest, type: enrich, changelog: profiles, as: p}
  - {id: timed, type: enrich, changelog: profiles, as: q, mode: event_time}
  - {id: sms, type: action, channel: sms, to: customer_id, payload: {n: amount}}
  - {id: mail, type: action, from: timed, channel: email, to: customer_id, payload: {n: amount}}
"""


def plan():
    return make_plan(load("contract.yaml", SCENARIO))


def test_each_node_says_what_it_needs_bound_and_writes():
    runtimes = plan().runtimes
    assert {n: r.tables() for n, r in runtimes.items() if r.tables()} == {"country": ("countries",)}
    assert {n: r.channels() for n, r in runtimes.items() if r.channels()} == {"sms": ("sms",), "mail": ("email",)}
    # latest-value joins take whatever version is there; only the event-time join calls an old update late
    assert {n: r.timed_changelogs() for n, r in runtimes.items() if r.timed_changelogs()} == {"timed": ("profiles",)}


def test_tables_are_bound_through_the_contract(tmp_path):
    rows = tmp_path / "countries.csv"
    rows.write_text("code,risk\nFR,1\nXX,9\n")
    p = plan()
    bind_references(p, {"countries": str(rows)})
    assert p.runtimes["country"].rows == {"FR": {"code": "FR", "risk": 1}, "XX": {"code": "XX", "risk": 9}}


def test_a_new_node_gets_the_defaults():
    @dataclass
    class Quiet(NodeRuntime):
        pass

    node = Quiet("q")
    assert (node.tables(), node.channels(), node.timed_changelogs(), node.state_specs()) == ((), (), (), [])


def test_registry_vocabulary():
    assert set(NODE_TYPES) == {m.TYPE for m in MODULES} == {k.value for k in NodeKind}
    assert all(isinstance(family(t), Family) for t in NODE_TYPES)  # every built-in node declares its family
    assert family("no_such_type") == "no_such_type" and summary("no_such_type", {}) == ""
    assert side_inputs("enrich", {"table": "countries", "as": "c"}) == [("table", "countries")]
    assert side_inputs("filter", {"condition": "true"}) == []


def test_one_output_vocabulary_with_the_old_names_accepted():
    # contacts: Kafka runs with a shared policy only (the contacts topic), never a file or a tests-file key
    assert [o.value for o in Output] == ["actions", "detected", "dead_letter", "contacts"]
    assert output_kind("action") is Output.ACTIONS and output_kind("dead") is Output.DEAD_LETTER
    assert Output("dead") is Output.DEAD_LETTER and output_kind("detected") == "detected"
