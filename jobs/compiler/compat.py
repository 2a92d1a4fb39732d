"""Can a job of scenario NEW start from a savepoint of a job of scenario OLD? (`kairos validate --against`)

A savepoint maps state to operators by uid (`<scenario>/<segment uid>`, jobs/compiler/plan.py) and, inside an
operator, to a node's state by descriptor name (`<node id>.<state name>`). So a stateful node of OLD keeps its
state in NEW when the scenario keeps its name, the node keeps its id, its type, its state (names, kinds,
whether it expires) and the operator it lives in (a keyed segment: upstream segment + key), and its own
parameters: state built under a window of 5 minutes means something else under a window of 1 hour. The wiring
(`from`) may change: a filter put in front of a window does not change what the window's state means.
Nodes and sources may be added. Every problem is a `file:line:col: message` of the NEW file (or of OLD for
what NEW removed).
"""

from __future__ import annotations

import json
from typing import Any

from jobs.compiler.plan import Plan
from jobs.lang.errors import Diagnostic, Location, ScenarioError
from jobs.lang.loader import YMap, load_yaml

WIRING = {"id", "type", "from"}  # may change without touching the node's state


def _plain(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def _state(plan: Plan, node_id: str) -> dict[str, tuple[str, bool]]:
    return {s.name: (s.kind, bool(s.ttl_ms)) for s in plan.runtimes[node_id].state_specs()}


def _root_loc(path: str, key: str) -> Location:
    root = load_yaml(path)
    return root.value_loc(key) if isinstance(root, YMap) else Location(path, 1, 1)


def check_upgrade(old: Plan, new: Plan) -> list[Diagnostic]:
    """What keeps a job of `new` from continuing the state of a savepoint taken from a job of `old`."""
    problems: list[Diagnostic] = []
    old_file, new_file = old.scenario.file, new.scenario.file
    if old.scenario.name != new.scenario.name:
        problems.append(Diagnostic(_root_loc(new_file, "name"), (
            f"the scenario was '{old.scenario.name}' in {old_file}: every operator uid starts with the scenario "
            "name, so a savepoint of the old job restores nothing into this one (keep the name)")))
        return problems
    for source in old.scenario.sources:
        if source not in new.scenario.sources:
            problems.append(Diagnostic(old.scenario.sources[source].loc, (
                f"source '{source}' was removed: its read positions in the savepoint have no operator left "
                "(restore with --allow-non-restored-state to drop them)")))
    for node_id in old.graph.order:
        state = _state(old, node_id)
        if not state:
            continue
        old_spec = old.graph.specs[node_id]
        new_spec = new.graph.specs.get(node_id)
        if new_spec is None:
            gone = old.segments[old.segment_of[node_id]].uid not in {s.uid for s in new.segments}
            if gone:
                problems.append(Diagnostic(old_spec.loc, (
                    f"stateful node '{node_id}' was removed with its operator: the savepoint's state for it has no "
                    "operator left (restore with --allow-non-restored-state to drop it)")))
            continue
        data = new_spec.data
        if new_spec.type != old_spec.type:
            problems.append(Diagnostic(data.value_loc("type"), (
                f"node '{node_id}' was a {old_spec.type} ({old_file}:{old_spec.loc.line}): its state cannot be "
                f"read as a {new_spec.type}'s; give the new node another id to start its state afresh")))
            continue
        old_uid = old.segments[old.segment_of[node_id]].uid
        new_uid = new.segments[new.segment_of[node_id]].uid
        if old_uid != new_uid:
            problems.append(Diagnostic(new_spec.loc, (
                f"node '{node_id}' keeps its state in operator '{old_uid}' in the old job and would be in "
                f"'{new_uid}' here (its key or the segment it is keyed from changed): the savepoint's state "
                "would not follow it")))
        new_state = _state(new, node_id)
        if new_state != state:
            problems.append(Diagnostic(new_spec.loc, (
                f"node '{node_id}' changes its state from {sorted(state.items())} to {sorted(new_state.items())}: "
                "a savepoint of the old job cannot be read into it")))
        changed = [k for k in sorted(set(old_spec.data) | set(data) - WIRING)
                   if k not in WIRING and _plain(old_spec.data.get(k)) != _plain(data.get(k))]
        if changed:
            where = data.key_loc(changed[0]) if changed[0] in data else new_spec.loc
            problems.append(Diagnostic(where, (
                f"stateful node '{node_id}' changes {', '.join(changed)}: its restored state was built under the old "
                f"value{'s' if len(changed) > 1 else ''}; keep {'them' if len(changed) > 1 else 'it'}, or give the "
                "node a new id to start its state afresh")))
    return problems


def require_upgrade(old: Plan, new: Plan) -> None:
    problems = check_upgrade(old, new)
    if problems:
        raise ScenarioError(problems)
