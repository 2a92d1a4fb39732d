"""Hostile scenario files (issue 8): every one ends in `file:line:col: message`, never a traceback.

Expected positions are worked out independently of the loader: by hand in comments, or by finding a
marker in the test's own text.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from jobs.cli import main
from jobs.compiler.plan import make_plan
from jobs.compiler.validate import load
from jobs.lang.errors import ScenarioError
from jobs.lang.loader import MAX_DEPTH, MAX_FILE_BYTES, MAX_VALUES
from jobs.runtime.files import InputError, bind_references, load_reference

HEADER = """\
name: t
sources:
  tx:
    schema: {id: string, customer_id: string, amount: float, country: string, ts: timestamp}
    key: customer_id
    time: ts
"""
NODES = "nodes:\n  - {id: big, type: filter, condition: amount > 10}\n"


def errors_in(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(str(path))
    return [str(d) for d in info.value.diagnostics]


def errors_of(text: str, path: str = "s.yaml") -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load(path, text)
    return [str(d) for d in info.value.diagnostics]


def marker(text: str, word: str = "zzz", path: str = "s.yaml") -> str:
    """`path:line:col` of the first `word` in `text`, counted by hand (lines split on \\n only)."""
    before = text[: text.index(word)]
    return f"{path}:{before.count(chr(10)) + 1}:{len(before) - (before.rfind(chr(10)) + 1) + 1}"


def billion_laughs(levels: int = 9) -> str:
    text = 'l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]\n'
    for i in range(1, levels):
        text += f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n"
    return text


# -- unbounded work: alias bombs, nesting ------------------------------------------------------------
def test_alias_bomb_is_refused_at_the_alias_that_crosses_the_limit():
    assert MAX_VALUES == 50_000  # the arithmetic below is worked out for it
    text = billion_laughs()
    # values (keys included): line 1 holds 1 + 1 + 9 = 11; a list of 9 aliases of a value of v values is
    # 1 + 9v: l1 = 91, l2 = 820, l3 = 7381, so lines 1-4 hold 11 + 92 + 821 + 7382 = 8306. Line 5 adds its key
    # (its list counts once closed), then each *l3 adds 7381: the 6th makes 52,593 > 50,000. "l4: &l4 [" is 9
    # characters and each "*l3, " 5: that alias is at column 10 + 5 * 5 = 35. Nothing has been expanded.
    assert len(text) < 800
    [error] = errors_of(text)
    assert error.startswith("s.yaml:5:35: the file expands to more than 50,000 values")


def test_wide_alias_use_counts_the_whole_file():
    assert MAX_VALUES == 50_000
    # no single value is big (each *a is 10,001 values) but together they are
    text = "a: &a [" + ", ".join(["0"] * 10_000) + "]\n" + "".join(f"k{i}: *a\n" for i in range(20))
    # line 1: 2 + 10,000 values; each k line 1 + 10,001: with line 5's key 4 * 10,002 + 1, its alias makes 50,010
    [error] = errors_of(text)
    assert error.startswith("s.yaml:5:5: the file expands to more than 50,000 values")


def test_an_alias_cannot_be_smuggled_in_as_a_mapping_key():
    text = "a: &a [x, y]\n? *a\n: 1\n"
    assert errors_of(text) == ["s.yaml:1:4: mapping keys must be plain names"]  # where the aliased value is


def test_reuse_of_an_anchor_within_the_limit_is_fine():
    text = HEADER.replace("schema: {id", "schema: &tx {id") + "  again:\n    schema: *tx\n    key: id\n    time: ts\n"
    graph = load("s.yaml", text + "nodes:\n  - {id: big, type: filter, from: tx, condition: amount > 10}\n")
    assert graph.scenario.sources["again"].schema == graph.scenario.sources["tx"].schema


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 5000])
def test_deep_flow_nesting_is_refused_at_the_first_value_too_deep(depth):
    # the root mapping is level 1, the first '[' (column 4) level 2: the '[' at level MAX_DEPTH + 1 is refused
    text = "a: " + "[" * depth + "]" * depth + "\n"
    assert errors_of(text) == [f"s.yaml:1:{3 + MAX_DEPTH}: values are nested more than {MAX_DEPTH} deep"]


def test_deep_block_nesting_is_refused():
    text = "".join(" " * i + f"k{i}:\n" for i in range(200)) + " " * 200 + "v\n"
    # the mapping starting on line n (column n) is level n; its key there is level n + 1: the first value at
    # level MAX_DEPTH + 1 is the key on line MAX_DEPTH
    [error] = errors_of(text)
    assert error == f"s.yaml:{MAX_DEPTH}:{MAX_DEPTH}: values are nested more than {MAX_DEPTH} deep"


def test_nesting_through_aliases_counts_the_expanded_depth():
    half = MAX_DEPTH // 2 + 1
    text = "a: &a " + "[" * half + "1" + "]" * half + "\nb: " + "[" * half + "*a" + "]" * half + "\n"
    [error] = errors_of(text)
    assert error == f"s.yaml:2:{4 + half}: values are nested more than {MAX_DEPTH} deep (aliases are expanded where they are used)"  # noqa: E501


@pytest.mark.parametrize("text, where", [
    ("a: &x [*x]\n", "1:8"),
    ("a: &x {b: [1, {c: *x}]}\n", "1:19"),
])
def test_self_referencing_anchor(text, where):
    assert errors_of(text) == [f"s.yaml:{where}: alias *x is used inside the value it names: a value cannot "
                               "contain itself"]


def test_file_size_is_bounded(tmp_path):
    path = tmp_path / "big.yaml"
    path.write_bytes(b"# " + b"x" * MAX_FILE_BYTES + b"\n")
    assert errors_in(path) == [f"{path}:1:1: the file is larger than {MAX_FILE_BYTES:,} bytes"]


def test_many_values_without_aliases_are_bounded():
    text = "a: [" + ", ".join(["0"] * (MAX_VALUES + 10)) + "]\n"
    [error] = errors_of(text)
    assert f"the file expands to more than {MAX_VALUES:,} values" in error


# -- files that are not UTF-8 text ---------------------------------------------------------------------
def test_latin1_file_says_where_and_what(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes((HEADER + "description: caf\xe9 cr\xe8me\n" + NODES).encode("latin-1"))
    # line 7, "description: caf" is 16 characters: the byte is column 17
    assert errors_in(path) == [f"{path}:7:17: byte 0xE9 is not valid UTF-8 (Latin-1 or Windows-1252 text, "
                               "where it means 'é'?): save the file as UTF-8"]


def test_column_of_a_bad_byte_counts_characters_not_bytes(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes("description: żółw ".encode() + b"\xff\n")
    assert errors_in(path)[0].startswith(f"{path}:1:19: byte 0xFF is not valid UTF-8")


@pytest.mark.parametrize("encoding, found", [("utf-16", "UTF-16 (little-endian)"), ("utf-16-be", None),
                                             ("utf-32", "UTF-32 (little-endian)")])
def test_utf16_and_utf32_files(tmp_path, encoding, found):
    path = tmp_path / "s.yaml"
    data = (HEADER + NODES).encode(encoding)
    if encoding == "utf-16-be":
        path.write_bytes(data)  # no byte order mark: the first NUL is byte 0, line 1, column 1
        assert errors_in(path) == [f"{path}:1:1: the file looks like UTF-16 text without a byte order mark; "
                                   "kairos reads UTF-8"]
        return
    path.write_bytes(data)
    assert errors_in(path) == [f"{path}:1:1: the file is {found} text (it starts with a byte order mark); "
                               f"kairos reads UTF-8: convert it, e.g. iconv -f {found[:6]} -t UTF-8"]


def test_nul_byte(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes((HEADER + "description: a\x00b\n" + NODES).encode())
    assert errors_in(path) == [f"{path}:7:15: a NUL byte: this is a binary file, not YAML text"]


def test_binary_file(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(1, 256)) * 4)
    # byte 10 (\n) is at index 7 + 9 = 16; the first byte UTF-8 refuses, 0x80, at 7 + 127 = 134: line 2,
    # 134 - 17 = 117 characters into it
    assert errors_in(path) == [f"{path}:2:118: byte 0x80 is not valid UTF-8 (binary data): save the file as UTF-8"]


def test_control_character_in_text():
    text = HEADER + "description: bell\x07\n" + NODES
    assert errors_of(text) == ["s.yaml:7:18: character U+0007 is not allowed in YAML text"]


def test_nul_in_given_text():
    assert errors_of("name: a\x00\n") == ["s.yaml:1:8: character NUL is not allowed in YAML text"]


def test_utf8_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + (HEADER + NODES).encode())
    assert load(str(path)).order == ["big"]


def test_lone_surrogate_escape():
    text = HEADER + 'description: "a\\ud800"\n' + NODES
    assert errors_of(text) == ["s.yaml:7:14: a lone surrogate escape (\\ud800-\\udfff) is not text"]


@pytest.mark.parametrize("value, fragment", [
    ("!!int x", "cannot read 'x' as int: invalid literal"),
    ("!!bool maybe", "cannot read 'maybe' as bool: 'maybe'"),
    ("!!float abc", "cannot read 'abc' as float"),
    ("9" * 5000, "cannot read '999999999999999999999999999999...' as int: Exceeds the limit (4300 digits)"),
    ("!!binary abc", "cannot read this value: failed to decode base64 data: Incorrect padding"),
    ("!!python/object/apply:os.system [echo]", "YAML tags are not used in scenarios: "
                                              "tag:yaml.org,2002:python/object/apply:os.system"),
    ("!!python/name:os.system ''", "YAML tags are not used in scenarios: tag:yaml.org,2002:python/name:os.system"),
    ("!custom {a: 1}", "YAML tags are not used in scenarios: !custom"),
])
def test_scalars_pyyaml_cannot_build(value, fragment):
    [error] = errors_of(HEADER + f"description: {value}\n" + NODES)
    assert error.startswith("s.yaml:7:14: " + fragment)


# -- every validation failure has a position -------------------------------------------------------------
def source(extra: str) -> str:
    return HEADER.replace("    time: ts\n", "    time: ts\n" + textwrap.indent(extra, "    "))


@pytest.mark.parametrize("extra, expected", [
    ("out_of_orderness: 10 parsecs\n", "s.yaml:7:23: 'out_of_orderness' in source 'tx' must be a duration like "
                                       "500ms, 5s, 10m, 2h or 1d, not '10 parsecs'"),
    ("idleness: [1, 2]\n", "s.yaml:7:15: 'idleness' in source 'tx' must be a duration like 500ms, 5s, 10m, 2h "
                           "or 1d, not [1, 2]"),
    ("kind: stream\n", "s.yaml:7:11: 'kind' in source 'tx' must be one of events, changelog, not 'stream'"),
    ("out_of_orderness: 99999999d\n", "s.yaml:7:23: 'out_of_orderness' in source 'tx' must be at most 36500d"),
    ("out_of_orderness: ５s\n", "s.yaml:7:23: 'out_of_orderness' in source 'tx' must be a duration"),
])
def test_malformed_source_fields(extra, expected):
    assert errors_of(source(extra) + NODES)[0].startswith(expected)


def test_malformed_node_fields_report_positions():
    text = HEADER + textwrap.dedent("""\
        nodes:
          - {id: agg, from: tx, type: aggregate, window: tumbling, size: 10 parsecs, emit: sometimes,
             aggregations: {n: count()}}
          - {id: e, from: tx, type: enrich, changelog: nothing, as: x, mode: fast}
          - {id: a, from: tx, type: action, channel: 5, payload: {x: "1"}}
          - {id: s, from: tx, type: switch, cases: null}
        """)
    assert errors_of(text) == [
        f"{marker(text, '10 parsecs')}: 'size' in aggregate node 'agg' must be a duration like 500ms, 5s, 10m, 2h "
        "or 1d, not '10 parsecs'",
        f"{marker(text, 'sometimes')}: 'emit' in aggregate node 'agg' must be one of on_event, on_close, not "
        "'sometimes'",
        f"{marker(text, 'nothing')}: 'nothing' is not a changelog source",
        f"{marker(text, 'fast')}: 'mode' in enrich node 'e' must be one of latest, event_time, not 'fast' (did you "
        "mean 'latest'?)",
        f"{marker(text, '5, payload')}: 'channel' in action node 'a' must be a name (letters, digits, _; starts "
        "with a letter), not 5",
        f"{marker(text, 'null')}: 'cases' in switch node 's' is empty: The ordered cases: each a name (the port) "
        "and a condition.",
    ]


def test_a_node_type_that_crashes_is_a_positioned_internal_error(monkeypatch):
    from jobs.nodes import filter as filter_node

    def broken(spec, params, env, cc):
        raise KeyError("oops")

    monkeypatch.setattr(filter_node, "compile", broken)
    assert errors_of(HEADER + NODES) == [
        "s.yaml:8:5: internal error while checking filter node 'big' (KeyError: 'oops'); please report it"]


# -- positions inside folded, multi-line and escaped scalars ------------------------------------------------
CONDITIONS = {
    "folded": "condition: >\n      amount > 1 and\n      country = 'PL' and zzz\n",
    "folded_blank_line": "condition: >-\n      amount > 1\n\n      and zzz\n",
    "literal": "condition: |\n      amount > 1 and\n      zzz\n",
    "plain_multiline": "condition: amount > 1\n      and zzz\n",
    "double_newline_escape": 'condition: "amount > 1 and\\n zzz"\n',
    "double_escapes": 'condition: "\\x61mount > \\u0031 and\\tzzz"\n',
    "double_multiline": 'condition: "amount > 1\n      and zzz"\n',
    "double_escaped_break": 'condition: "amount > 1 and \\\n      zzz"\n',
    "single_quotes": "condition: 'country != ''x'' and\n      zzz'\n",
}


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_expression_error_inside_a_scalar_points_at_the_word(name):
    text = HEADER + "nodes:\n  - id: f\n    type: filter\n    " + CONDITIONS[name]
    [error] = errors_of(text)
    assert error.startswith(f"{marker(text)}: condition: unknown name 'zzz'")


def test_windows_line_endings():
    text = (HEADER + "nodes:\n  - id: f\n    type: filter\n    condition: >\n      amount > 1 and\n      zzz\n")
    [error] = errors_of(text.replace("\n", "\r\n"))
    assert error.startswith(f"{marker(text)}: condition: unknown name 'zzz'")


def test_offsets_inside_an_aggregation_argument_of_a_folded_scalar():
    text = HEADER + textwrap.dedent("""\
        nodes:
          - id: agg
            type: aggregate
            window: tumbling
            size: 1m
            aggregations:
              total: >
                sum(amount +
                    zzz)
        """)
    [error] = errors_of(text)
    assert error.startswith(f"{marker(text)}: aggregate 'total': unknown name 'zzz'")


def test_a_scalar_the_loader_cannot_map_reports_its_start():
    # an explicit indentation indicator with deeper content is not modelled: the scalar's first line is given
    text = HEADER + "nodes:\n  - id: f\n    type: filter\n    condition: |2\n        amount > 1 and\n        zzz\n"
    [error] = errors_of(text)
    assert error.startswith("s.yaml:11:") and "unknown name 'zzz'" in error


# -- call reaches exported functions only ----------------------------------------------------------------------
@pytest.mark.parametrize("function, fragment", [
    ("examples.__class__", "write module.function, with names of letters, digits and _ not starting with _"),
    ("examples._COUNTRY_RISK", "not starting with _"),
    ("examples.risk_score.__globals__", "not starting with _"),
    ("examples.annotations", "udfs.examples does not export 'annotations' (it exports: risk_score;"),
    ("examples.export", "udfs.examples does not export 'export'"),
    ("aggregators.Callable", "udfs.aggregators does not export 'Callable' (it exports no function;"),
    ("aggregators.AGGREGATORS", "does not export 'AGGREGATORS'"),
    ("os.system", "there is no module udfs/os.py"),
    ("__init__.export", "not starting with _"),
    ("promotions.loyalty_point", "(did you mean 'loyalty_points'?)"),
])
def test_call_reaches_only_exported_functions(function, fragment):
    text = HEADER + f"nodes:\n  - {{id: c, type: call, function: {function}, as: r}}\n"
    [error] = errors_of(text)
    assert error.startswith(f"s.yaml:8:35: cannot call '{function}': ") and fragment in error


def test_an_exported_function_can_be_called():
    text = HEADER + "nodes:\n  - {id: c, type: call, function: examples.risk_score, as: r,\n" \
                    "     args: {amount: amount, country: country}, returns: float}\n"
    assert load("s.yaml", text).order == ["c"]


# -- reference files stay inside the scenario's directory --------------------------------------------------------
def reference_scenario(tmp_path: Path, file: str) -> Path:
    (tmp_path / "scenario").mkdir(exist_ok=True)
    path = tmp_path / "scenario" / "s.yaml"
    path.write_text(HEADER + textwrap.dedent(f"""\
        references:
          countries:
            schema: {{code: string, risk: int}}
            key: code
            file: {file}
        nodes:
          - {{id: e, type: enrich, table: countries, key: country, as: origin}}
          - {{id: d, type: detected}}
        """), encoding="utf-8")
    return path


@pytest.fixture
def tables(tmp_path):
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "creds.csv").write_text("code,risk\nPL,1\n", encoding="utf-8")
    (tmp_path / "scenario" / "data").mkdir(parents=True)
    (tmp_path / "scenario" / "data" / "countries.csv").write_text("code,risk\nPL,2\n", encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("file, fragment", [
    ("../outside/creds.csv", "'../outside/creds.csv' is outside the scenario's directory"),
    ("data/../../outside/creds.csv", "is outside the scenario's directory"),
    ("/etc/passwd", "'/etc/passwd' is an absolute path: write it relative to the scenario file"),
    ("missing.csv", "no such file: 'missing.csv'"),
    ("data", "no such file: 'data'"),
    ('"a\\0b.csv"', "cannot use 'a\\x00b.csv' as a file name"),
])
def test_reference_file_outside_or_missing(tables, file, fragment):
    path = reference_scenario(tables, file)
    [error] = errors_in(path)
    where = marker(path.read_text(encoding="utf-8"), file.strip('"'), str(path))  # inside the quotes if quoted
    assert error.startswith(f"{where}: reference 'countries': ") and fragment in error


def test_reference_through_a_symlink_out_of_the_tree(tables):
    (tables / "scenario" / "data" / "link.csv").symlink_to(tables / "outside" / "creds.csv")
    path = reference_scenario(tables, "data/link.csv")
    [error] = errors_in(path)
    assert error.startswith(f"{path}:11:11: reference 'countries': 'data/link.csv' is outside")


def test_reference_inside_the_tree_is_read(tables):
    plan = make_plan(load(str(reference_scenario(tables, "data/countries.csv"))))
    bind_references(plan, {})
    assert plan.runtimes["e"].rows == {"PL": {"code": "PL", "risk": 2}}


def test_validate_reports_a_missing_reference_file(tables, capsys):
    path = reference_scenario(tables, "missing.csv")
    assert main(["validate", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"{path}:11:11: reference 'countries': no such file: 'missing.csv'")


def test_a_file_given_on_the_command_line_may_stand_in_for_a_missing_one(tables, capsys):
    path = reference_scenario(tables, "missing.csv")
    events = tables / "events.jsonl"
    events.write_text('{"id": "1", "customer_id": "c", "amount": 1.0, "country": "PL", "ts": 1}\n', encoding="utf-8")
    given = f"countries={tables / 'outside' / 'creds.csv'}"  # the user's choice: any file they can read
    assert main(["test", str(path), "--events", str(events), "--reference", given, "--json"]) == 0
    assert '"risk": 1' in capsys.readouterr().out


def test_a_file_given_on_the_command_line_does_not_excuse_an_outside_path(tables, capsys):
    path = reference_scenario(tables, "../outside/creds.csv")
    events = tables / "events.jsonl"
    events.write_text("", encoding="utf-8")
    given = f"countries={tables / 'scenario' / 'data' / 'countries.csv'}"
    assert main(["test", str(path), "--events", str(events), "--reference", given]) == 1
    assert "is outside the scenario's directory" in capsys.readouterr().err


def test_bind_references_checks_the_scenario_file_again(tables):
    plan = make_plan(load(str(reference_scenario(tables, "data/countries.csv"))))
    plan.scenario.references["countries"].file = "../outside/creds.csv"  # e.g. a plan built some other way
    with pytest.raises(InputError, match="is outside the scenario's directory"):
        bind_references(plan, {})


@pytest.mark.parametrize("content, fragment", [
    (b"code,risk\nPL,\xe9\n", ":2: byte 0xE9 is not valid UTF-8"),
    (b"code,risk\nPL,many\n", ":2: "),
    (b"code,risk\n,1\n", ":2: reference 'countries' row without key 'code'"),
])
def test_load_reference_reports_bad_files_as_input_errors(tables, content, fragment):
    plan = make_plan(load(str(reference_scenario(tables, "data/countries.csv"))))
    bad = tables / "bad.csv"
    bad.write_bytes(content)
    with pytest.raises(InputError) as info:
        load_reference(plan.scenario.references["countries"], bad)
    assert str(bad) in str(info.value) and fragment in str(info.value)


def _escaped(text: str, rng) -> str:
    """Double-quoted YAML for `text`: some characters as \\x or \\u escapes, some spaces as escaped breaks."""
    out = []
    for ch in text:
        roll = rng.random()
        if ch == "'" or ch == "z" or roll > 0.3:
            out.append(ch)
        elif ch == " " and roll < 0.1:
            out.append(" \\\n      ")  # an escaped line break: the space before it stays, the indent goes
        elif roll < 0.2:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return '"' + "".join(out) + '"'


def _broken_lines(text: str, rng, indent: str) -> str:
    """`text` with some spaces turned into line breaks (each folds back to one space)."""
    return "".join(f"\n{indent}" if ch == " " and rng.random() < 0.3 else ch for ch in text)


@pytest.mark.parametrize("seed", range(60))
def test_positions_inside_random_scalar_layouts(seed):
    import random

    rng = random.Random(seed)
    words = ["amount > 1", "country = 'PL'", "id != 'x y'", "zzz > 2", "customer_id is not null"]
    rng.shuffle(words)
    expression = f" {rng.choice(['and', 'or'])} ".join(words)
    style = rng.choice(["plain", "single", "double", "folded", "literal"])
    if style == "plain":
        value = _broken_lines(expression, rng, "      ")
    elif style == "single":
        value = "'" + _broken_lines(expression.replace("'", "''"), rng, "      ") + "'"
    elif style == "double":
        value = _escaped(expression, rng)
    else:
        value = (">" if style == "folded" else "|") + rng.choice(["", "-", "+"]) + "\n      " + \
            _broken_lines(expression, rng, "      ")
    text = HEADER + "nodes:\n  - id: f\n    type: filter\n    condition: " + value + "\n"
    crlf = rng.random() < 0.2
    [error] = errors_of(text.replace("\n", "\r\n") if crlf else text)
    assert error.startswith(f"{marker(text)}: condition: unknown name 'zzz'"), (style, crlf, value)
