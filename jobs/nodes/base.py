"""What every node type is made of: a typed parameter list, a compile step and a runtime object.

A node type file (filter.py, aggregate.py, ...) declares:
  * `PARAMS`: its parameters (drive YAML checking, the JSON Schema and the docs),
  * `compile(spec, params, env, cc) -> Compiled`: type-checks its expressions against the fields and
    variables that reach it (`env`) and says what leaves it on each output port,
  * a runtime class with `process(ctx, ts, rt)` (and, for stateful nodes, `on_timer` / `on_changelog`).

Runtime objects are plain picklable Python: PyFlink ships them to the workers, and the in-process test
harness runs the very same objects. They never hold state themselves: state goes through `rt` (see
jobs.runtime.services), which is Flink keyed state in a job.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from jobs.lang.errors import Collector, Location
from jobs.lang.expr import CompiledExpr, ExprError, compile_expression
from jobs.lang.loader import YMap
from jobs.lang.model import NodeSpec, Reference, Scenario, Source
from jobs.lang.params import Param, Value
from jobs.lang.types import BOOL, Type

Env = dict[str, Type]  # the fields and variables visible at a point of the graph, with their types
Ctx = dict[str, Any]  # one event's values as it flows: fields, variables, and _-prefixed metadata
Emission = tuple[str, Ctx]  # (output port, context) produced by a node

DEFAULT_PORT = "out"


class Output(StrEnum):
    """What leaves the graph besides the ports (`rt.emit(kind, record)`), under the one name it has everywhere a
    user sees it: the files actions.jsonl / detected.jsonl / dead_letter.jsonl, the keys of a tests file's
    `expect`, the totals of `kairos test --json`, the `dead_letter` counter."""

    ACTIONS = "actions"
    DETECTED = "detected"
    DEAD_LETTER = "dead_letter"
    # Kafka runs only: a shared policy's history snapshots for the contacts topic (jobs/flink/contacts_io.py);
    # only emitted once the Kafka path turned publishing on, so never in files, tests or their totals
    CONTACTS = "contacts"

    @classmethod
    def _missing_(cls, value: object) -> Output | None:
        return _OUTPUT_ALIASES.get(value)  # type: ignore[arg-type]


# the names nodes passed to rt.emit before issue 14 ("action", "dead"): still accepted, so nodes written
# against the older contract keep working; every consumer reads kinds through `output_kind`
_OUTPUT_ALIASES = {"action": Output.ACTIONS, "dead": Output.DEAD_LETTER}
OUTPUT_KINDS: dict[str, Output] = {**{o.value: o for o in Output}, **_OUTPUT_ALIASES}


def output_kind(kind: str) -> Output:
    """The Output an emitted kind means (old names included): a dict lookup, cheap on the hot path."""
    return OUTPUT_KINDS[kind]


# the changelog route of the contacts topic into the operators of a shared policy (source names start with a letter)
CONTACTS_SOURCE = "_contacts"


class StateKind(StrEnum):
    VALUE = "value"  # ValueState
    MAP = "map"  # MapState


class Runtime(Protocol):
    """Services a running node may use: keyed state, timers, outputs. Implemented by Flink and by the harness."""

    scenario: str

    def value_state(self, node_id: str, name: str) -> Any: ...
    def map_state(self, node_id: str, name: str) -> Any: ...
    def register_timer(self, ts: int) -> None: ...
    def watermark(self, ctx: Ctx | None = None) -> int: ...
    def current_key(self) -> str: ...
    def emit(self, kind: Output | str, record: dict) -> None: ...


@dataclass(frozen=True)
class StateSpec:
    """A piece of keyed state a node needs: declared up front so the operator can create descriptors."""

    node_id: str
    name: str
    kind: StateKind  # a plain "value" / "map" works too (StrEnum compares equal)
    ttl_ms: int | None = None


@dataclass
class NodeRuntime:
    """Base of runtime objects. Stateless nodes only implement `process`."""

    id: str

    def process(self, ctx: Ctx, ts: int, rt: Runtime) -> Iterable[Emission]:
        raise NotImplementedError

    def on_timer(self, ts: int, rt: Runtime) -> Iterator[Emission]:
        return iter(())

    def on_changelog(self, source: str, ctx: Ctx, ts: int, rt: Runtime) -> None:
        return None

    def state_specs(self) -> list[StateSpec]:
        return []

    # -- what the engine around a node needs to know, asked of the node: nothing outside jobs/nodes/ tests for
    #    a node's class or reads its fields. The defaults say "none", so a node only overrides what it has.
    def tables(self) -> tuple[str, ...]:
        """Reference tables whose rows the node needs bound (`bind_table`) before the job is built."""
        return ()

    def bind_table(self, table: str, rows: dict[str, dict]) -> None:
        """Receive a reference table's rows (by key, as text): read-only data shipped with the job."""
        raise TypeError(f"node '{self.id}' reads no reference table")

    def channels(self) -> tuple[str, ...]:
        """Action channels the node writes to (one Kafka topic each)."""
        return ()

    def timed_changelogs(self) -> tuple[str, ...]:
        """Changelog sources the node joins in event time: an update at or before the watermark is late (a
        dead letter), because whether the events already released saw it would depend on timing."""
        return ()

    def shared_policy(self) -> str | None:
        """The shared contact policy the node applies (its policy file's identity): on Kafka its history is
        exchanged with other jobs through the contacts topic (jobs/flink/contacts_io.py), arriving as
        `on_changelog(CONTACTS_SOURCE, ...)`."""
        return None

    def publish_contacts(self, origin: str) -> None:
        """Kafka runs: emit an Output.CONTACTS snapshot under `origin` after each sent contact."""
        raise TypeError(f"node '{self.id}' applies no shared contact policy")


@dataclass
class PassThrough(NodeRuntime):
    """Passes each event on, unchanged, on its default port (split and union: the graph does their work)."""

    def process(self, ctx: Ctx, ts: int, rt: Runtime) -> Iterable[Emission]:
        return ((DEFAULT_PORT, ctx),)


@dataclass
class Compiled:
    """The result of compiling one node: its runtime, what flows out of each port, and how it is keyed."""

    runtime: NodeRuntime
    out_envs: dict[str, Env]
    keyed: bool = False  # needs keyed state or timers
    key: CompiledExpr | None = None  # keyed nodes: the expression that keys their state (None: the event's key)
    changelog: str | None = None  # enrich from a changelog: the source whose updates it consumes
    terminal: bool = False  # action / detected: nothing flows on
    uses_time: bool = False  # depends on watermarks (windows, event-time joins): late events are dead letters
    holds: bool = False  # may keep an event in keyed state and pass it on later (from a timer): counted "held"
    # sources whose events also reach this node besides its `from` (action cancel_if), with where they are named
    extra_sources: list[tuple[str, Location]] = field(default_factory=list)


@dataclass
class CompileContext:
    """Everything a node's compile step may consult, plus the error collector."""

    scenario: Scenario
    errors: Collector
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def sources(self) -> Mapping[str, Source]:
        return self.scenario.sources

    @property
    def references(self) -> Mapping[str, Reference]:
        return self.scenario.references

    def expr(
        self, value: Value | None, env: Env, *, expected: Type | None = None, what: str = ""
    ) -> CompiledExpr | None:
        """Compile one expression; a problem becomes a diagnostic at the exact column inside the YAML value."""
        if value is None:
            return None
        text = str(value.value)
        try:
            return compile_expression(text, env, expected=expected)
        except ExprError as exc:
            prefix = f"{what}: " if what else ""
            self.errors.error(value.loc.shifted(max(exc.offset, 0), text), f"{prefix}{exc.message}")
            return None

    def condition(self, value: Value | None, env: Env, what: str = "condition") -> CompiledExpr | None:
        return self.expr(value, env, expected=BOOL, what=what)

    def expr_map(self, raw: YMap, env: Env, what: str, *, sequential: bool = True) -> dict[str, CompiledExpr] | None:
        """Compile {name: expression}; with `sequential`, later entries may use earlier ones."""
        scope, out, ok = dict(env), {}, True
        for name, text in raw.items():
            compiled = self.expr(Value(_as_text(text), raw.value_loc(name)), scope, what=f"{what} '{name}'")
            if compiled is None:
                ok = False
                continue
            out[name] = compiled
            if sequential:
                scope[name] = compiled.type
        return out if ok else None

    def check_new_names(self, names: Iterable[tuple[str, Location]], env: Env, what: str) -> None:
        """Variables may not shadow fields or earlier variables: a name means one thing in a scenario."""
        for name, loc in names:
            if name in env:
                self.errors.error(loc, f"{what} '{name}' is already defined upstream; choose another name")
            if name.startswith("_"):
                self.errors.error(loc, f"{what} '{name}': names starting with _ are reserved")


def names(raw: Any) -> str:
    """The keys of a YAML mapping as "a, b, c" (node summaries in `kairos graph`)."""
    return ", ".join(str(k) for k in raw) if isinstance(raw, dict) else ""


def _as_text(raw: Any) -> str:
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if raw is None:
        return "null"
    return str(raw)


class Family(StrEnum):
    """Families of node types, as `kairos graph` colours them (a module's `FAMILY`; default: its TYPE)."""

    FILTER = "filter"  # filter, switch
    DECIDE = "decide"  # variables, decide, call
    ENRICH = "enrich"
    AGGREGATE = "aggregate"  # aggregate, profile, threshold, sequence, absence
    ACTION = "action"
    DETECTED = "detected"
    SPLIT = "split"  # split, union


class NodeType(Protocol):
    """What a node type module provides (see jobs/nodes/__init__.py for the registry).

    Optional, read through the registry (`jobs.nodes.summary`, `family`, `side_inputs`):
      * `summary(data) -> str`: the one thing worth reading about a node at a glance (`kairos graph`);
      * `FAMILY: Family`: how `kairos graph` colours it;
      * `side_inputs(data) -> list[(kind, name)]`: what it reads besides its `from`, drawn as side edges:
        ("changelog", source) or ("table", reference).
    """

    TYPE: str
    DOC: str
    PARAMS: list[Param]
    PORTS: tuple[str, ...]
    MULTI_INPUT: bool

    def compile(self, spec: NodeSpec, params: dict[str, Value], env: Env, cc: CompileContext) -> Compiled | None: ...
