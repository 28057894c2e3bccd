"""The committed result tables rebuild from the committed raw cells, through today's grid code.

docs/results/raw/proportion holds every cell of the Fig. 5 sweep; running the sweep's command
on a copy must compute nothing (every fingerprint still matches: the configuration's, the
baselines' options', the encoder precision's and prefix's: the sweep ran with e5's former
default ``passage: ``) and print tables whose every row is the committed
docs/results/proportion.md's.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from cli_helpers import run_mgl

ROOT = Path(__file__).resolve().parents[1]
RAW = ROOT / "docs" / "results" / "raw" / "proportion"


def table_rows(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("| ") and not line.startswith("| Method")]


def test_the_proportion_tables_rebuild_from_the_committed_cells(tmp_path):
    out = tmp_path / "proportion"
    shutil.copytree(RAW, out)
    code, stdout, err = run_mgl("experiment", "proportion", "--root", tmp_path, "--fractions", "0.1,0.2,0.5,1.0",
                                "--seeds", "5", "--out", out, "--set", "encoder.precision=fp32",
                                "--set", "encoder.prefix='passage: '", "--quiet")  # the sweep's prefix
    assert code == 0, err
    assert "0 cell(s) computed, 1080 already done; 1080/1080 in the table" in stdout
    committed = (ROOT / "docs" / "results" / "proportion.md").read_text(encoding="utf-8")
    rebuilt = table_rows((out / "proportion.md").read_text(encoding="utf-8"))
    assert len(rebuilt) > 30
    missing = [row for row in rebuilt if row not in committed]
    assert not missing, missing[:3]
