"""Stage 2: the scenario model. Turns the positioned YAML into typed dataclasses, checking shapes only.

Types of expressions and the graph are checked later (validate.py); here we only make sure every field
is known, present when required and of the right shape, reporting all problems at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from jobs.lang import params as P
from jobs.lang.errors import Collector, Location
from jobs.lang.loader import YList, YMap, load_yaml
from jobs.lang.parameters import PARAM, Parameter, read_parameters
from jobs.lang.paths import file_in_tree
from jobs.lang.policy import PolicySpec, read_policy
from jobs.lang.types import RecordType, Type, TypeSpecError, parse_type


class SourceKind(StrEnum):
    EVENTS = "events"  # a stream of events
    CHANGELOG = "changelog"  # the latest value per key, read by enrich nodes


SCENARIO_PARAMS = [
    P.Param("name", P.NAME, "Scenario name: used for job names, metric names, state uids and document ids.", True),
    P.Param("description", P.TEXT, "What the scenario does, for people."),
    P.Param("owner", P.TEXT, "Who owns the scenario (team or person)."),
    P.Param("version", P.TEXT, "The scenario's version, free form (e.g. 3 or 2024-06-01)."),
    P.Param("sources", P.ANY, "Input streams by name.", True, schema={"type": "object"}),
    P.Param("references", P.ANY, "Static reference tables by name.", schema={"type": "object"}),
    P.Param("nodes", P.ANY, "The graph: a list of nodes.", True, schema={"type": "array"}),
    P.Param("policy", P.ANY, "Contact policy for every action node (cooldown, caps, quiet hours, consent), or the "
            "path of a shared policy file.", schema={"anyOf": [{"type": "string"}, {"type": "object"}]}),
    P.Param("parameters", P.ANY, "Live parameters by name ({type, default, min, max, allowed, description}), read "
            "in expressions as param.NAME and changed while the job runs with `kairos param set`.",
            schema={"type": "object"}),
]

SOURCE_PARAMS = [
    P.Param("kind", P.CHOICE, "events: a stream of events; changelog: latest value per key, used by enrich.",
            default=SourceKind.EVENTS, choices=tuple(SourceKind)),
    P.Param("schema", P.ANY, "Field names and types (string, int, float, bool, timestamp, list<T>, map<T>, record).",
            True, schema={"type": "object"}),
    P.Param("key", P.NAME, "The field that identifies the customer (or other entity) the event is about.", True),
    P.Param("time", P.NAME, "The event-time field (a timestamp: epoch milliseconds or ISO-8601 text).", True),
    P.Param("id", P.NAME, "A field that uniquely identifies an event (used for idempotent outputs)."),
    P.Param("out_of_orderness", P.DURATION, "How late an event may arrive and still be on time.", default=0),
    P.Param("idleness", P.DURATION, "After this long without events a source no longer holds back time.",
            default=60_000),
    P.Param("topic", P.TEXT, "Kafka topic to read (default: the source name)."),
    P.Param("ttl", P.DURATION, "changelog only: forget a key's value after this long without updates."),
    P.Param("description", P.TEXT, "What this stream is."),
]

REFERENCE_PARAMS = [
    P.Param("schema", P.ANY, "Column names and types.", True, schema={"type": "object"}),
    P.Param("key", P.NAME, "The column looked up by enrich nodes.", True),
    P.Param("file", P.TEXT, "Default file (CSV with a header row, or JSON lines); relative to the scenario file."),
    P.Param("description", P.TEXT, "What this table is."),
]


@dataclass
class Source:
    name: str
    kind: SourceKind
    schema: RecordType
    key: str
    time: str
    id: str | None
    out_of_orderness_ms: int
    idleness_ms: int
    topic: str
    ttl_ms: int | None
    loc: Location
    pii: frozenset[str] = frozenset()  # fields written `{type: T, pii: true}`: masked in detections, dead letters


@dataclass
class Reference:
    name: str
    schema: RecordType
    key: str
    file: str | None  # as written, relative to the scenario file
    loc: Location
    file_loc: Location | None = None


@dataclass
class NodeSpec:
    """One node as written: id, type, inputs and its raw parameters (checked by its node type)."""

    id: str
    type: str
    inputs: list[tuple[str, Location]]  # upstream refs as written: 'node', 'node.port' or a source name
    data: YMap
    loc: Location


@dataclass
class Scenario:
    name: str
    file: str
    description: str = ""
    owner: str = ""
    version: str = ""
    sources: dict[str, Source] = field(default_factory=dict)
    references: dict[str, Reference] = field(default_factory=dict)
    nodes: list[NodeSpec] = field(default_factory=list)
    policy: PolicySpec | None = None  # the contact policy every action node applies (jobs/nodes/policy.py)
    parameters: dict[str, Parameter] = field(default_factory=dict)  # live parameters (jobs/lang/parameters.py)

    @property
    def directory(self) -> Path:
        return Path(self.file).parent

    @property
    def max_out_of_orderness_ms(self) -> int:
        """The largest out_of_orderness of the sources: the bound of a run that merges them into one stream
        (file runs, the in-process harness)."""
        return max((s.out_of_orderness_ms for s in self.sources.values()), default=0)

    def reference_file(self, reference: Reference) -> Path:
        """The file a reference's `file:` names, which must exist inside the scenario's directory tree."""
        return file_in_tree(self.directory, reference.file or "", f"give another file with --reference "
                            f"{reference.name}=FILE")


FIELD_SPEC_KEYS = {"type", "pii"}


def _schema(raw: object, loc: Location, errors: Collector, what: str, pii: set[str] | None = None) -> RecordType | None:
    if not isinstance(raw, YMap) or not raw:
        errors.error(loc, f"the schema of {what} must be a mapping of field names to types")
        return None
    fields: dict[str, Type] = {}
    for name, spec in raw.items():
        # `{type: T, pii: true}`: a field holding personal data (masked in outputs; issue 11, [multi])
        if (pii is not None and isinstance(spec, dict) and isinstance(spec.get("type"), str)
                and set(spec) <= FIELD_SPEC_KEYS):
            if spec.get("pii") not in (None, True, False):
                errors.error(raw.value_loc(name), f"field '{name}' of {what}: pii must be true or false")
            elif spec.get("pii") is True:
                pii.add(name)
            spec = spec["type"]
        try:
            fields[name] = parse_type(spec)
        except TypeSpecError as exc:
            errors.error(raw.value_loc(name), f"field '{name}' of {what}: {exc}")
    return RecordType(fields)


def _field_in(schema: RecordType | None, name: str | None, loc: Location, errors: Collector, what: str) -> None:
    if schema is not None and name is not None and name not in schema.fields:
        hint = P.did_you_mean(name, list(schema.fields))
        errors.error(loc, f"{what} names field '{name}', which is not in the schema{hint}")


def _read_source(name: str, data: YMap, errors: Collector) -> Source | None:
    what = f"source '{name}'"
    v = P.read_params(data, SOURCE_PARAMS, errors, what=what)
    pii: set[str] = set()
    schema = _schema(data.get("schema"), data.value_loc("schema"), errors, what, pii)
    for f in ("key", "time", "id"):
        if f in v:
            _field_in(schema, v[f].value, v[f].loc, errors, f"'{f}' of {what}")
    if schema is None or "key" not in v or "time" not in v:
        return None
    return Source(
        name=name, kind=SourceKind(v["kind"].value), schema=schema, key=v["key"].value, time=v["time"].value,
        id=v["id"].value if "id" in v else None, out_of_orderness_ms=v["out_of_orderness"].value or 0,
        idleness_ms=v["idleness"].value or 0, topic=v["topic"].value if "topic" in v else name,
        ttl_ms=v["ttl"].value if "ttl" in v else None, loc=data.loc, pii=frozenset(pii),
    )


def _read_reference(name: str, data: YMap, errors: Collector) -> Reference | None:
    what = f"reference '{name}'"
    v = P.read_params(data, REFERENCE_PARAMS, errors, what=what)
    schema = _schema(data.get("schema"), data.value_loc("schema"), errors, what)
    if "key" in v:
        _field_in(schema, v["key"].value, v["key"].loc, errors, f"'key' of {what}")
    if schema is None or "key" not in v:
        return None
    file, file_loc = (v["file"].value, v["file"].loc) if "file" in v else (None, None)
    return Reference(name, schema, v["key"].value, file, data.loc, file_loc)


def _read_node(index: int, data: object, loc: Location, errors: Collector) -> NodeSpec | None:
    if not isinstance(data, YMap):
        errors.error(loc, "each node must be a mapping with at least 'id' and 'type'")
        return None
    node_id, node_type = data.get("id"), data.get("type")
    ok = True
    if not isinstance(node_id, str) or not P._IDENT.match(node_id):
        errors.error(data.value_loc("id") if "id" in data else data.loc,
                     "a node needs an 'id': a name of letters, digits and _ starting with a letter")
        ok = False
    if not isinstance(node_type, str):
        errors.error(data.value_loc("type") if "type" in data else data.loc, "a node needs a 'type'")
        ok = False
    raw_from = data.get("from")
    inputs: list[tuple[str, Location]] = []
    if isinstance(raw_from, str):
        inputs = [(raw_from, data.value_loc("from"))]
    elif isinstance(raw_from, YList) and all(isinstance(x, str) for x in raw_from):
        inputs = [(x, raw_from.item_loc(i)) for i, x in enumerate(raw_from)]
    elif raw_from is not None:
        errors.error(data.value_loc("from"), "'from' must be a node id, 'node.port', a source name, or a list of them")
        ok = False
    if not ok:
        return None
    return NodeSpec(node_id, node_type, inputs, data, data.loc)


def read_scenario(path: str | Path, text: str | None = None) -> Scenario:
    """Load and shape-check a scenario file; raises ScenarioError listing every problem found."""
    errors = Collector()
    root = load_yaml(path, text)
    file = str(path)
    if not isinstance(root, YMap):
        errors.error(Location(file, 1, 1), "a scenario must be a mapping with name, sources and nodes")
        errors.raise_if_any()
    v = P.read_params(root, SCENARIO_PARAMS, errors, what="the scenario")
    scenario = Scenario(
        name=v["name"].value if "name" in v else "unnamed",
        file=file,
        description=v["description"].value if "description" in v else "",
        owner=v["owner"].value if "owner" in v else "",
        version=str(v["version"].value) if "version" in v else "",
    )
    for section, reader, target in (("sources", _read_source, scenario.sources),
                                    ("references", _read_reference, scenario.references)):
        raw = root.get(section)
        if raw is None:
            continue
        if not isinstance(raw, YMap):
            errors.error(root.value_loc(section), f"'{section}' must be a mapping of names to definitions")
            continue
        for name, data in raw.items():
            if not P._IDENT.match(name):
                errors.error(raw.key_loc(name), f"'{name}' is not a valid name")
            elif not isinstance(data, YMap):
                errors.error(raw.value_loc(name), f"'{name}' must be a mapping")
            elif (item := reader(name, data, errors)) is not None:
                target[name] = item
    if "sources" in root and isinstance(root["sources"], YMap) and not root["sources"]:
        errors.error(root.value_loc("sources"), "a scenario needs at least one source")
    if "parameters" in root:
        scenario.parameters = read_parameters(root["parameters"], root.value_loc("parameters"), errors)
        for source in scenario.sources.values():  # `param` must mean one thing in an expression
            if PARAM in source.schema.fields:
                errors.error(source.loc, f"source '{source.name}' has a field '{PARAM}': with 'parameters' "
                                         f"declared, '{PARAM}' names them in expressions (rename the field)")
    if "policy" in root:
        scenario.policy = read_policy(root["policy"], root.value_loc("policy"), file, errors)
    raw_nodes = root.get("nodes")
    if raw_nodes is not None and not isinstance(raw_nodes, YList):
        errors.error(root.value_loc("nodes"), "'nodes' must be a list of nodes")
    elif isinstance(raw_nodes, YList):
        if not raw_nodes:
            errors.error(raw_nodes.loc, "a scenario needs at least one node")
        for i, data in enumerate(raw_nodes):
            node = _read_node(i, data, raw_nodes.item_loc(i), errors)
            if node is not None:
                scenario.nodes.append(node)
    errors.raise_if_any()
    return scenario
