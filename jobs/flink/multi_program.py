"""The data of a many-scenario job's operators: slots, their members, side-output tags (multi.py plans them,
multi_ops.py runs them; decision 0021)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyflink.common import Types
from pyflink.datastream import OutputTag

from jobs.compiler.program import SegmentProgram
from jobs.nodes.base import Output, output_kind
from jobs.runtime.decode import MIN_TS  # noqa: F401 - multi_ops imports it from here

KINDS = (Output.ACTIONS, Output.DETECTED, Output.DEAD_LETTER)  # the side outputs of each scenario
CONTROL = "__control__"  # the input id of the control topic's lines (jobs/flink/control.py)
ERASE = -1  # "scenario index" of an erase request in an envelope bundle: every scenario of the slot


JOINED = -1  # side_tag index of the joined outputs of all scenarios (file runs: one record per kind and input)


_TAGS: dict[tuple[str, int], OutputTag] = {}  # immutable tag objects, made once per (kind, scenario)


def side_tag(kind: str, scenario_index: int) -> OutputTag:
    """The side output `<Output>-<scenario index>` of one scenario's actions / detected / dead_letter (kind: an
    Output, or a name `output_kind` knows: the tag of "dead" is the tag of Output.DEAD_LETTER)."""
    tag = _TAGS.get((kind, scenario_index))  # an Output and its text are one key (StrEnum)
    if tag is None:
        out = output_kind(kind)
        tag = _TAGS.get((out, scenario_index)) or OutputTag(f"{out.value}-{scenario_index}", Types.STRING())
        _TAGS[(kind, scenario_index)] = _TAGS[(out, scenario_index)] = tag
    return tag


@dataclass
class Member:
    """One scenario's part of a slot: the segment programs it runs there (and its entry, in an entry slot)."""

    scenario_index: int
    scenario: str
    segments: list[SegmentProgram] = field(default_factory=list)
    entry: SegmentProgram | None = None
    stamp_index: int = 0  # file runs: which of the line's stamps is this scenario's watermark
    route_slot: dict[int, int] = field(default_factory=dict)  # target segment index -> slot id


@dataclass
class SlotProgram:
    slot: int
    kind: str  # "entry", "fused", "keyed" or "merge"
    members: list[Member]
    # entry / fused slots: input id -> decode groups, each [(member position, source name), ...]; the first
    # of a group decodes, the others share its ctx (identical source declarations: see multi.py)
    inputs: dict[str, list[list[tuple[int, str]]]] = field(default_factory=dict)
    counts_dir: str | None = None
    downstream: list[int] = field(default_factory=list)  # keyed / merge slots this slot feeds
