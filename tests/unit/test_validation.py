"""Every class of scenario error is reported as file:line:col: message, all at once, never a traceback."""

from __future__ import annotations

import textwrap

import pytest

from jobs.cli import main
from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError

HEADER = """\
name: t
sources:
  tx:
    schema: {id: string, customer_id: string, amount: float, country: string, ts: timestamp}
    key: customer_id
    time: ts
"""


def errors_of(body: str, header: str = HEADER) -> list[str]:
    text = header + textwrap.dedent(body)
    with pytest.raises(ScenarioError) as info:
        load("s.yaml", text)
    return [str(d) for d in info.value.diagnostics]


def test_valid_scenario_loads():
    graph = load("s.yaml", HEADER + "nodes:\n  - {id: big, type: filter, condition: amount > 10}\n")
    assert graph.order == ["big"]


def test_unknown_field_with_suggestion():
    assert errors_of("""\
        nodes:
          - id: big
            type: filter
            conditon: amount > 10
        """) == [
        "s.yaml:8:5: filter node 'big' needs 'condition': A bool expression, e.g. amount > 100 and country != 'PL'.",
        "s.yaml:10:5: unknown field 'conditon' in filter node 'big' (did you mean 'condition'?)",
    ]


def test_type_mismatch_points_into_the_expression():
    assert errors_of("""\
        nodes:
          - id: big
            type: filter
            condition: amount > 'ten'
        """) == ["s.yaml:10:23: condition: cannot compare float with string"]


def test_condition_must_be_bool():
    [error] = errors_of("nodes:\n  - {id: f, type: filter, condition: amount + 1}\n")
    assert error == "s.yaml:8:38: condition: condition must be bool, got float"


def test_unknown_name_in_expression():
    [error] = errors_of("nodes:\n  - {id: f, type: filter, condition: amout > 1}\n")
    assert error == "s.yaml:8:38: condition: unknown name 'amout' (did you mean 'amount'?)"


def test_unknown_node_reference():
    assert errors_of("""\
        nodes:
          - {id: a, type: filter, condition: amount > 1}
          - {id: b, type: detected, from: aa}
        """) == ["s.yaml:9:35: unknown node or source 'aa' (did you mean 'a'?)"]


def test_unknown_node_type():
    assert errors_of("nodes:\n  - {id: a, type: filtre, condition: amount > 1}\n") == [
        "s.yaml:8:19: unknown node type 'filtre' (did you mean 'filter'?)"
    ]


def test_cycle_and_unreachable():
    errors = errors_of("""\
        nodes:
          - {id: a, type: union, from: [tx, c]}
          - {id: b, type: filter, from: a, condition: amount > 1}
          - {id: c, type: filter, from: b, condition: amount > 2}
          - {id: d, type: detected, from: c.false}
        """)
    assert "s.yaml:8:5: node 'a' is part of a cycle (it reads from c)" in errors
    assert "s.yaml:9:5: node 'b' is part of a cycle (it reads from a)" in errors
    assert "s.yaml:11:5: node 'd' is unreachable: no event can reach c" in errors


def test_bad_duration():
    [error] = errors_of("""\
        nodes:
          - id: w
            type: aggregate
            window: tumbling
            size: 10 minutes
            aggregations: {n: count()}
        """)
    assert error == "s.yaml:11:11: 'size' in aggregate node 'w' must be a duration like 500ms, 5s, 10m, 2h or 1d, " \
                    "not '10 minutes'"


def test_unknown_port_and_terminal_output():
    errors = errors_of("""\
        nodes:
          - {id: a, type: filter, condition: amount > 1}
          - {id: b, type: detected, from: a.maybe}
          - {id: c, type: detected, from: tx}
          - {id: d, type: detected, from: c}
        """)
    assert "s.yaml:9:35: node 'a' has no port 'maybe' (ports: out, false)" in errors
    assert "s.yaml:11:35: 'c' is a detected node: nothing flows out" in errors


def test_many_errors_reported_at_once_in_file_order():
    errors = errors_of("""\
        nodes:
          - {id: a, type: filter, condition: amount >}
          - {id: b, type: variables, from: tx, set: {amount: 1}}
          - {id: c, type: action, from: tx, channel: sms, payload: {x: nope}}
        """)
    assert len(errors) == 3
    assert [e.split(":")[1] for e in errors] == ["8", "9", "10"]
    assert "already defined upstream" in errors[1]


def test_yaml_syntax_error_has_position():
    with pytest.raises(ScenarioError) as info:
        load("s.yaml", "name: t\nsources: {a: [1, 2}\n")
    assert str(info.value.diagnostics[0]).startswith("s.yaml:2:")


def test_source_problems():
    errors = errors_of("nodes: [{id: a, type: detected}]\n", header="""\
name: t
sources:
  tx:
    schema: {id: strin, ts: timestamp}
    key: customer
    time: ts
""")
    assert "s.yaml:4:18: field 'id' of source 'tx': unknown type 'strin'" in errors[0]
    assert errors[1] == "s.yaml:5:10: 'key' of source 'tx' names field 'customer', which is not in the schema"


@pytest.mark.parametrize("expression", [
    "__import__('os')", "amount.__class__", "_private > 1", "open('/etc/passwd')", "lambda: 1",
    "9**9**9", "(" * 5000 + "1" + ")" * 5000,
])
def test_escape_attempts_in_a_scenario_are_validation_errors(expression):
    body = "nodes:\n  - id: v\n    type: variables\n    set:\n      x: " + repr(expression) + "\n"
    errors = errors_of(body)
    assert errors and all(e.startswith("s.yaml:") for e in errors)


def test_cli_validate_exit_codes(tmp_path, capsys):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(HEADER + "nodes:\n  - {id: a, type: filter, condition: amount > 1}\n")
    bad.write_text(HEADER + "nodes:\n  - {id: a, type: filter, condition: amount > }\n")
    assert main(["validate", str(good)]) == 0
    assert main(["validate", str(good), str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:8:") and "Traceback" not in err
