"""Table 3 (ablations) and the target-label proportion sweep (Fig. 5): table layouts and tests on
synthetic records, the commands' errors, and ``--quick`` runs end to end on real data (skipped where
MGL_DATA is unset)."""

import json
import os
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import run_mgl

from mgl.grid import (
    ablation_notes,
    ablation_spec,
    ablation_tests,
    fraction_dir,
    render_markdown,
    render_proportion_csv,
    render_proportion_markdown,
    summarize,
    summarize_proportion,
    table1_experiments,
)
from mgl.methods import ABLATION_METHODS, PROPORTION_METHODS

pytestmark = pytest.mark.unit

DATA = os.environ.get("MGL_DATA")


def records(methods, offsets, *, seeds=range(5), experiments=None, noise=0.002, seed=0):
    """One record per (method, experiment, seed): accuracy 0.8 + the method's offset + noise."""
    rng = np.random.default_rng(seed)
    out = []
    for e in experiments or table1_experiments():
        for s in seeds:
            for m in methods:
                out.append(
                    {
                        "method": m,
                        "target": e.target,
                        "domain": e.domain,
                        "sources": list(e.sources),
                        "seed": s,
                        "accuracy": 0.8 + offsets[m] + rng.normal(0, noise),
                    }
                )
    return out


# --- Table 3 ----------------------------------------------------------------------------------


def test_ablation_table_layout_and_delta():
    offsets = {m: -0.01 * i for i, m in enumerate(ABLATION_METHODS)}
    recs = records(ABLATION_METHODS, offsets)
    spec = ablation_spec(list(ABLATION_METHODS), table1_experiments())
    assert [c.label for c in spec.columns] == ["FR", "JA", "DE", "Avg"]
    assert len(spec.columns[0].experiments) == 3 and len(spec.columns[-1].experiments) == 9
    text = render_markdown(summarize(recs, spec), spec, n_seeds=5)
    assert "| Method | FR | JA | DE | Avg | Δ vs MGL |" in text
    rows = {}
    for line in text.splitlines():  # the first table (the standard deviations follow)
        if line.startswith("| MGL"):
            rows.setdefault(line.split(" | ")[0][2:], line.strip("| ").split(" | "))
    assert list(rows)[:7] == [
        "MGL",
        "MGL w/o Meta",
        "MGL w/o L2CLT",
        "MGL w/o σ",
        "MGL 1 GCN layer",
        "MGL 3 GCN layers",
        "MGL 4 GCN layers",
    ]
    assert rows["MGL"][-1] == "–"
    assert float(rows["MGL 4 GCN layers"][-1]) == pytest.approx(-6.0, abs=0.5)  # 6 x -1 point
    assert "†" not in text  # no baselines in this table: no daggers


def test_ablation_tests_the_full_model_against_each_row():
    recs = records(["mgl", "mgl-no-meta", "mgl-gcn3"], {"mgl": 0.0, "mgl-no-meta": -0.05, "mgl-gcn3": 0.0})
    spec = ablation_spec(["mgl", "mgl-no-meta", "mgl-gcn3"], table1_experiments())
    tests = ablation_tests(recs, spec)
    assert set(tests) == {"mgl-no-meta", "mgl-gcn3"}
    assert tests["mgl-no-meta"]["column"] == "Avg" and tests["mgl-no-meta"]["n"] == 5
    assert tests["mgl-no-meta"]["difference"] == pytest.approx(5.0, abs=0.5)
    assert tests["mgl-no-meta"]["p"] < 0.01
    assert tests["mgl-gcn3"]["p"] > 0.01
    lines = "\n".join(ablation_notes(tests, spec))
    row = next(line for line in lines.splitlines() if line.startswith("| MGL w/o Meta |")).split(" | ")
    assert float(row[1]) == pytest.approx(5.0, abs=0.5) and row[3].endswith("*")
    gcn3 = next(line for line in lines.splitlines() if line.startswith("| MGL 3 GCN layers |")).split(" | ")
    assert not gcn3[3].endswith("*")


def test_ablation_one_target_has_one_column():
    exps = table1_experiments(["ja"], ["books"])
    spec = ablation_spec(["mgl", "mgl-no-sigma"], exps)
    assert [c.label for c in spec.columns] == ["JA"]


# --- the proportion sweep ----------------------------------------------------------------------


def test_proportion_summary_table_and_csv():
    exps = table1_experiments()
    by_fraction = {}
    for i, f in enumerate((0.1, 0.2, 0.5, 1.0)):
        offsets = {m: (0.05 if m == "mgl" else 0.0) + 0.02 * i for m in PROPORTION_METHODS}
        by_fraction[f] = records(PROPORTION_METHODS, offsets, seed=i)
    by_fraction[0.5] = [r for r in by_fraction[0.5] if r["method"] != "mix"]  # not computed yet
    summary = summarize_proportion(by_fraction, list(PROPORTION_METHODS), exps)
    assert summary["fractions"] == [0.1, 0.2, 0.5, 1.0]
    assert summary["mean"]["mgl"][0] == pytest.approx(85.0, abs=0.5)
    assert summary["mean"]["mgl"][3] == pytest.approx(91.0, abs=0.5)
    assert summary["mean"]["mix"][2] is None and summary["n"]["mix"][2] == 0
    assert summary["n"]["mgl"] == [5, 5, 5, 5]
    assert all(s["significant"] for s in summary["significance"])
    md = render_proportion_markdown(summary, 9, 5)
    assert "| Method | 10% | 20% | 50% | 100% |" in md
    mgl_row = next(line for line in md.splitlines() if line.startswith("| MGL |"))
    assert mgl_row.count("†") == 4
    mix_row = next(line for line in md.splitlines() if line.startswith("| Mix |"))
    assert mix_row.split(" | ")[3] == "–"
    csv_lines = render_proportion_csv(summary).splitlines()
    assert csv_lines[0] == "fraction,method,accuracy_mean,accuracy_std,seeds" and len(csv_lines) == 1 + 4 * len(
        PROPORTION_METHODS
    )
    assert "0.5,mix,,,0" in csv_lines
    assert fraction_dir("out", 0.1) == Path("out") / "fraction-0.1"


def test_proportion_per_target_gaps_name_each_targets_best_other_method():
    """MGL leads on FR and JA, trails Mix on DE by 1 point: the per-target rows say so, the test too."""
    exps = table1_experiments()
    by_fraction = {}
    for i, f in enumerate((0.1, 1.0)):
        recs = records(PROPORTION_METHODS, dict.fromkeys(PROPORTION_METHODS, 0.0), seed=i, noise=0.001)
        for r in recs:
            if r["method"] == "mgl" and r["target"] != "de":
                r["accuracy"] += 0.02
            if r["method"] == "mix" and r["target"] == "de":
                r["accuracy"] += 0.01
            if r["method"] == "reptile" and r["target"] == "fr":
                r["accuracy"] += 0.005
        by_fraction[f] = recs
    summary = summarize_proportion(by_fraction, list(PROPORTION_METHODS), exps)
    assert list(summary["by_target"]) == ["fr", "ja", "de"]
    assert summary["by_target"]["fr"]["mgl"][0] == pytest.approx(82.0, abs=0.2)
    assert summary["by_target"]["de"]["mix"][1] == pytest.approx(81.0, abs=0.2)
    fr, de, avg = (summary["versus_best"][k] for k in ("fr", "de", "Avg"))
    assert fr[0]["best_baseline"] == "reptile" and fr[0]["difference"] == pytest.approx(1.5, abs=0.2)
    assert fr[0]["significant"]
    assert de[1]["best_baseline"] == "mix" and de[1]["difference"] == pytest.approx(-1.0, abs=0.2)
    assert not de[1]["significant"] and de[1]["p"] > 0.5
    assert avg == summary["significance"]
    md = render_proportion_markdown(summary, 9, 5)
    assert "### Per target (mean over its domains and the seeds)" in md and "\nDE:\n" in md
    gap_rows = md.split("### MGL minus the best other method")[1].splitlines()
    assert "| Share | FR | JA | DE | Avg |" in gap_rows
    row = next(line for line in gap_rows if line.startswith("| 100% |")).split(" | ")
    assert row[1].startswith(("+1.4", "+1.5", "+1.6")) and "(Reptile; p " in row[1] and row[1].endswith("†")
    assert row[3].startswith(("-0.9", "-1.0")) and "(Mix; p " in row[3] and "†" not in row[3]


def test_proportion_one_target_has_no_per_target_section():
    exps = table1_experiments(["ja"], ["books"])
    recs = records(PROPORTION_METHODS, dict.fromkeys(PROPORTION_METHODS, 0.0), experiments=exps)
    summary = summarize_proportion({0.1: recs}, list(PROPORTION_METHODS), exps)
    assert summary["by_target"] == {} and list(summary["versus_best"]) == ["Avg"]
    assert "Per target" not in render_proportion_markdown(summary, 1, 5)


# --- the commands -------------------------------------------------------------------------------


def test_ablation_refuses_a_baseline(tmp_path):
    code, _, err = run_mgl(
        "experiment", "ablation", "--root", tmp_path, "--methods", "mgl,reptile", "--out", tmp_path / "o", "--quiet"
    )
    assert code == 2 and "MGL variants only" in err and "reptile" in err


def test_proportion_refuses_a_bad_fraction(tmp_path):
    code, _, err = run_mgl(
        "experiment", "proportion", "--root", tmp_path, "--fractions", "0.1,1.5", "--out", tmp_path / "o", "--quiet"
    )
    assert code == 2 and "1.5" in err
    code, _, err = run_mgl("experiment", "proportion", "--root", tmp_path, "--fractions", "a", "--quiet")
    assert code == 2 and "comma-separated numbers" in err
    assert not (tmp_path / "o").exists()


def test_grids_need_a_root(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for verb in ("ablation", "proportion"):
        code, _, err = run_mgl("experiment", verb, "--quiet")
        assert code == 2 and "--root" in err


requires_data = pytest.mark.skipif(
    not DATA, reason="MGL_DATA is unset: export MGL_DATA=<folder holding cls-acl10-unprocessed/>"
)


@pytest.mark.integration
@pytest.mark.slow
@requires_data
@pytest.mark.slow
def test_ablation_quick_end_to_end_and_resumable(tmp_path):
    out = tmp_path / "t3"
    args = [
        "experiment",
        "ablation",
        "--quick",
        "--root",
        Path(DATA) / "cls-acl10-unprocessed",
        "--out",
        out,
        "--quiet",
    ]
    code, stdout, err = run_mgl(*args)
    assert code == 0, err[-3000:]
    assert "14 cell(s) computed, 0 already done" in stdout  # 7 rows x 1 experiment x 2 seeds
    table = json.loads((out / "table3.json").read_text())
    assert table["methods"] == list(ABLATION_METHODS) and len(table["records"]) == 14
    assert {r["target"] for r in table["records"]} == {"ja"}
    assert set(table["meta"]["tests_against_full_model"]) == set(ABLATION_METHODS[1:])
    md = (out / "table3.md").read_text()
    assert "| Method | JA | Δ vs MGL |" in md and "| MGL w/o L2CLT |" in md and "| MGL 4 GCN layers |" in md
    assert (out / "table3.csv").read_text().count("\n") == 15
    assert json.loads((out / "grid.json").read_text())["table"] == "table3"
    by = {(r["method"], r["seed"]): r for r in table["records"]}
    assert by[("mgl-gcn4", 0)]["details"]["stages"]  # trained
    assert np.mean([by[("mgl", s)]["accuracy"] for s in (0, 1)]) > 0.6  # chance is 0.5

    mtimes = {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")}
    code, stdout, err = run_mgl(*args)
    assert code == 0, err[-3000:]
    assert "0 cell(s) computed, 14 already done" in stdout
    assert {p.name: p.stat().st_mtime_ns for p in (out / "cells").glob("*.json")} == mtimes

    code, stdout, err = run_mgl("experiment", "report", out)  # the report keeps Table 3's layout
    assert code == 0, err[-3000:]
    assert "14/14 cells finished" in stdout and "| Method | JA | Δ vs MGL |" in (out / "table3.md").read_text()


@pytest.mark.integration
@pytest.mark.slow
@requires_data
@pytest.mark.slow
def test_proportion_quick_end_to_end(tmp_path):
    out = tmp_path / "prop"
    code, stdout, err = run_mgl(
        "experiment",
        "proportion",
        "--quick",
        "--seeds",
        "1",
        "--root",
        Path(DATA) / "cls-acl10-unprocessed",
        "--out",
        out,
        "--quiet",
    )
    assert code == 0, err[-3000:]
    assert "12 cell(s) computed" in stdout  # 2 fractions x 6 methods x 1 experiment x 1 seed
    summary = json.loads((out / "proportion.json").read_text())["summary"]
    assert summary["fractions"] == [0.01, 0.05] and summary["methods"] == list(PROPORTION_METHODS)
    assert all(v is not None for m in PROPORTION_METHODS for v in summary["mean"][m])
    # each fraction is its own resumable grid, and the target keeps that share of its labels
    n_target = {}
    for f in (0.01, 0.05):
        cell = json.loads((fraction_dir(out, f) / "cells" / "mgl__ja__books__seed0.json").read_text())
        n_target[f] = cell["n_train_target"]
        assert json.loads((fraction_dir(out, f) / "grid.json").read_text())["config"]["data"]["target_fraction"] == f
        assert (fraction_dir(out, f) / "table1.md").exists()
    assert n_target[0.01] < n_target[0.05]
    assert "| Method | 1% | 5% |" in (out / "proportion.md").read_text()
    assert (out / "proportion.csv").read_text().count("\n") == 1 + 2 * 6
    assert (out / "proportion.png").stat().st_size > 10_000
