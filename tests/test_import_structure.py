"""The modules of ``src/mgl`` import one another without a cycle (lazy, in-function imports
included): data -> encoders -> episodes -> meta graph -> training -> methods -> product."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

SRC = Path(__file__).resolve().parents[1] / "src"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(p): p for p in (SRC / "mgl").rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(
                        package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else [])
                    )
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rsplit(".", 1)[0] if "." in target else ""
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_among_mgl_modules():
    graph = import_graph()
    assert "mgl.methods" in graph["mgl.model.classifier"] and "mgl.model.classifier" in graph["mgl.run"]
    cycle = find_cycle(graph)
    assert cycle is None, " -> ".join(cycle)


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


# The folders in the order of the data flow: each imports only from folders before it (and from the
# foundations at the top of the package: config, errors, io, outputs, ...), never from one after it.
LAYERS = [
    ("mgl.data",),
    ("mgl.encoders",),
    ("mgl.methods", "mgl.fingerprints"),  # the fingerprint reads the encoder's prefix rule
    ("mgl.model",),
    ("mgl.serve", "mgl.bulk", "mgl.grid", "mgl.run"),
    ("mgl.cli", "mgl.__main__"),
]
# the one arrow that runs back up: the configuration checks language codes with the data's normaliser
ALLOWED_UPWARD = {("mgl.config", "mgl.data.languages")}


def layer_of(module: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return index
    return None  # a foundation


def upward_imports(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    found = []
    for module, targets in graph.items():
        mine = layer_of(module)
        for target in targets:
            theirs = layer_of(target)
            if theirs is None or (module, target) in ALLOWED_UPWARD:
                continue
            if mine is None or theirs > mine:  # a foundation importing a folder, or a folder a later one
                found.append((module, target))
    return sorted(found)


def test_every_folder_imports_only_from_the_folders_before_it():
    graph = import_graph()
    assert "mgl.encoders.featurizer" in graph["mgl.model.classifier"]  # the graph sees the folders
    assert upward_imports(graph) == []


def test_the_layer_check_sees_an_upward_import():
    assert upward_imports({"mgl.data.table": {"mgl.methods.base"}, "mgl.methods.base": set()}) == [
        ("mgl.data.table", "mgl.methods.base")
    ]
    assert upward_imports({"mgl.errors": {"mgl.model.classifier"}, "mgl.model.classifier": set()}) == [
        ("mgl.errors", "mgl.model.classifier")
    ]


def test_every_cli_command_is_a_module_level_function():
    """Each ``mgl`` command is a function its module defines at the top, so it can be imported,
    tested and followed (no closures inside a ``register()``)."""
    import importlib

    from mgl.cli import app

    def commands(typer_app, prefix=""):
        for info in typer_app.registered_commands:
            yield f"{prefix}{info.name or info.callback.__name__}", info.callback
        for group in typer_app.registered_groups:
            yield from commands(group.typer_instance, f"{prefix}{group.name} ")

    found = dict(commands(app))
    assert {"run", "train", "predict", "serve", "experiment table1", "data stats"} <= set(found)
    for name, callback in found.items():
        assert "<locals>" not in callback.__qualname__, f"mgl {name} is a closure: {callback.__qualname__}"
        module = importlib.import_module(callback.__module__)
        assert getattr(module, callback.__name__) is callback, f"mgl {name}"
