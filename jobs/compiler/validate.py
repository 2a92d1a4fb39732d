"""Stage 3: validation. Checks the graph (unknown refs, cycles, unreachable nodes) before anything is built,
then compiles every node in topological order against the fields and variables that reach it.

The result, `Graph`, is fully typed: every expression is compiled, every port resolved.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Collection
from dataclasses import dataclass, field

from jobs.lang import params as P
from jobs.lang.errors import Collector, Location
from jobs.lang.model import NodeSpec, Scenario, SourceKind, read_scenario
from jobs.lang.parameters import PARAM, param_type
from jobs.lang.paths import ReferenceFileError
from jobs.lang.types import common_type
from jobs.nodes import COMMON_FIELDS, NODE_TYPES
from jobs.nodes.base import DEFAULT_PORT, CompileContext, Compiled, Env


@dataclass
class Edge:
    upstream: str  # a node id, or a source name when `from_source`
    port: str
    from_source: bool
    loc: Location
    extra: bool = False  # a node's own extra input (action cancel_if), not a `from`: plan keeps it off segmenting


@dataclass
class Graph:
    """A checked, compiled scenario: nodes in topological order with their inputs and compiled form."""

    scenario: Scenario
    order: list[str]
    specs: dict[str, NodeSpec]
    inputs: dict[str, list[Edge]]
    compiled: dict[str, Compiled]
    downstream: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # (node or source, port) -> nodes

    @property
    def name(self) -> str:
        return self.scenario.name


def _resolve_inputs(scenario: Scenario, errors: Collector) -> dict[str, list[Edge]]:
    node_ids = {n.id for n in scenario.nodes}
    event_sources = [s for s, src in scenario.sources.items() if src.kind == SourceKind.EVENTS]
    inputs: dict[str, list[Edge]] = {}
    previous: NodeSpec | None = None
    for spec in scenario.nodes:
        refs = spec.inputs
        if not refs:  # no `from`: the node before it, or the only event source for the first node
            if previous is not None:
                refs = [(previous.id, spec.loc)]
            elif len(event_sources) == 1:
                refs = [(event_sources[0], spec.loc)]
            else:
                errors.error(spec.loc, f"node '{spec.id}' needs 'from': there are {len(event_sources)} event sources")
        edges = []
        for ref, loc in refs:
            name, _, port = ref.partition(".")
            if name in node_ids:
                edges.append(Edge(name, port or DEFAULT_PORT, False, loc))
            elif name in scenario.sources:
                if scenario.sources[name].kind == SourceKind.CHANGELOG:
                    errors.error(loc, f"'{name}' is a changelog: read it with an enrich node, not with 'from'")
                elif port:
                    errors.error(loc, f"source '{name}' has no ports; write just '{name}'")
                else:
                    edges.append(Edge(name, DEFAULT_PORT, True, loc))
            else:
                known = [*node_ids, *scenario.sources]
                errors.error(loc, f"unknown node or source '{name}'{P.did_you_mean(name, known)}")
        inputs[spec.id] = edges
        previous = spec
    return inputs


def _topological_order(scenario: Scenario, inputs: dict[str, list[Edge]], errors: Collector) -> list[str]:
    indegree = {n.id: sum(1 for e in inputs.get(n.id, []) if not e.from_source) for n in scenario.nodes}
    users: dict[str, list[str]] = defaultdict(list)
    for node_id, edges in inputs.items():
        for edge in edges:
            if not edge.from_source:
                users[edge.upstream].append(node_id)
    ready = deque(n.id for n in scenario.nodes if indegree[n.id] == 0)
    order = []
    while ready:
        node_id = ready.popleft()
        order.append(node_id)
        for user in users[node_id]:
            indegree[user] -= 1
            if indegree[user] == 0:
                ready.append(user)
    placed = set(order)
    for spec in (n for n in scenario.nodes if n.id not in placed):
        upstream = [e.upstream for e in inputs.get(spec.id, []) if not e.from_source]
        if _reaches(spec.id, spec.id, users):
            errors.error(spec.loc, f"node '{spec.id}' is part of a cycle (it reads from {', '.join(upstream)})")
        else:
            errors.error(spec.loc, f"node '{spec.id}' is unreachable: no event can reach {', '.join(upstream)}")
    return order


def _reaches(start: str, target: str, users: dict[str, list[str]]) -> bool:
    seen, todo = set(), list(users.get(start, []))
    while todo:
        node = todo.pop()
        if node == target:
            return True
        if node not in seen:
            seen.add(node)
            todo.extend(users.get(node, []))
    return False


def merge_envs(envs: list[Env]) -> Env:
    """What a union passes on: the names every input has, at a type they all fit."""
    merged = dict(envs[0])
    for env in envs[1:]:
        for name in list(merged):
            common = common_type(merged[name], env[name]) if name in env else None
            if common is None:
                del merged[name]
            else:
                merged[name] = common
    return merged


def _check_reference_files(scenario: Scenario, given: Collection[str], errors: Collector) -> None:
    """Each reference's own file is inside the scenario's directory tree and exists (Scenario.reference_file).

    A table whose file the user gives (`given`: --reference NAME=FILE) may lack its own, but not point outside.
    """
    for reference in scenario.references.values():
        if reference.file is None:
            continue
        try:
            scenario.reference_file(reference)
        except ReferenceFileError as exc:
            if not (reference.name in given and exc.missing):
                errors.error(reference.file_loc or reference.loc, f"reference '{reference.name}': {exc}")


def source_env(scenario: Scenario, name: str) -> Env:
    return dict(scenario.sources[name].schema.fields)


def with_parameters(env: Env, scenario: Scenario) -> Env:
    """Every node sees `param` (live parameters) whatever its upstream made: window results included."""
    return {**env, PARAM: param_type(scenario.parameters)} if scenario.parameters else env


def build_graph(scenario: Scenario, given_references: Collection[str] = ()) -> Graph:
    """Validate and compile a scenario. Raises ScenarioError with every problem found.

    `given_references`: the tables whose file the user gives on the command line (their own may be missing).
    """
    errors = Collector()
    specs: dict[str, NodeSpec] = {}
    for spec in scenario.nodes:
        if spec.id in specs:
            errors.error(spec.loc, f"node id '{spec.id}' is used twice (first at line {specs[spec.id].loc.line})")
        elif spec.id in scenario.sources:
            errors.error(spec.loc, f"node id '{spec.id}' is also the name of a source")
        else:
            specs[spec.id] = spec
        if spec.type not in NODE_TYPES:
            errors.error(spec.data.value_loc("type"),
                         f"unknown node type '{spec.type}'{P.did_you_mean(spec.type, list(NODE_TYPES))}")
    inputs = _resolve_inputs(scenario, errors)
    _check_reference_files(scenario, given_references, errors)
    errors.raise_if_any()  # graph checks come before any typing
    order = _topological_order(scenario, inputs, errors)
    for spec in scenario.nodes:
        module = NODE_TYPES[spec.type]
        if len(inputs[spec.id]) > 1 and not module.MULTI_INPUT:
            errors.error(spec.loc, f"a {spec.type} node reads from one input; use a union node to merge branches")
    errors.raise_if_any()

    cc = CompileContext(scenario, errors)
    compiled: dict[str, Compiled] = {}
    for node_id in order:
        spec = specs[node_id]
        envs, ok = [], True
        for edge in inputs[node_id]:
            if edge.from_source:
                envs.append(source_env(scenario, edge.upstream))
                continue
            upstream = compiled.get(edge.upstream)
            if upstream is None:
                ok = False  # the upstream node failed; its errors are already reported
            elif upstream.terminal:
                errors.error(edge.loc, f"'{edge.upstream}' is a {specs[edge.upstream].type} node: nothing flows out")
                ok = False
            elif edge.port not in upstream.out_envs:
                ports = list(upstream.out_envs)
                errors.error(edge.loc, f"node '{edge.upstream}' has no port '{edge.port}' (ports: {', '.join(ports)})"
                             f"{P.did_you_mean(edge.port, ports)}")
                ok = False
            else:
                envs.append(upstream.out_envs[edge.port])
        if not ok or not envs:
            continue
        result = _compile_node(spec, with_parameters(merge_envs(envs), scenario), cc)
        if result is not None:
            compiled[node_id] = result
    _add_extra_sources(order, inputs, compiled, errors)
    errors.raise_if_any()

    downstream: dict[tuple[str, str], list[str]] = defaultdict(list)
    for node_id in order:
        for edge in inputs[node_id]:
            downstream[(edge.upstream, edge.port)].append(node_id)
    return Graph(scenario, order, specs, inputs, compiled, dict(downstream))


def _compile_node(spec: NodeSpec, env: Env, cc: CompileContext) -> Compiled | None:
    """A node type's compile step, held to its contract: a result, or at least one diagnostic, never a crash.

    A bug in a node type must not turn a scenario mistake into a traceback (or into a graph with a node
    missing); it becomes a diagnostic at the node, worded so that it is reported as a kairos bug.
    """
    before = len(cc.errors.diagnostics)
    module = NODE_TYPES[spec.type]
    params = P.read_params(spec.data, module.PARAMS, cc.errors, what=f"{spec.type} node '{spec.id}'",
                           ignore=COMMON_FIELDS)
    try:
        result = module.compile(spec, params, env, cc)
    except Exception as exc:  # noqa: BLE001 - see above; the fuzz test in test_loader_hostile.py keeps these at 0
        cc.errors.error(spec.loc, f"internal error while checking {spec.type} node '{spec.id}' "
                                  f"({type(exc).__name__}: {exc}); please report it")
        return None
    if result is None and len(cc.errors.diagnostics) == before:
        cc.errors.error(spec.loc, f"internal error: {spec.type} node '{spec.id}' did not compile and gave no "
                                  "reason; please report it")
    return result


def _add_extra_sources(order: list[str], inputs: dict[str, list[Edge]], compiled: dict[str, Compiled],
                       errors: Collector) -> None:
    """Sources a node reads besides `from` (cancel_if): one that already reaches the node upstream would be
    ambiguous (its events could not be told apart from the triggering ones)."""
    for node_id in order:
        for source, loc in compiled[node_id].extra_sources if node_id in compiled else ():
            seen, todo = set(), [node_id]
            while todo:
                for edge in inputs[todo.pop()]:
                    if edge.upstream not in seen:
                        seen.add(edge.upstream)
                        todo.extend([] if edge.from_source else [edge.upstream])
            if source in seen:
                errors.error(loc, f"source '{source}' already reaches '{node_id}' through 'from': the events it "
                                  "reads besides its input (cancel_if, feedback) must come from a source of their own")
            else:
                inputs[node_id].append(Edge(source, DEFAULT_PORT, True, loc, extra=True))


def load(path: str, text: str | None = None, given_references: Collection[str] = ()) -> Graph:
    """Read, check and compile a scenario file in one go."""
    return build_graph(read_scenario(path, text), given_references)
