"""Every method is a model: trained by the product, saved, loaded in a new process, predicting what
the grid's cell of the same seed reports (one scorer).

The tests on the fitted models (the ``saved`` fixture trains every method, ~9 s of CPU) are
``slow``: they run in ``make test`` and CI, and ``make check`` stays quick on every CPU kind."""

import json
import subprocess
import sys

import numpy as np
import pytest
from cli_helpers import write_reviews_csv

from mgl.config import load_config
from mgl.data.preparation import prepare_data
from mgl.grid import Experiment
from mgl.grid.runner import CellRunner

pytestmark = pytest.mark.unit

METHODS = [
    "mgl",
    "mgl-no-meta",
    "target-only",
    "mix",
    "multi-task",
    "fine-tune",
    "reptile",
    "logreg-target",
    "logreg-pooled",
    "logreg-chars",
    "ensemble",
]
TEXTS = ["very good book", "bad terrible book", "the book", "le livre est bon", "schlecht buch", "un livre"]


@pytest.fixture(scope="module")
def setting(tmp_path_factory, tiny_bert_dir):
    base = tmp_path_factory.mktemp("methods")
    csv_path = write_reviews_csv(base / "reviews.csv")
    cfg = load_config(
        "amazon",
        None,
        [
            f"data.name={csv_path}",
            "data.columns=text=text,label=stars,language=lang,split=split",
            "data.labels=1=negative,2=negative,3=neutral,4=positive,5=positive",
            "data.sources=en,de",
            "data.target=fr",
            f"encoder.model={tiny_bert_dir}",
            "encoder.max_length=32",
            "encoder.precision=fp32",
            "mgl.n_support=2",
            "mgl.n_query=6",
            "mgl.k_neighbours=4",
            "mgl.train_episodes=8",
            "mgl.max_rounds=2",
            "mgl.test_episodes=2",
            "mgl.eval_times=2",
            "mgl.hidden_dim=16",
            "data.target_fraction=1.0",
            "seed=0",
        ],
    ).validate()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MGL_HOME", str(base / "home"))
        cells = dict(CellRunner(cfg, progress=False).run_group(Experiment("fr", None, ("en", "de")), 0, METHODS))
        yield base, cfg, cells


@pytest.fixture(scope="module")
def saved(setting):
    """Each method trained by the product (seed 0), its probabilities before saving, saved."""
    import copy

    from mgl.model.classifier import Classifier

    base, cfg, _ = setting
    out = {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MGL_HOME", str(base / "home"))
        for method in METHODS:
            c = copy.deepcopy(cfg)
            c.method = method
            clf = Classifier(c).fit_data(prepare_data(c.data, 0), progress=False)
            directory = clf.save_pretrained(base / "models" / method)
            out[method] = (clf, directory, clf.predict_proba(TEXTS))
    return out


@pytest.mark.slow
def test_every_method_reports_what_its_grid_cell_reports(setting, saved):
    _, _, cells = setting
    for method, (clf, _, _) in saved.items():
        assert clf.report["accuracy"] == pytest.approx(cells[method]["accuracy"], abs=1e-12), method
        assert clf.report["val_accuracy"] == pytest.approx(cells[method]["val_accuracy"], abs=1e-12), method
    members = saved["ensemble"][0].report["members"]
    assert list(members) == ["mgl", "mix", "logreg-pooled", "logreg-chars"]
    for name, m in members.items():
        assert m["test_accuracy"] == pytest.approx(cells[name]["accuracy"]), name
    assert cells["ensemble"]["details"]["member_accuracy"]["mix"]["test"] == cells["mix"]["accuracy"]


@pytest.mark.process
@pytest.mark.slow
def test_every_method_predicts_the_same_after_loading_in_a_new_process(saved, setting, tmp_path):
    base = setting[0]
    script = (
        "import json, sys, numpy as np\n"
        "from mgl import Classifier\n"
        "texts = json.loads(sys.argv[1])\n"
        "for d in sys.argv[2:]:\n"
        "    clf = Classifier.from_pretrained(d)\n"
        "    np.save(d + '.npy', clf.predict_proba(texts))\n"
        "    print(clf.method)\n"
    )
    dirs = [str(saved[m][1]) for m in METHODS]
    env = {**__import__("os").environ, "MGL_HOME": str(base / "home")}
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(TEXTS), *dirs], capture_output=True, text=True, env=env, timeout=600
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == METHODS
    for method in METHODS:
        again = np.load(str(saved[method][1]) + ".npy")
        np.testing.assert_allclose(again, saved[method][2], atol=1e-6, err_msg=method)
        meta = json.loads((saved[method][1] / "mgl_model.json").read_text())
        assert meta["method"] == method and meta["version"] == 2


@pytest.mark.slow
def test_the_ensemble_holds_its_members_and_explains_with_neighbours_and_the_graph(saved):
    clf, directory, _ = saved["ensemble"]
    meta = json.loads((directory / "mgl_model.json").read_text())
    assert meta["heads"]["ensemble"]["settings"]["members"] == ["mgl", "mix", "logreg-pooled", "logreg-chars"]
    assert [meta["heads"][m]["kind"] for m in ("mgl", "mix", "logreg-pooled", "logreg-chars")] == [
        "meta-graph",
        "mlp",
        "logreg",
        "char-ngram",
    ]
    from safetensors import safe_open

    with safe_open(str(directory / "head.safetensors"), "pt") as fh:
        keys = set(fh.keys())
    assert {"logreg-pooled/coef", "logreg-pooled/mean", "mgl/support_rows"} <= keys
    assert not list(directory.glob("*.pkl")) and not list(directory.glob("*.joblib"))
    p = clf.explain(TEXTS[:2])[0].to_dict()
    assert p["explanation"]["method"] == "ensemble" and p["explanation"]["neighbours"][0]["text"]
    assert "self_weight" in p["explanation"]["graph"]
    card = (directory / "README.md").read_text()
    assert "Ensemble classifier" in card and "| member | validation accuracy | test accuracy |" in card
    assert "## Calibration" in card


@pytest.mark.slow
def test_the_char_ngram_model_reads_texts_and_its_card_says_its_vocabulary_is_inside(saved):
    clf, directory, _ = saved["logreg-chars"]
    assert clf.reads_texts and not saved["logreg-pooled"][0].reads_texts
    card = (directory / "README.md").read_text()
    assert "Reads the texts themselves:** yes" in card
    assert "Reads the texts themselves" not in (saved["logreg-pooled"][1] / "README.md").read_text()
    from mgl.errors import MGLError

    queries = clf.embed(TEXTS[:2])
    with pytest.raises(MGLError, match="pass texts"):
        clf.predict_proba_embeddings(queries)
    np.testing.assert_array_equal(clf.predict_proba_embeddings(queries, TEXTS[:2]), clf.predict_proba(TEXTS[:2]))


@pytest.mark.slow
def test_a_logistic_regression_explains_without_a_graph(saved):
    clf = saved["logreg-pooled"][0]
    p = clf.explain(TEXTS[:1])[0]
    assert p.graph is None and p.neighbours and p.method == "logreg-pooled"


@pytest.mark.slow
def test_calibration_never_changes_a_label(saved):
    for method, (clf, _, probs) in saved.items():
        raw = clf.predict_proba(TEXTS, calibrated=False)
        assert (raw.argmax(1) == probs.argmax(1)).all(), method
        cal = clf.report["calibration"]
        assert cal["temperature"] > 0 and "ece_validation_before" in cal and "ece_test_after" in cal


@pytest.mark.slow
def test_a_saved_model_loads_strictly(saved, tmp_path):
    import shutil

    from mgl.errors import MGLError
    from mgl.io import sha256_file

    def tampered(name, edit):
        d = tmp_path / name
        shutil.copytree(saved["ensemble"][1], d)
        meta = json.loads((d / "mgl_model.json").read_text())
        edit(meta)
        (d / "mgl_model.json").write_text(json.dumps(meta))
        sums = json.loads((d / "checksums.json").read_text())
        sums["mgl_model.json"] = sha256_file(d / "mgl_model.json")
        (d / "checksums.json").write_text(json.dumps(sums))
        return d

    from mgl.model.classifier import Classifier

    with pytest.raises(MGLError, match="unknown kind 'forest'"):
        Classifier.from_pretrained(tampered("kind", lambda m: m["heads"]["mix"].update(kind="forest")))
    with pytest.raises(MGLError, match="tensors no head reads"):
        Classifier.from_pretrained(
            tampered("members", lambda m: m["heads"]["ensemble"]["settings"].update(members=["mgl", "mix"]))
        )


@pytest.mark.slow
def test_a_model_in_the_former_mgl_only_format_predicts_as_before(saved, tmp_path):
    """Version 1 (model.safetensors, support.jsonl, support_embeddings.safetensors), written here
    as the former code wrote it, loads as MGL and predicts the same probabilities."""
    import shutil

    from safetensors.torch import save_file

    from mgl.io import sha256_file
    from mgl.model.classifier import Classifier

    clf, directory, _probs = saved["mgl"]
    d = tmp_path / "v1"
    d.mkdir()
    head = clf.head
    save_file({k: v.contiguous() for k, v in head.model.state_dict().items()}, str(d / "model.safetensors"))
    save_file({"embeddings": head.support.contiguous()}, str(d / "support_embeddings.safetensors"))
    with open(d / "support.jsonl", "w") as fh:
        for i in head.support_rows:
            ex = clf.bank.examples[int(i)]
            fh.write(
                json.dumps(
                    {
                        "id": ex.uid,
                        "text": ex.text,
                        "text_pair": None,
                        "label": ex.label,
                        "language": ex.language,
                        "domain": None,
                    }
                )
                + "\n"
            )
    meta = json.loads((directory / "mgl_model.json").read_text())
    for key in ("method", "heads", "temperature"):
        meta.pop(key)
    meta["version"] = 1
    meta["config"].pop("method")
    meta["config"].pop("members")
    (d / "mgl_model.json").write_text(json.dumps(meta))
    shutil.copy(directory / "README.md", d / "README.md")
    files = ["mgl_model.json", "model.safetensors", "support.jsonl", "support_embeddings.safetensors", "README.md"]
    (d / "checksums.json").write_text(json.dumps({f: sha256_file(d / f) for f in files}))
    old = Classifier.from_pretrained(d)
    assert old.method == "mgl" and old.temperature == 1.0
    np.testing.assert_allclose(old.predict_proba(TEXTS), clf.predict_proba(TEXTS, calibrated=False), atol=1e-6)


def test_an_ensemble_row_is_derived_from_finished_cells(setting, tmp_path):
    """The grid's cells keep their probabilities: averaging them afterwards gives the ensemble
    the grid computed (float32 storage aside), and any other choice of members without training."""
    from mgl.grid import Cell, CellStore
    from mgl.grid.derived_ensembles import derive_ensemble

    _, cfg, cells = setting
    experiment = Experiment("fr", None, ("en", "de"))
    store = CellStore(tmp_path / "grid", "fp")
    for method, record in cells.items():
        store.save(Cell(method, experiment, 0), record)
    saved = store.probabilities(Cell("mix", experiment, 0))
    np.testing.assert_allclose(saved["test"], cells["mix"]["probabilities"]["test"], atol=1e-7)
    members = ["mgl", "mix", "logreg-pooled", "logreg-chars"]
    name, records, missing = derive_ensemble(store, cfg, [experiment], [0], members)
    assert name == "ensemble[mgl+mix+logreg-pooled+logreg-chars]" and not missing
    assert records[0]["accuracy"] == pytest.approx(cells["ensemble"]["accuracy"])
    assert records[0]["val_accuracy"] == pytest.approx(cells["ensemble"]["val_accuracy"])
    assert store.load(Cell(name, experiment, 0))["derived_from"] == members
    name, records, missing = derive_ensemble(store, cfg, [experiment], [0, 1], ["reptile", "mix"])
    assert len(records) == 1 and missing and missing[0][1] == 1  # seed 1 has no cells: left out, said


def test_a_grid_group_of_methods_that_read_texts_alone_embeds_nothing(setting, monkeypatch):
    """logreg-chars reads the texts, not the encoder's features: its cells are computed without
    embedding a text, and equal the cell computed beside the other methods."""
    import mgl.encoders.featurizer as featurizer
    from mgl.grid.executors import featured_groups
    from mgl.grid.plan import Cell
    from mgl.methods.registry import needs_features

    base, cfg, cells = setting

    def no_features(*a, **k):
        raise AssertionError("embedded texts for a method that reads none of them")

    monkeypatch.setattr(featurizer, "build_features", no_features)
    monkeypatch.setenv("MGL_HOME", str(base / "home"))
    experiment = Experiment("fr", None, ("en", "de"))
    alone = dict(CellRunner(cfg, progress=False).run_group(experiment, 0, ["logreg-chars"]))
    assert alone["logreg-chars"]["accuracy"] == cells["logreg-chars"]["accuracy"]
    assert alone["logreg-chars"]["embed_seconds"] == 0.0
    assert not needs_features("logreg-chars") and needs_features("mgl") and needs_features("ensemble")
    groups = {(experiment, 0): [Cell("logreg-chars", experiment, 0)], (experiment, 1): [Cell("mix", experiment, 1)]}
    assert featured_groups(groups) == [(experiment, 1)]
