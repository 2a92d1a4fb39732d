"""The shape of the code, checked: one direction through the folders of jobs/, nodes keep their insides.

An AST walk over every module of jobs/ (imports inside functions included: a lazy import is still a
dependency) finds which folder imports which, and checks these rules (docs/architecture.md draws the same):

  1. every folder-to-folder import is allowed by LAYERS below, and LAYERS itself has no cycle, so the
     folders form one direction: lang/config at the bottom, cli and the top-level modules at the top;
  2. no module imports a private name (`_x`) from a module of another folder, nor reads `mod._x` from a module
     of another folder that it imported;
  3. outside jobs/nodes/, modules import from jobs.nodes only its contract: the registry (`jobs.nodes`:
     NODE_TYPES, COMMON_FIELDS, summary / family / side_inputs), `jobs.nodes.base` (what every node declares)
     and `jobs.nodes.outputs` (the shapes of output records that sinks write). Never a node type's own module,
     so no code outside a node can test for its class (`isinstance(runtime, ActionRuntime)`) or reach into
     its fields: a node declares what others need to know on the contract (NodeRuntime.tables / channels /
     timed_changelogs, Compiled, the module's summary / FAMILY / side_inputs).
"""

from __future__ import annotations

import ast
from pathlib import Path

JOBS = Path(__file__).resolve().parents[2] / "jobs"
TOP = "jobs"  # the top-level modules jobs/*.py (scenario_job.py)

# folder -> the folders it may import (besides itself). Adding a folder means adding it here, with its place.
LAYERS: dict[str, set[str]] = {
    "lang": set(),  # the scenario language: YAML with positions, model, types, params, expressions
    "config": set(),  # connection settings, secrets, naming of topics / indices
    "nodes": {"lang"},  # node types, written in the language
    "compiler": {"lang", "nodes"},  # validate (graph + node compile steps), plan (segments), schema
    "runtime": {"lang", "nodes", "compiler"},  # executes a plan: executor, decode, harness, files
    "sandbox": {"lang", "nodes", "compiler", "runtime"},  # kairos test / verify / graph
    "flink": {"lang", "config", "nodes", "compiler", "runtime"},  # the PyFlink build and its connectors
    "connect": {"lang", "config", "nodes", "compiler", "runtime", "flink"},  # connected runs, topics, cluster REST
    "report": {"lang", "config", "nodes", "runtime"},  # kairos report: Elasticsearch reads, statistics, plots
    "cli": {"lang", "config", "nodes", "compiler", "runtime", "sandbox", "flink", "connect", "report"},
    TOP: {"lang", "config", "nodes", "compiler", "runtime", "sandbox", "flink", "connect"},
}
NODE_CONTRACT = {"jobs.nodes", "jobs.nodes.base", "jobs.nodes.outputs"}


def folder_of(module: str) -> str:
    """jobs.lang.expr.api -> lang; jobs.scenario_job / jobs -> the top level."""
    parts = module.split(".")
    if len(parts) > 1 and (JOBS / parts[1]).is_dir():
        return parts[1]
    return TOP


def module_name(path: Path) -> str:
    rel = path.relative_to(JOBS.parent).with_suffix("")
    parts = list(rel.parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def is_package(path: Path) -> bool:
    return path.name == "__init__.py"


def resolve(node: ast.ImportFrom, here: str, package: bool) -> str:
    if not node.level:
        return node.module or ""
    base = here.split(".") if package else here.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(path: Path) -> list[tuple[str, str | None, int]]:
    """(imported module, imported name or None, line) for every import of jobs.* in the file.

    `from jobs.nodes import action` names the module jobs.nodes.action (a submodule), not a name of jobs.nodes."""
    here = module_name(path)
    found: list[tuple[str, str | None, int]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None, node.lineno) for alias in node.names if alias.name.split(".")[0] == "jobs"]
        elif isinstance(node, ast.ImportFrom):
            target = resolve(node, here, is_package(path))
            if target.split(".")[0] != "jobs":
                continue
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if _exists(sub):
                    found.append((sub, None, node.lineno))
                else:
                    found.append((target, alias.name, node.lineno))
    return found


def _exists(module: str) -> bool:
    rel = Path(*module.split(".")[1:])
    return (JOBS / rel).is_dir() or (JOBS / rel).with_suffix(".py").is_file()


def all_modules() -> list[Path]:
    return sorted(p for p in JOBS.rglob("*.py") if "__pycache__" not in p.parts)


def folder_edges() -> dict[tuple[str, str], list[str]]:
    """(importing folder, imported folder) -> where, for every import crossing folders."""
    edges: dict[tuple[str, str], list[str]] = {}
    for path in all_modules():
        mine = folder_of(module_name(path))
        for target, _, line in imports(path):
            theirs = folder_of(target)
            if theirs != mine:
                edges.setdefault((mine, theirs), []).append(f"{path.relative_to(JOBS.parent)}:{line} imports {target}")
    return {k: sorted(set(v)) for k, v in edges.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of the directed graph, as a path that comes back to its start, or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt):], nxt] if nxt in path else [node, nxt]
            if nxt not in state and (cycle := visit(nxt, [*path, nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def test_every_folder_has_a_place_in_the_layers():
    folders = {p.name for p in JOBS.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert folders | {TOP} == set(LAYERS), "a new folder of jobs/ needs its row in LAYERS (and docs/architecture.md)"


def test_the_layer_table_has_no_cycle():
    assert find_cycle(LAYERS) is None


def test_docs_architecture_shows_the_same_table():
    doc = (JOBS.parent / "docs" / "architecture.md").read_text()
    rows = {}
    for line in doc.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`jobs/"):
            folder = TOP if cells[0] == "`jobs/*.py`" else cells[0].strip("`").removeprefix("jobs/")
            rows[folder] = set() if cells[2] == "nothing of jobs" else {c.strip() for c in cells[2].split(",")}
    assert rows == LAYERS


def test_folders_import_only_what_the_layers_allow():
    wrong = [where for (mine, theirs), wheres in sorted(folder_edges().items()) if theirs not in LAYERS[mine]
             for where in wheres]  # fmt: skip
    assert not wrong, "imports against the direction of docs/architecture.md:\n" + "\n".join(wrong)


def test_the_folder_import_graph_has_no_cycle():
    graph: dict[str, set[str]] = {}
    for mine, theirs in folder_edges():
        graph.setdefault(mine, set()).add(theirs)
    assert find_cycle(graph) is None, f"folder cycle: {' -> '.join(find_cycle(graph) or [])}"


def test_no_private_names_across_folders():
    wrong = []
    for path in all_modules():
        here = module_name(path)
        tree = ast.parse(path.read_text(), str(path))
        foreign_modules = {}  # local name -> module of another folder bound by `import` / `from pkg import mod`
        for target, name, line in imports(path):
            if folder_of(target) == folder_of(here):
                continue
            if name is not None and name.startswith("_") and not name.startswith("__"):
                wrong.append(f"{path.relative_to(JOBS.parent)}:{line} imports {target}.{name}")
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (target := resolve(node, here, is_package(path))):
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if _exists(sub) and folder_of(sub) != folder_of(here):
                        foreign_modules[alias.asname or alias.name] = sub
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname and alias.name.startswith("jobs.") and folder_of(alias.name) != folder_of(here):
                        foreign_modules[alias.asname] = alias.name
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in foreign_modules and node.attr.startswith("_")
                    and not node.attr.startswith("__")):  # fmt: skip
                wrong.append(f"{path.relative_to(JOBS.parent)}:{node.lineno} reads "
                             f"{foreign_modules[node.value.id]}.{node.attr}")  # fmt: skip
    assert not wrong, "private names used from another folder:\n" + "\n".join(wrong)


def test_outside_the_nodes_only_the_node_contract_is_imported():
    wrong = []
    for path in all_modules():
        if folder_of(module_name(path)) == "nodes":
            continue
        for target, _, line in imports(path):
            if folder_of(target) == "nodes" and target not in NODE_CONTRACT:
                wrong.append(f"{path.relative_to(JOBS.parent)}:{line} imports {target}")
    assert not wrong, ("node internals used outside jobs/nodes/ (declare it on the contract in jobs/nodes/base.py "
                       "instead):\n" + "\n".join(wrong))


# The checks themselves must be able to fail: a small made-up graph with a cycle, and the walk on a real edge.
def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_walk_sees_lazy_imports():
    # jobs/connect/runner.py imports jobs.flink.job inside a function: the walk must see it
    assert any("jobs.flink" in where for where in folder_edges()[("connect", "flink")])
