"""The package's folders are its layers: imports go down the layers only, and no module imports itself back
through others. Every import counts, function-level ones included; imports under `if TYPE_CHECKING:` do not
(they never run)."""

import ast
from collections import defaultdict
from pathlib import Path

import pytest

from gankit._moved import MOVED

PACKAGE = Path(__file__).resolve().parents[1] / "gankit"

# Each room and the rooms it may import. The top (cli, the public API in __init__) may import anything.
ALLOWED = {
    "infra": set(),
    "data": {"infra"},
    "models": {"infra"},
    "metrics": {"infra", "data"},
    "training": {"infra", "data", "models", "metrics"},
    "generate": {"infra", "data", "models", "training"},
    "eval": {"infra", "data", "metrics", "generate"},
    "augmentation": {"infra", "data", "metrics", "training", "generate"},
    "tabular": {"infra"},
    "timeseries": {"infra"},
    "reference": {"infra", "data"},
    "report": {"infra", "data", "metrics", "training", "tabular", "generate"},
}
TOP = {"gankit", "gankit.cli", "gankit.__main__", "gankit._moved"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str) -> str:
    """The gankit module an imported name is: itself if it is a module, else the module that defines it."""
    while name not in MODULES and "." in name:
        name = name.rsplit(".", 1)[0]
    return name


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text())
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("gankit"))
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("gankit"):
            found.update(f"{node.module}.{a.name}" for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


GRAPH = {m: {_resolve(name) for name in _imports(m)} - {m} for m in MODULES}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and module not in TOP else None


def test_every_import_resolves_to_a_gankit_module():
    unknown = {(m, name) for m in MODULES for name in _imports(m)
               if _resolve(name) not in MODULES and name not in MOVED}
    assert not unknown


def test_no_module_imports_an_old_name():
    old = {(m, name) for m in MODULES for name in _imports(m) if name in MOVED or _resolve(name) in MOVED}
    assert not old, "import these from their new homes (gankit._moved.MOVED)"


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_rooms_import_only_the_layers_below_them(room):
    wrong = sorted((m, dep) for m, deps in GRAPH.items() if _room(m) == room for dep in deps
                   if _room(dep) not in ALLOWED[room] | {room})
    assert not wrong, f"{room} may import only {sorted(ALLOWED[room])}"


def test_every_room_is_a_layer():
    rooms = {_room(m) for m in MODULES} - {None}
    assert rooms == set(ALLOWED)


def test_there_is_no_import_cycle():
    # Tarjan's strongly connected components: a component of more than one module is a cycle.
    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def strongconnect(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(GRAPH):
        if v not in index:
            strongconnect(v)
    assert not cycles


def test_the_checker_sees_function_level_imports_and_skips_type_checking_ones():
    # models.build_for imports the self-conditioned G inside the function, and TrainConfig under TYPE_CHECKING
    assert "gankit.models.self_conditioned" in GRAPH["gankit.models"]
    assert "gankit.training.config" not in GRAPH["gankit.models"]
    counts = defaultdict(int)
    for deps in GRAPH.values():
        for dep in deps:
            counts[dep] += 1
    assert counts["gankit.infra.errors"] > 20  # nearly everything raises GankitError
