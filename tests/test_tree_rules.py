"""The written rules of the tree (CONTRIBUTING.md) that a test can keep: tests laid out as the
package, modules small enough to read in one sitting, the method registry a table of classes."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "mgl"
TESTS = ROOT / "tests"
NOT_TESTS = {"fixtures", "__pycache__"}
MODULE_LINES = 600
"""The most lines a module of the package may have."""
TEXT_ENCODER_LINES = 500
"""``encoders/text_encoder.py``'s own limit, promised when it was split (tokenisation, loading, batching apart)."""


def test_every_test_folder_names_a_folder_of_the_package():
    """``tests/`` mirrors ``src/mgl``: a test folder is named for the package folder it tests
    (``tests/methods/baselines`` for ``mgl/methods/baselines``); tests of top-level modules sit at the top."""
    folders = [
        p.relative_to(TESTS)
        for p in TESTS.rglob("*")
        if p.is_dir() and not (set(p.relative_to(TESTS).parts) & NOT_TESTS)
    ]
    assert Path("serve") in folders and Path("methods/baselines") in folders
    stray = [str(f) for f in folders if not (PACKAGE / f).is_dir()]
    assert stray == [], f"test folders without a package folder of that name: {stray}"


def test_every_module_reads_in_one_sitting():
    sizes = {
        str(p.relative_to(PACKAGE)): len(p.read_text(encoding="utf-8").splitlines()) for p in PACKAGE.rglob("*.py")
    }
    assert sizes["encoders/text_encoder.py"] <= TEXT_ENCODER_LINES
    too_long = {name: n for name, n in sizes.items() if n > MODULE_LINES}
    assert too_long == {}, f"modules over {MODULE_LINES} lines: {too_long}"


def test_the_registry_is_a_table_of_classes():
    """A reader (and a tool reading imports) follows ``mgl train`` into ``Method.fit``: every built-in
    method is a class in the table, no import string."""
    from mgl.methods import METHODS, Method

    assert all(isinstance(info.cls, type) and issubclass(info.cls, Method) for info in METHODS.values())
    assert {"mgl", "mix", "logreg-pooled", "logreg-chars", "ensemble"} <= set(METHODS)
