"""The experiment grid: methods and experiments, resumable cells, the t-test and dagger, the table layout,
and ``mgl experiment table1 --quick`` end to end on real data (skipped where MGL_DATA is unset)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import ttest_rel

from mgl.config import MGLConfig, RunConfig
from mgl.errors import ConfigError
from mgl.grid import (
    Cell,
    CellStore,
    check_methods,
    config_fingerprint,
    display_name,
    make_cells,
    mgl_variant_config,
    paired_test,
    render_markdown,
    run_cells,
    summarize,
    table1_experiments,
    table1_spec,
    write_tables,
)
from mgl.methods import method_name

pytestmark = pytest.mark.unit

DATA = os.environ.get("MGL_DATA")


# --- methods and experiments ------------------------------------------------------------------


def test_table1_has_the_papers_nine_experiments():
    exps = table1_experiments()
    assert [(e.target, e.domain) for e in exps] == [
        (t, d) for t in ("fr", "ja", "de") for d in ("books", "dvd", "music")
    ]
    for e in exps:
        assert sorted(e.sources) == sorted({"en", "fr", "de", "ja"} - {e.target})


@pytest.mark.parametrize(
    "name",
    ["mgl", "mgl-no-meta", "mgl-no-l2clt", "mgl-no-sigma", "mgl-gcn1", "mgl-gcn3", "mgl-gcn4", "mgl-no-meta-gcn3"],
)
def test_mgl_variants_map_onto_the_config(name):
    cfg = mgl_variant_config(name, MGLConfig())
    assert method_name(cfg) == name


def test_variant_flags():
    assert mgl_variant_config("mgl-no-meta", MGLConfig()).meta_train is False
    assert mgl_variant_config("mgl-no-l2clt", MGLConfig()).l2clt is False
    assert mgl_variant_config("mgl-no-sigma", MGLConfig()).learn_sigma is False
    assert mgl_variant_config("mgl-gcn3", MGLConfig()).gcn_layers == 3
    base = MGLConfig()
    mgl_variant_config("mgl-gcn4", base)
    assert base.gcn_layers == 2  # the base is not modified


def test_unknown_method_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown method 'zero-shot'"):
        check_methods(["mix", "zero-shot"])
    with pytest.raises(ConfigError):
        check_methods(["mgl-gcn0"])
    assert check_methods(["mix", " mgl ", "mix", ""]) == ["mix", "mgl"]


def test_display_names():
    assert display_name("multi-task") == "Multi-task"
    assert display_name("mgl-no-sigma") == "MGL w/o σ"
    assert display_name("mgl-gcn3") == "MGL 3 GCN layers"


def test_fingerprint_ignores_the_experiment_but_not_the_method_settings():
    a, b = RunConfig(), RunConfig()
    b.data.target, b.data.domain, b.data.root, b.seed = "fr", "music", "/elsewhere", 4
    assert config_fingerprint(a) == config_fingerprint(b)
    b.mgl.lr = 0.5
    assert config_fingerprint(a) != config_fingerprint(b)
    assert config_fingerprint(a, {"x": 1}) != config_fingerprint(a, {"x": 2})


def test_fingerprint_counts_the_prefix_cache_only_for_top_k_training():
    a, b = RunConfig(), RunConfig()
    b.encoder.prefix_cache = not a.encoder.prefix_cache
    assert config_fingerprint(a) == config_fingerprint(b)  # frozen encoder: no prefix states at all
    a.encoder.train = b.encoder.train = "top-k"
    a.encoder.top_layers = b.encoder.top_layers = 1
    assert config_fingerprint(a) != config_fingerprint(b)


# --- resumable cells ---------------------------------------------------------------------------


def fake_record(method, exp, seed):
    rng = np.random.default_rng([seed, len(method), len(exp.target)])
    return {
        "method": method,
        "target": exp.target,
        "domain": exp.domain,
        "sources": list(exp.sources),
        "seed": seed,
        "accuracy": float(rng.uniform(0.5, 0.9)),
        "precision": 0.5,
        "recall": 0.5,
        "f1": 0.5,
        "n_test": 10,
        "train_seconds": 0.0,
    }


class FakeRunner:
    """Records which cells it was asked for; can die in the middle of a group."""

    def __init__(self, die_at: int | None = None):
        self.calls = []
        self.die_at = die_at

    def run_group(self, experiment, seed, methods):
        for method in methods:
            if self.die_at is not None and len(self.calls) == self.die_at:
                raise KeyboardInterrupt
            self.calls.append(Cell(method, experiment, seed))
            yield method, fake_record(method, experiment, seed)


def grid_cells():
    return make_cells(["mix", "mgl"], table1_experiments(["ja"], ["books", "dvd"]), [0, 1])


def test_a_rerun_skips_finished_cells_and_recomputes_a_deleted_one(tmp_path):
    cells = grid_cells()
    store = CellStore(tmp_path, "fp1")
    first = FakeRunner()
    report = run_cells(cells, store, first, progress=False)
    assert len(report.computed) == len(first.calls) == 8 and not report.skipped
    mtimes = {c: store.path(c).stat().st_mtime_ns for c in cells}

    again = FakeRunner()
    report = run_cells(cells, store, again, progress=False)
    assert again.calls == [] and len(report.skipped) == 8
    assert {c: store.path(c).stat().st_mtime_ns for c in cells} == mtimes

    gone = cells[5]
    store.path(gone).unlink()
    third = FakeRunner()
    report = run_cells(cells, store, third, progress=False)
    assert third.calls == [gone] and report.computed == [gone]
    assert store.load(gone)["accuracy"] == fake_record(gone.method, gone.experiment, gone.seed)["accuracy"]


def test_a_kill_loses_only_the_running_cell(tmp_path):
    cells = grid_cells()
    store = CellStore(tmp_path, "fp1")
    with pytest.raises(KeyboardInterrupt):
        run_cells(cells, store, FakeRunner(die_at=3), progress=False)
    assert [c for c in cells if store.done(c)] == cells[:3]
    assert not list((tmp_path / "cells").glob(".*tmp"))  # no half-written file
    rest = FakeRunner()
    run_cells(cells, store, rest, progress=False)
    assert rest.calls == cells[3:]


def test_cells_of_another_configuration_are_refused(tmp_path):
    cells = grid_cells()
    run_cells(cells, CellStore(tmp_path, "fp1"), FakeRunner(), progress=False)
    with pytest.raises(ConfigError, match="another configuration"):
        run_cells(cells, CellStore(tmp_path, "fp2"), FakeRunner(), progress=False)


def test_a_damaged_cell_file_is_computed_again(tmp_path):
    cells = grid_cells()
    store = CellStore(tmp_path, "fp1")
    run_cells(cells, store, FakeRunner(), progress=False)
    store.path(cells[0]).write_text('{"method": "mix", "accu')
    runner = FakeRunner()
    run_cells(cells, store, runner, progress=False)
    assert runner.calls == [cells[0]]


# --- significance and the table ----------------------------------------------------------------

METHODS = ["logreg-pooled", "target-only", "reptile", "mgl"]
BASE = {"logreg-pooled": 0.70, "target-only": 0.60, "reptile": 0.78, "mgl": 0.80}


def synthetic_records(mgl_gap_de=-0.01):
    """MGL beats Reptile (the best baseline) by ~2 points on FR and JA; on DE it trails by ``-mgl_gap_de``."""
    rng = np.random.default_rng(0)
    records = []
    for exp in table1_experiments():
        for seed in range(5):
            seed_effect = rng.normal(0, 0.02)  # shared by all methods of a seed (the same target subsample)
            for method in METHODS:
                acc = BASE[method] + seed_effect + rng.normal(0, 0.002)
                if method == "mgl" and exp.target == "de":
                    acc = BASE["reptile"] + mgl_gap_de + seed_effect + rng.normal(0, 0.01)
                records.append({**fake_record(method, exp, seed), "accuracy": acc})
    return records


def test_dagger_where_mgl_beats_the_best_baseline_by_a_paired_test():
    records = synthetic_records()
    spec = table1_spec(METHODS, table1_experiments())
    summary = summarize(records, spec)
    sig = summary["significance"]
    assert sig["FR books"]["best_baseline"] == "reptile"
    assert sig["FR books"]["significant"] and sig["JA avg"]["significant"]
    assert not sig["DE books"]["significant"] and not sig["DE avg"]["significant"]
    # the p-value is scipy's one-sided paired t-test over the 5 seeds
    mgl = [r["accuracy"] for r in records if r["method"] == "mgl" and (r["target"], r["domain"]) == ("fr", "books")]
    rep = [r["accuracy"] for r in records if r["method"] == "reptile" and (r["target"], r["domain"]) == ("fr", "books")]
    assert sig["FR books"]["p"] == pytest.approx(ttest_rel(mgl, rep, alternative="greater").pvalue)
    assert sig["FR books"]["n"] == 5
    cell = summary["cells"]["mgl"]["FR books"]
    assert cell["mean"] == pytest.approx(100 * np.mean(mgl)) and cell["n"] == 5


def test_paired_test_needs_two_common_seeds_and_is_one_sided():
    assert paired_test({0: 0.8}, {0: 0.7})["p"] is None
    assert paired_test({0: 0.8, 1: 0.9}, {2: 0.7, 3: 0.7})["n"] == 0
    worse = paired_test({0: 0.70, 1: 0.71, 2: 0.69}, {0: 0.80, 1: 0.80, 2: 0.81})
    assert worse["p"] > 0.5  # one-sided: MGL worse is never significant
    constant = paired_test({0: 0.75, 1: 0.5, 2: 1.0}, {0: 0.5, 1: 0.25, 2: 0.75})
    assert constant["p"] == 0.0 and constant["t"] is None  # a constant gap: t infinite


def test_markdown_is_laid_out_like_table_1():
    spec = table1_spec(METHODS, table1_experiments())
    text = render_markdown(summarize(synthetic_records(), spec), spec, n_seeds=5)
    lines = text.splitlines()
    header = next(line for line in lines if line.startswith("| Method"))
    assert header == (
        "| Method | FR books | FR dvd | FR music | FR avg | JA books | JA dvd | JA music | JA avg | "
        "DE books | DE dvd | DE music | DE avg | Avg | Δ vs MGL |"
    )
    rows = [
        line
        for line in lines
        if line.startswith("| ") and line.split(" | ")[0][2:] in ("LogReg (pooled)", "Target-Only", "Reptile", "MGL")
    ][:4]
    assert [r.split(" | ")[0][2:] for r in rows] == ["LogReg (pooled)", "Target-Only", "Reptile", "MGL"]
    mgl_cells = rows[3].strip("| ").split(" | ")
    assert mgl_cells[1].endswith("†") and mgl_cells[4].endswith("†")  # FR books, FR avg
    assert not mgl_cells[9].endswith("†")  # DE books
    assert mgl_cells[-1] == "–"
    reptile = rows[2].strip("| ").split(" | ")
    assert float(reptile[-1]) == pytest.approx(float(reptile[-2]) - float(mgl_cells[-2].rstrip("†")), abs=0.011)
    assert float(reptile[-1]) < 0
    assert "one-sided paired t-test" in text and "p < 0.01" in text


def test_missing_cells_show_a_dash_and_averages_use_complete_seeds():
    records = [
        r
        for r in synthetic_records()
        if not (r["method"] == "target-only" and r["target"] == "fr" and r["domain"] == "dvd" and r["seed"] == 4)
    ]
    records = [r for r in records if not (r["method"] == "reptile" and r["target"] == "de")]
    spec = table1_spec(METHODS, table1_experiments())
    summary = summarize(records, spec)
    assert summary["cells"]["target-only"]["FR dvd"]["n"] == 4
    assert summary["cells"]["target-only"]["FR avg"]["seeds"] == [0, 1, 2, 3]
    assert summary["cells"]["reptile"]["DE books"]["mean"] is None
    assert summary["cells"]["reptile"]["Avg"]["mean"] is None
    text = render_markdown(summary, spec, n_seeds=5)
    reptile = next(line for line in text.splitlines() if line.startswith("| Reptile |"))
    assert reptile.strip("| ").split(" | ")[9] == "–"


def test_write_tables_writes_json_csv_and_markdown(tmp_path):
    records = synthetic_records()
    spec = table1_spec(METHODS, table1_experiments())
    paths = write_tables(tmp_path, records, spec, meta={"seeds": [0, 1, 2, 3, 4]}, n_seeds=5)
    data = json.loads(paths["json"].read_text())
    assert len(data["records"]) == len(records) == 4 * 9 * 5
    assert data["test"]["alternative"] == "greater" and data["significance"]["FR books"]["significant"]
    assert paths["csv"].read_text().count("\n") == len(records) + 1
    assert "| MGL |" in paths["md"].read_text()


def test_an_ablation_table_reuses_the_spec():
    """A table with other rows and a single average column: the same summarize/render."""
    from mgl.grid import Column, TableSpec

    exps = table1_experiments()
    spec = TableSpec(
        "table3",
        "Ablation (average accuracy)",
        ["mgl-no-meta", "mgl"],
        [Column("Avg", tuple((e.target, e.domain) for e in exps), average=True)],
        significance=False,
    )
    records = [
        {**r, "method": "mgl-no-meta" if r["method"] == "reptile" else r["method"]}
        for r in synthetic_records()
        if r["method"] in ("reptile", "mgl")
    ]
    text = render_markdown(summarize(records, spec), spec)
    assert "| Method | Avg | Δ vs MGL |" in text and "| MGL w/o Meta |" in text and "†" not in text


# --- the command line --------------------------------------------------------------------------


def mgl(*args, cwd):
    return subprocess.run([sys.executable, "-m", "mgl", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.process
def test_bad_method_is_a_one_line_error(tmp_path):
    proc = mgl(
        "experiment",
        "table1",
        "--root",
        str(tmp_path),
        "--methods",
        "mix,zero-shot",
        "--out",
        str(tmp_path / "out"),
        "--quiet",
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert "zero-shot" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(not DATA, reason="MGL_DATA is unset: export MGL_DATA=<folder holding cls-acl10-unprocessed/>")
def test_table1_quick_end_to_end_and_resumable(tmp_path):
    out = tmp_path / "grid"
    args = [
        "experiment",
        "table1",
        "--quick",
        "--root",
        str(Path(DATA) / "cls-acl10-unprocessed"),
        "--out",
        str(out),
        "--quiet",
    ]
    proc = mgl(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    methods = [
        "logreg-target",
        "logreg-pooled",
        "target-only",
        "mix",
        "multi-task",
        "fine-tune",
        "reptile",
        "mgl",
        "ensemble",
    ]
    cells = sorted((out / "cells").glob("*.json"))
    assert len(cells) == len(methods) * 2  # one target, one domain, 2 seeds
    assert len(list((out / "cells").glob("*.probs.npz"))) == len(cells)  # every cell keeps its probabilities
    assert "18 cell(s) computed, 0 already done" in proc.stdout
    table = json.loads((out / "table1.json").read_text())
    assert len(table["records"]) == 18 and table["methods"] == methods
    by = {(r["method"], r["seed"]): r for r in table["records"]}
    for r in table["records"]:
        assert r["target"] == "ja" and r["domain"] == "books" and r["sources"] == ["en", "fr", "de"]
        assert r["n_test"] == 40 and r["n_train_target"] == 40  # 20 per class at --quick scale
    assert np.mean([by[("mgl", s)]["accuracy"] for s in (0, 1)]) > 0.6  # chance is 0.5
    assert np.mean([by[("logreg-pooled", s)]["accuracy"] for s in (0, 1)]) > 0.6
    md = (out / "table1.md").read_text()
    assert "| Method | JA books | Δ vs MGL |" in md
    for name in ("Target-Only", "Mix", "Multi-task", "Fine-tune", "Reptile", "MGL", "LogReg (pooled)", "Ensemble"):
        assert f"| {name} |" in md
    assert (out / "table1.csv").read_text().count("\n") == 19

    mtimes = {p.name: p.stat().st_mtime_ns for p in cells}
    proc = mgl(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "0 cell(s) computed, 18 already done" in proc.stdout
    assert {p.name: p.stat().st_mtime_ns for p in cells} == mtimes

    gone = out / "cells" / "reptile__ja__books__seed1.json"
    before = json.loads(gone.read_text())
    gone.unlink()
    proc = mgl(*args, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "1 cell(s) computed, 17 already done" in proc.stdout
    after = json.loads(gone.read_text())
    assert after["accuracy"] == before["accuracy"]  # seeded: the same result again
    assert {p.name: p.stat().st_mtime_ns for p in cells if p.name != gone.name} == {
        k: v for k, v in mtimes.items() if k != gone.name
    }


def test_fingerprint_counts_the_pooling_head_settings_only_with_a_head():
    a, b = RunConfig(), RunConfig()
    b.encoder.pooling_queries, b.encoder.pooling_lr = 2, 0.5
    assert config_fingerprint(a) == config_fingerprint(b)  # no head: its settings do nothing
    a.encoder.pooling_head = b.encoder.pooling_head = "attention"
    assert config_fingerprint(a) != config_fingerprint(b)
    assert config_fingerprint(a) != config_fingerprint(RunConfig())


@pytest.mark.slow
def test_a_grid_resets_the_pooling_head_before_every_method(tmp_path, tiny_bert_dir, monkeypatch):
    """The head's weights are the features' state: every method starts from mean pooling, so a
    method run after another that trained the head gets what it gets when run first."""
    from cli_helpers import write_reviews_csv

    from mgl.config import load_config
    from mgl.grid import Experiment
    from mgl.grid.runner import CellRunner

    monkeypatch.setenv("MGL_HOME", str(tmp_path / "home"))
    csv_path = write_reviews_csv(tmp_path / "reviews.csv")
    base = load_config(
        "amazon",
        None,
        [
            f"data.name={csv_path}",
            "data.columns=text=text,label=stars,language=lang,split=split",
            "data.labels=1=negative,2=negative,3=neutral,4=positive,5=positive",
            f"encoder.model={tiny_bert_dir}",
            "encoder.max_length=32",
            "encoder.precision=fp32",
            "encoder.pooling_head=attention",
            "encoder.pooling_lr=1e-2",
            "mgl.n_support=2",
            "mgl.n_query=6",
            "mgl.k_neighbours=4",
            "mgl.train_episodes=8",
            "mgl.max_rounds=2",
            "mgl.test_episodes=2",
            "mgl.eval_times=2",
            "mgl.hidden_dim=16",
            "data.target_fraction=1.0",
        ],
    ).validate()
    experiment = Experiment("fr", None, ("en", "de"))
    first = dict(CellRunner(base, progress=False).run_group(experiment, 0, ["logreg-pooled"]))
    after = dict(CellRunner(base, progress=False).run_group(experiment, 0, ["mix", "mgl", "logreg-pooled"]))
    assert after["logreg-pooled"]["accuracy"] == first["logreg-pooled"]["accuracy"]
    assert after["logreg-pooled"]["details"]["C"] == first["logreg-pooled"]["details"]["C"]
    assert after["logreg-pooled"]["details"]["val_scores"] == first["logreg-pooled"]["details"]["val_scores"]
    # and the methods that train do train the head
    import torch

    from mgl.methods import fit_and_score

    runner = CellRunner(base, progress=False)
    cfg, data, features, encoder, _ = runner._features(experiment, 0)
    initial = features.state_dict()
    assert torch.count_nonzero(initial["pooling_head.queries"]) == 0  # mean pooling
    for method in ("mix", "mgl"):
        features.load_state_dict(initial)
        fit_and_score(method, data, features, cfg, seed=0, device=encoder.device)
        assert torch.count_nonzero(features.state_dict()["pooling_head.queries"]) > 0, method


def test_workers_read_the_token_states_of_the_planning_process(tmp_path, tiny_bert_dir, monkeypatch):
    """The runner carries the token-state folder it was made under to its workers (a Ray worker's
    MGL_HOME is the cluster's), as it does the embedding cache's."""
    import pickle

    from cli_helpers import write_reviews_csv

    from mgl.config import load_config
    from mgl.grid import Experiment
    from mgl.grid.runner import CellRunner

    monkeypatch.setenv("MGL_HOME", str(tmp_path / "planner"))
    csv_path = write_reviews_csv(tmp_path / "reviews.csv")
    base = load_config(
        "amazon",
        None,
        [
            f"data.name={csv_path}",
            "data.columns=text=text,label=stars,language=lang,split=split",
            "data.labels=1=negative,2=negative,3=neutral,4=positive,5=positive",
            f"encoder.model={tiny_bert_dir}",
            "encoder.max_length=32",
            "encoder.precision=fp32",
            "encoder.pooling_head=attention",
            "data.target_fraction=1.0",
        ],
    ).validate()
    runner = CellRunner(base, progress=False)
    assert runner.prefix_root == str(tmp_path / "planner" / "prefix-states")
    assert runner.prepare(Experiment("fr", None, ("en", "de")), 0) > 0  # the planning process fills the store
    stored = list((tmp_path / "planner" / "prefix-states").glob("*/shard-*.f16"))
    assert stored
    sizes = {p: p.stat().st_size for p in stored}
    monkeypatch.setenv("MGL_HOME", str(tmp_path / "worker"))
    worker = pickle.loads(pickle.dumps(runner))
    worker._features(Experiment("fr", None, ("en", "de")), 0)
    assert not (tmp_path / "worker" / "prefix-states").exists()  # nothing computed again elsewhere
    assert {p: p.stat().st_size for p in stored} == sizes
    assert CellRunner(load_config("amazon"), progress=False).prefix_root is None  # frozen vectors: no states
