"""Property: whatever bytes a scenario file holds, `kairos validate` ends with diagnostics or success.

Random YAML mutations and random byte edits of the example scenarios, plus random bytes, go through the
real command (`jobs.cli.main`). Each run must exit 0 (ok) or 1 (every stderr line `file:line:col: ...`,
none an internal error), never 3 (a crash). Time and memory are bounded structurally, by the loader's
limits; the hostile files are also run in a subprocess under hard CPU and address-space limits, so that
unbounded work would fail the test (killed, MemoryError) instead of just being slow. Seeds are fixed:
a failure names the seed that reproduces it.
"""

from __future__ import annotations

import random
import re
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from jobs.cli import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = sorted(p for p in [*REPO.glob("scenarios/*/*.yaml"), *REPO.glob("tests/e2e/scenarios/*/*.yaml")]
                  if not p.name.endswith(".tests.yaml"))
JUNK = ["", "10 parsecs", "-5s", "0ms", "99999999999d", "x" * 200, None, True, 0, -1, 1.5, float("inf"), [], {},
        [1, [2]], {"a": {"b": None}}, "amount >", "(((", "'", "examples.__class__", "promotions._TIER_MULTIPLIER",
        "../outside.csv", "/etc/passwd", "list<", "record<a: int>", "map<string>", "sum(", "count()", "tumbling",
        "on_close", "event_time", "changelog", "default", 2**70, "1d", "ts", "id", "a.b", "from", "_key"]
SNIPPETS = ["&a ", "*a", "<<: *a\n", "!!binary ", "!!python/object:os.system ", "? ", "- ", ": ", "{", "}", "[", "]",
            "'", '"', "\\n", '"\\ud800"', "\t", "\n", "\r", "\x00", "\x85", "\u2028", "\ufeff", "#", "|", ">", "|-2\n",
            "---\n", "...\n", "%YAML 1.1\n", "!!int ", "!!bool ", "9" * 5000, "1e400", ".nan", "~", "é", "[" * 100]
POSITIONED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): (?P<message>.+)$")


def _paths(doc, prefix=()):
    yield prefix
    if isinstance(doc, dict):
        for key, value in doc.items():
            yield from _paths(value, (*prefix, key))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            yield from _paths(value, (*prefix, index))


def mutate_tree(text: str, rng: random.Random) -> bytes:
    """Replace, delete or add values anywhere in the scenario's YAML tree."""
    doc = yaml.safe_load(text)
    by_depth: dict[int, list[tuple]] = {}
    for path in list(_paths(doc))[1:]:
        by_depth.setdefault(len(path), []).append(path)
    for _ in range(rng.randint(1, 3)):
        # a depth first, then a path: node fields (depth 3) are hit as often as deep leaves of schemas
        path = rng.choice(by_depth[rng.choice(list(by_depth))])
        parent = doc
        try:
            for step in path[:-1]:
                parent = parent[step]
            roll = rng.random()
            if roll < 0.7:
                parent[path[-1]] = rng.choice(JUNK)
            elif roll < 0.85 and isinstance(parent, dict):
                del parent[path[-1]]
            elif isinstance(parent, dict):
                field = rng.choice(["kind", "file", "size", "gap", "table", "rules", "window", "zzz"])
                parent[field] = rng.choice(JUNK)
        except (KeyError, IndexError, TypeError):
            pass  # the path went away with an earlier mutation
    return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """Insert YAML-significant snippets, flip bytes, cut or copy pieces of the file."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(out))
        roll = rng.random()
        if roll < 0.5:
            out[i:i] = rng.choice(SNIPPETS).encode("utf-8", "surrogatepass")
        elif roll < 0.7:
            out[i] = rng.randrange(256)
        elif roll < 0.9:
            del out[i:i + rng.randint(1, 40)]
        else:
            j = rng.randrange(len(out))
            out[i:i] = out[j:j + rng.randint(1, 200)]
    return bytes(out)


def workspace(tmp_path: Path, example: Path) -> Path:
    """A copy of the example's directory (its reference tables too), so mutations reach the node checks."""
    target = tmp_path / example.parent.name
    if not target.exists():
        shutil.copytree(example.parent, target, ignore=shutil.ignore_patterns("expected", "*.jsonl.gz"))
    return target / example.name


def check_validate(path: Path, data: bytes, capsys, seed: object) -> None:
    path.write_bytes(data)
    code = main(["validate", str(path)])
    out, err = capsys.readouterr()
    assert code in (0, 1), f"seed {seed}: exit {code}\n{err}"
    if code == 0:
        assert out.startswith(f"{path}: ok"), f"seed {seed}"
        return
    lines = err.splitlines()
    assert lines, f"seed {seed}: failed without a diagnostic"
    for line in lines:
        match = POSITIONED.match(line)
        assert match and match["file"] == str(path), f"seed {seed}: not file:line:col: {line!r}"
        assert int(match["line"]) >= 1 and int(match["col"]) >= 1, f"seed {seed}: {line!r}"
        assert "internal error" not in line, f"seed {seed}: {line!r}"


@pytest.mark.parametrize("block", range(3))
def test_random_yaml_mutations_of_the_examples(tmp_path, capsys, block):
    for seed in range(block * 30, block * 30 + 30):
        rng = random.Random(seed)
        example = rng.choice(EXAMPLES)
        check_validate(workspace(tmp_path, example), mutate_tree(example.read_text(encoding="utf-8"), rng), capsys,
                       seed)


@pytest.mark.parametrize("block", range(3))
def test_random_byte_edits_of_the_examples(tmp_path, capsys, block):
    for seed in range(1000 + block * 30, 1000 + block * 30 + 30):
        rng = random.Random(seed)
        example = rng.choice(EXAMPLES)
        check_validate(workspace(tmp_path, example), mutate_bytes(example.read_bytes(), rng), capsys, seed)


def test_random_bytes(tmp_path, capsys):
    for seed in range(2000, 2040):
        rng = random.Random(seed)
        data = bytes(rng.randrange(256) for _ in range(rng.randint(0, 3000)))
        check_validate(tmp_path / "random.yaml", data, capsys, seed)


def field_sweep() -> list[tuple[Path, tuple]]:
    """Every field of the first node of each type in the examples, and of every source and reference."""
    found, types = [], set()
    for example in EXAMPLES:
        doc = yaml.safe_load(example.read_text(encoding="utf-8"))
        for i, node in enumerate(doc["nodes"]):
            if node["type"] not in types:
                types.add(node["type"])
                found += [(example, ("nodes", i, key)) for key in node]
        for section in ("sources", "references"):
            for name, item in (doc.get(section) or {}).items():
                found += [(example, (section, name, key)) for key in item]
    return found


SWEEP = field_sweep()
BROKEN = [None, {"a": 1}]  # and deleted: a missing field, an empty one, one of the wrong shape


def test_the_sweep_covers_every_node_type():
    from jobs.nodes import NODE_TYPES

    swept = {yaml.safe_load(e.read_text(encoding="utf-8"))["nodes"][p[1]]["type"] for e, p in SWEEP if p[0] == "nodes"}
    assert swept == set(NODE_TYPES)


@pytest.mark.parametrize("example, path", SWEEP, ids=[f"{e.stem}:{'.'.join(map(str, p))}" for e, p in SWEEP])
def test_each_field_deleted_or_malformed(tmp_path, capsys, example, path):
    for variant in ["deleted", *BROKEN]:
        doc = yaml.safe_load(example.read_text(encoding="utf-8"))
        parent = doc[path[0]][path[1]]
        if variant == "deleted":
            del parent[path[2]]
        else:
            parent[path[2]] = variant
        data = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).encode("utf-8")
        check_validate(workspace(tmp_path, example), data, capsys, f"{path} {variant}")


def test_the_unmutated_examples_validate(tmp_path, capsys):
    for example in EXAMPLES:  # the mutations above start from files that are fine
        check_validate(workspace(tmp_path, example), example.read_bytes(), capsys, -1)
        assert capsys.readouterr().err == ""


# -- hostile files under hard limits ---------------------------------------------------------------------
HOSTILE = {
    "bomb10.yaml": "l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
        f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 10)),  # 10^10 values
    "keys.yaml": "a: &a [x]\n" + "".join(f"b{i}: &b{i} {{k: *{'a' if i == 0 else f'b{i - 1}'}, j: *{'a' if i == 0 else f'b{i - 1}'}}}\n" for i in range(60)),  # noqa: E501
    "deep.yaml": "a: " + "[" * 100_000 + "]" * 100_000 + "\n",
    "deepmap.yaml": "a: " + "{a: " * 20_000 + "1" + "}" * 20_000 + "\n",
    "selfref.yaml": "a: &x {b: [*x]}\n",
    "big.yaml": "a: [" + "0, " * 600_000 + "0]\n",
    "utf16.yaml": "name: t\nsources: {}\n".encode("utf-16").decode("latin-1"),
}


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_CPU, (120, 120))  # a runaway loop is killed, not waited for
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))  # an expanded bomb runs out of memory


def test_hostile_files_under_cpu_and_memory_limits(tmp_path):
    paths = []
    for name, text in HOSTILE.items():
        path = tmp_path / name
        path.write_bytes(text.encode("latin-1") if name == "utf16.yaml" else text.encode("utf-8"))
        paths.append(path)
    result = subprocess.run([sys.executable, "-m", "jobs.cli", "validate", *map(str, paths)], cwd=REPO,
                            capture_output=True, text=True, preexec_fn=_limits, check=False)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == len(paths), result.stderr
    for path, line in zip(paths, lines, strict=True):
        match = POSITIONED.match(line)
        assert match and match["file"] == str(path), line
    messages = dict(zip([p.name for p in paths], lines, strict=True))
    assert "expands to more than" in messages["bomb10.yaml"]
    assert "expands to more than" in messages["keys.yaml"]
    assert "nested more than" in messages["deep.yaml"] and "nested more than" in messages["deepmap.yaml"]
    assert "a value cannot contain itself" in messages["selfref.yaml"]
    assert "larger than" in messages["big.yaml"]
    assert "UTF-16" in messages["utf16.yaml"]
