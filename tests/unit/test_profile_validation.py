"""profile and threshold: every bad parameter is a file:line:col error, all of them at once, never a traceback."""

from __future__ import annotations

import textwrap

import pytest

from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError
from jobs.lang.types import FLOAT, INT, TIMESTAMP, RecordType

HEADER = """\
name: t
sources:
  tx:
    schema: {id: string, customer_id: string, amount: float, country: string, ts: timestamp}
    key: customer_id
    time: ts
"""


def errors_of(body: str) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load("s.yaml", HEADER + textwrap.dedent(body))
    return [str(d) for d in info.value.diagnostics]


BODY = """\
nodes:
  - id: p
    type: profile
    ttl: 0s
    resolution: 7m
    colour: red
    fields:
      a: {kind: cnt}
      b: {kind: sum}
      c: {kind: rolling_count}
      d: {kind: rolling_count, window: 0s}
      e: {kind: count, window: 5m, offset: 1}
      f: {kind: sum, of: country}
      g: {kind: rolling_sum, of: amount, window: 10m}
      h: {kind: last, of: amont}
      i: 5
      9x: {kind: count}
"""


def at(text: str, line_text: str, part: str, nth: int = 0) -> str:
    """'s.yaml:LINE:COL' of `part` on the line of the whole file that contains `line_text` (found independently
    of the loader, so the expected positions are not the engine's own)."""
    lines = text.splitlines()
    row = next(i for i, line in enumerate(lines) if line_text in line)
    col, start = -1, 0
    for _ in range(nth + 1):
        col = lines[row].index(part, start)
        start = col + 1
    return f"s.yaml:{row + 1}:{col + 1}"


def test_every_field_problem_is_reported_at_its_place():
    text = HEADER + BODY
    assert errors_of(BODY) == [
        f"{at(text, 'ttl: 0s', '0s')}: 'ttl' must be longer than 0",
        f"{at(text, 'colour', 'colour')}: unknown field 'colour' in profile node 'p'",
        f"{at(text, 'cnt', 'cnt')}: 'kind' in profile field 'a' must be one of count, sum, avg, min, max, last, "
        "last_time, rolling_count, rolling_sum, not 'cnt' (did you mean 'count'?)",
        f"{at(text, 'b: {', '{')}: profile field 'b': sum needs 'of', the value it is computed from",
        f"{at(text, 'c: {', '{')}: profile field 'c': rolling_count needs 'window' (a duration like 7d)",
        f"{at(text, 'd: {', '0s')}: profile field 'd': 'window' must be longer than 0",
        f"{at(text, 'e: {', 'window')}: profile field 'e': 'window' only applies to rolling_count and rolling_sum",
        f"{at(text, 'e: {', 'offset')}: unknown field 'offset' in profile field 'e'",
        f"{at(text, 'f: {', 'country')}: profile field 'f': sum needs numbers, but 'country' is string",
        f"{at(text, 'g: {', '10m')}: profile field 'g': 'window' must be a whole number of 'resolution' (420000 ms)",
        f"{at(text, 'h: {', 'amont')}: profile field 'h' 'of': unknown name 'amont' (did you mean 'amount'?)",
        f"{at(text, 'i: 5', '5')}: profile field 'i' must be a mapping like {{kind: count, when: ...}}",
        f"{at(text, '9x', '9x')}: '9x' is not a valid name (letters, digits, _; starts with a letter)",
    ]


@pytest.mark.parametrize("body, part, error", [
    ("{id: p, type: profile, ttl: 1d, fields: {w: {kind: rolling_count, window: 2d}}}", "2d",
     "profile field 'w': 'window' is longer than the profile's 'ttl': the profile would forget events still in "
     "the window"),
    ("{id: p, type: profile, ttl: -3d, fields: {n: {kind: count}}}", "-3d",
     "'ttl' in profile node 'p' must be a duration like 500ms, 5s, 10m, 2h or 1d, not '-3d'"),
    ("{id: p, type: profile, fields: {n: {kind: count}}}", "{",
     "profile node 'p' needs 'ttl': Forget a profile not updated for this long (Flink state TTL, processing time)."),
    ("{id: p, type: profile, ttl: 1d, fields: {}}", "{}", "'fields' must be a mapping of names to {kind: ...}"),
    ("{id: p, type: profile, ttl: 1d, resolution: 0ms, fields: {w: {kind: rolling_count, window: 1d}}}", "0ms",
     "'resolution' must be longer than 0"),
    ("{id: p, type: profile, ttl: 1d, as: amount, fields: {n: {kind: count}}}", "amount",
     "profile 'amount' is already defined upstream; choose another name"),
    ("{id: p, type: profile, ttl: 1d, fields: {m: {kind: min, of: 'amount > 1'}}}", "amount",
     "profile field 'm': min needs numbers, text or times, not bool"),
    ("{id: p, type: profile, ttl: 1d, fields: {m: {kind: count, when: amount + 1}}}", "amount",
     "profile field 'm' 'when': condition must be bool, got float"),
    ("{id: p, type: profile, ttl: 1d, fields: {m: {kind: count, kind2: x}}}", "kind2",
     "unknown field 'kind2' in profile field 'm' (did you mean 'kind'?)"),
])
def test_profile_errors(body, part, error):
    text = HEADER + "nodes:\n  - " + body + "\n"
    assert errors_of("nodes:\n  - " + body + "\n") == [f"{at(text, body, part)}: {error}"]


def test_threshold_errors_all_at_once():
    body = "{id: th, type: threshold, condition: amount + 1, ttl: 0ms, when: x}"
    text = HEADER + "nodes:\n  - " + body + "\n"
    assert sorted(errors_of("nodes:\n  - " + body + "\n")) == sorted([
        f"{at(text, body, 'when')}: unknown field 'when' in threshold node 'th'",
        f"{at(text, body, '0ms')}: 'ttl' must be longer than 0",
        f"{at(text, body, 'amount')}: condition: condition must be bool, got float",
    ])
    assert errors_of("nodes:\n  - {id: th, type: threshold}\n") == [
        "s.yaml:8:5: threshold node 'th' needs 'condition': A bool expression, e.g. profile.spent_30m < 9."]


def test_fields_reach_later_nodes_with_their_types():
    graph = load("s.yaml", HEADER + textwrap.dedent("""\
        nodes:
          - id: p
            type: profile
            as: usage
            ttl: 30d
            fields:
              n: {kind: count}
              total: {kind: sum, of: amount}
              biggest: {kind: max, of: amount}
              seen: {kind: last_time}
              week: {kind: rolling_count, window: 7d}
          - {id: heavy, type: filter, condition: usage.week > 3 and usage.total > 100 and usage.seen > ts - 1000}
        """))
    env = graph.compiled["p"].out_envs["out"]
    assert env["usage"] == RecordType({"n": INT, "total": FLOAT, "biggest": FLOAT, "seen": TIMESTAMP, "week": INT})
    with pytest.raises(ScenarioError) as info:
        load("s.yaml", HEADER + "nodes:\n  - {id: p, type: profile, ttl: 1d, fields: {n: {kind: count}}}\n"
                                "  - {id: f, type: filter, condition: profile.m > 1}\n")
    assert [str(d) for d in info.value.diagnostics] == ["s.yaml:9:46: condition: record has no field 'm'"]
