"""The committed result tables rebuild from the committed raw cells, through today's grid code.

docs/results/raw/proportion holds every cell of the Fig. 5 sweep. The cells were scored under
grid version 1 (MGL's test queries sharing episodes; since version 2 every cell is scored by its
fitted model, as a saved model predicts), so running the sweep's command again must refuse the
folder rather than mix protocols, and ``mgl experiment report`` rebuilds each fraction's table
from the cells as they are: its averages are the committed docs/results/proportion.md's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cli_helpers import run_mgl

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "docs" / "results" / "raw" / "proportion"
FRACTIONS = {"fraction-0.1": "10%", "fraction-0.2": "20%", "fraction-0.5": "50%", "fraction-1": "100%"}


def rows_of(text: str) -> dict[str, list[str]]:
    """The first table's rows of a Markdown text: method -> cells."""
    out = {}
    for line in text.splitlines():
        if line.startswith("| ") and not line.startswith("| Method"):
            cells = [c.strip() for c in line.strip("|").split("|")]
            out.setdefault(cells[0], cells[1:])
        elif out and not line.startswith("|"):
            break
    return out


def test_the_proportion_tables_rebuild_from_the_committed_cells(tmp_path):
    out = tmp_path / "proportion"
    shutil.copytree(RAW, out)
    code, stdout, err = run_mgl(
        "experiment",
        "proportion",
        "--root",
        tmp_path,
        "--fractions",
        "0.1,0.2,0.5,1.0",
        "--seeds",
        "5",
        "--out",
        out,
        "--set",
        "encoder.precision=fp32",
        "--set",
        "encoder.prefix='passage: '",
        "--quiet",
    )  # the sweep's prefix
    assert code == 2 and "another configuration" in err  # version-1 cells are never mixed with new ones
    committed_text = (ROOT / "docs" / "results" / "proportion.md").read_text(encoding="utf-8")
    committed = rows_of(committed_text[committed_text.index("| Method | 10%") :])
    header = ["10%", "20%", "50%", "100%"]
    checked = 0
    for folder, column in FRACTIONS.items():
        code, stdout, err = run_mgl("experiment", "report", out / folder)
        assert code == 0, err
        assert "270/270 cells finished" in stdout
        rebuilt = rows_of((out / folder / "table1.md").read_text(encoding="utf-8"))
        for method, cells in committed.items():
            avg = rebuilt[method][-2]  # the row's Avg (the last column is the difference to MGL)
            assert avg == cells[header.index(column)], (folder, method)
            checked += 1
    assert checked >= 20
