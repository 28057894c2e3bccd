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
    assert upward_imports({"mgl.data.example_table": {"mgl.methods.base"}, "mgl.methods.base": set()}) == [
        ("mgl.data.example_table", "mgl.methods.base")
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


HEAVY = (
    "torch",
    "sklearn",
    "scipy",
    "transformers",
    "ray",
    "fastapi",
    "uvicorn",
    "matplotlib",
    "pyarrow",
    "safetensors",
)
"""The libraries a light caller (``mgl --help``, the data commands, the readers, the service's guards) must not import."""
LAZY_PACKAGES = ("mgl", "mgl.encoders")
"""Packages whose ``__getattr__`` exports names lazily: importing a name from them inside a function is the point."""


def module_imports(path: Path, package: str) -> tuple[set[str], list[tuple[int, str]]]:
    """(the modules ``path`` imports at its top, and the ``(line, module)`` of each import inside a
    function or method), names resolved as ``import_graph`` resolves them."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    inner: list[tuple[int, str]] = []

    def names(node) -> list[str]:
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base = node.module or ""
        if node.level:
            base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
        return [base]

    def visit(node, in_function: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.Import, ast.ImportFrom)):
                if in_function:
                    inner.extend((child.lineno, n) for n in names(child))
                elif not _type_checking_only(node, child):
                    top.update(names(child))
            visit(child, in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)))

    visit(tree, False)
    return top, inner


def _type_checking_only(parent, node) -> bool:
    return isinstance(parent, ast.If) and "TYPE_CHECKING" in ast.unparse(parent.test)


def heavy_modules() -> set[str]:
    """The mgl modules that import a heavy library when imported (directly or through mgl modules)."""
    paths = {module_name(p): p for p in (SRC / "mgl").rglob("*.py")}
    top = {}
    for name, path in paths.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        top[name] = module_imports(path, package)[0]
    heavy = {n for n, imports in top.items() if any(i.split(".")[0] in HEAVY for i in imports)}
    changed = True
    while changed:
        changed = False
        for name, imports in top.items():
            if name in heavy:
                continue
            targets = set()
            for i in imports:
                while i and i not in paths:
                    i = i.rsplit(".", 1)[0] if "." in i else ""
                if i:
                    targets.add(i)
                    # importing a.b.c imports its packages a and a.b too
                    parts = i.split(".")
                    targets.update(".".join(parts[:k]) for k in range(1, len(parts)) if ".".join(parts[:k]) in paths)
            if targets & heavy:
                heavy.add(name)
                changed = True
    return heavy


def light_function_imports() -> list[str]:
    """``file:line module`` of every import, inside a function, of an mgl module that is light."""
    heavy = heavy_modules()
    found = []
    for path in sorted((SRC / "mgl").rglob("*.py")):
        name = module_name(path)
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for line, target in module_imports(path, package)[1]:
            if not target.startswith("mgl") or target in LAZY_PACKAGES:
                continue
            resolved = target
            while resolved and module_name_exists(resolved) is False:
                resolved = resolved.rsplit(".", 1)[0] if "." in resolved else ""
            if resolved and resolved not in heavy:
                found.append(f"{path.relative_to(SRC)}:{line} {target}")
    return found


def module_name_exists(name: str) -> bool:
    parts = name.split(".")
    base = SRC.joinpath(*parts)
    return base.with_suffix(".py").exists() or (base / "__init__.py").exists()


def test_no_light_mgl_module_is_imported_inside_a_function():
    """CONTRIBUTING: an mgl import inside a function is there because the module it names is heavy
    (imports torch, scikit-learn ... directly or through its own imports) or is a lazy export; a
    light one is imported at the top."""
    assert "mgl.model.classifier" in heavy_modules() and "mgl.errors" not in heavy_modules()
    assert light_function_imports() == []
