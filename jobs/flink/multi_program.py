"""The data of a many-scenario job's operators: slots, their members, side-output tags (multi.py plans them,
multi_ops.py runs them; decision 0021)."""

from __future__ import annotations

from dataclasses import dataclass, field

from pyflink.common import Types
from pyflink.datastream import OutputTag

from jobs.compiler.program import SegmentProgram

KINDS = {"action": "actions", "detected": "detected", "dead": "dead_letter"}
_KIND_OF = {name: kind for kind, name in KINDS.items()}
CONTROL = "__control__"  # the input id of the control topic's lines (jobs/flink/control.py)
ERASE = -1  # "scenario index" of an erase request in an envelope bundle: every scenario of the slot


JOINED = -1  # side_tag index of the joined outputs of all scenarios (file runs: one record per kind and input)
MIN_TS = -(2**63)


_TAGS: dict[tuple[str, int], OutputTag] = {}  # immutable tag objects, made once per (kind, scenario)


def side_tag(kind: str, scenario_index: int) -> OutputTag:
    """The side output of one scenario's actions / detected / dead_letter (kind: the outputs.py kind)."""
    tag = _TAGS.get((kind, scenario_index))
    if tag is None:
        tag = _TAGS[(kind, scenario_index)] = OutputTag(f"{KINDS.get(kind, kind)}-{scenario_index}", Types.STRING())
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
