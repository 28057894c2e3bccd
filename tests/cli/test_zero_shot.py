"""From no target label to a served model: ``--target-count 0``, a target whose rows have empty labels,
unlabelled texts centring the features, and ``mgl suggest``, end to end with the tiny encoder."""

import csv
import json

import pytest
import torch
from cli_helpers import THREE_CLASS, TINY_SETTINGS, run_mgl

from mgl import MGLClassifier

pytestmark = pytest.mark.unit


def train(tmp_path, data, encoder, *extra, method="ensemble", columns=THREE_CLASS):
    code, out, err = run_mgl(
        "train", "--data", data, *columns, "--sources", "en,de", "--target", "fr", "--encoder", encoder,
        "--out", tmp_path / "run", "--save", tmp_path / "model", "--quiet", *TINY_SETTINGS,
        "--set", "encoder.precision=fp32", "--method", method, *extra,
    )  # fmt: skip
    return code, out, err


def test_target_count_0_trains_from_the_sources_alone_and_says_so(tmp_path, reviews_csv, tiny_bert_dir):
    code, _, err = train(tmp_path, reviews_csv, tiny_bert_dir, "--target-count", "0")
    assert code == 0, err
    assert "zero-shot" in err and "never sees a target label" in err
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["zero_shot"] is True
    assert result["target_labels"] == {"train": 0, "validation": 0}
    assert result["counts"]["n_train_fr"] == 0 and result["n_test"] == 15
    assert result["val_accuracy"] is None  # no target validation row: no number stands in for one
    assert result["calibration"]["temperature"] == 1.0 and "zero-shot" in result["calibration"]["fitted_on"]
    assert set(result["members"]) == {"mgl", "mix", "logreg-pooled", "logreg-chars"}
    assert [s["name"] for s in result["members"]["mgl"]["stages"]] == ["meta-train"]  # no meta-test stage
    card = (tmp_path / "model" / "README.md").read_text()
    assert "**Zero-shot:** the model never saw a label in fr" in card
    clf = MGLClassifier.from_pretrained(tmp_path / "model")
    assert all(ex.language in ("en", "de") for ex in clf.bank.examples)
    assert set(clf.predict(["très bon livre", "le livre est mauvais"])) <= {"negative", "neutral", "positive"}


def test_a_method_that_needs_target_labels_refuses_zero_shot(tmp_path, reviews_csv, tiny_bert_dir):
    code, _, err = train(tmp_path, reviews_csv, tiny_bert_dir, "--target-fraction", "0", method="logreg-target")
    assert code == 2
    assert "logreg-target trains on the target's labels" in err and "(zero-shot)" in err
    assert not (tmp_path / "model").exists()
    code, _, err = train(tmp_path, reviews_csv, tiny_bert_dir, "--target-count", "0", "--no-meta", method="mgl")
    assert code == 2 and "no meta-train stage" in err


def _without_target_labels(reviews_csv, path):
    with open(reviews_csv, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    for row in rows:
        if row["lang"] == "fr" and row["split"] != "test":
            row["stars"], row["split"] = "", "train"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def test_a_file_whose_target_rows_have_empty_labels_is_zero_shot_and_centres_on_them(
    tmp_path, reviews_csv, tiny_bert_dir
):
    data = _without_target_labels(reviews_csv, tmp_path / "zeroshot.csv")
    code, _, err = run_mgl("data", "validate", data, *THREE_CLASS)
    assert code == 0, err
    assert "'fr' has 45 unlabelled text(s)" in err and "zero-shot" in err
    code, _, err = train(tmp_path / "plain", data, tiny_bert_dir, "--target-fraction", "1.0", method="logreg-pooled")
    assert code == 0, err
    assert "45 unlabelled fr text(s) read but not used: --set encoder.centring=language" in err
    code, _, err = train(
        tmp_path, data, tiny_bert_dir, "--target-fraction", "1.0", "--set", "encoder.centring=language",
        method="logreg-pooled",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["zero_shot"] is True and result["unlabelled_texts"] == 45
    assert (tmp_path / "model" / "centre.safetensors").exists()
    texts = ["très bon livre", "le livre est mauvais", "un livre"]
    clf = MGLClassifier.from_pretrained(tmp_path / "model")
    assert clf.featurizer.centre is not None
    # the saved target mean is taken from every input: the same as centring by hand
    raw = clf.featurizer.encoder.embed(texts, None, batch_size=8)
    import torch

    assert torch.allclose(clf.embed(texts), torch.as_tensor(raw).float() - clf.featurizer.centre, atol=1e-6)


def test_unlabelled_file_option_and_centring_needs_target_texts(tmp_path, reviews_csv, tiny_bert_dir):
    pool = tmp_path / "pool.txt"
    pool.write_text("très bon livre\nle livre est mauvais\nun livre et le film\n", encoding="utf-8")
    code, _, err = train(
        tmp_path, reviews_csv, tiny_bert_dir, "--target-count", "0", "--unlabelled", pool,
        "--set", "encoder.centring=language", method="logreg-pooled",
    )  # fmt: skip
    assert code == 0, err
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["unlabelled_texts"] == 3 and result["zero_shot"] is True
    other = tmp_path / "again"
    other.mkdir()
    code, _, err = train(
        other, reviews_csv, tiny_bert_dir, "--target-count", "0", "--set", "encoder.centring=language",
        method="logreg-pooled",
    )  # fmt: skip
    assert code == 2 and "needs texts of 'fr'" in err


def test_suggest_ranks_unlabelled_texts_and_says_why(tmp_path, tiny_model):
    pool = tmp_path / "pool.jsonl"
    texts = [f"le livre {w} {i}" for i, w in enumerate(["bon", "mauvais", "et", "très", "pas", "un"] * 3)]
    pool.write_text(
        "".join(json.dumps({"id": f"t{i}", "text": t}) + "\n" for i, t in enumerate(texts)), encoding="utf-8"
    )
    out = tmp_path / "suggested.jsonl"
    code, _, err = run_mgl("suggest", "--model", tiny_model, "--input", pool, "-n", "5", "--output", out, "--quiet")
    assert code == 0, err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["rank"] for r in rows] == [1, 2, 3, 4, 5]
    assert len({r["position"] for r in rows}) == 5
    for r in rows:
        assert r["id"] == f"t{r['position']}" and r["text"] == texts[r["position"]]
        assert 0.0 <= r["margin"] <= 1.0 and r["entropy"] >= 0.0
        assert r["nearest_labelled"]["label"] in ("negative", "neutral", "positive")
        assert r["predicted"] == max(r["probabilities"], key=r["probabilities"].get)
    assert [r["margin"] for r in rows] == sorted(r["margin"] for r in rows)  # the most torn first
    code, _, err = run_mgl("suggest", "--model", tiny_model, "--input", pool, "-n", "5", "--output", out, "--quiet")
    assert code == 0, err  # its own earlier suggestions are replaced
    code, _, err = run_mgl("suggest", "--model", tiny_model, "--input", pool, "--strategy", "best", "--quiet")
    assert code == 2 and "unknown strategy 'best'" in err


def test_fit_takes_unlabelled_texts_in_python(reviews_csv, tiny_bert_dir):
    from mgl import load_config
    from mgl.data.user_files import load_table

    examples = [
        ex
        for ex in load_table(
            reviews_csv,
            text="text",
            label="stars",
            language="lang",
            split="split",
            label_map={"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"},
        )
        if not (ex.language == "fr" and ex.split != "test")
    ]
    cfg = load_config(
        "amazon",
        None,
        [
            f"encoder.model={tiny_bert_dir}",
            "encoder.precision=fp32",
            "encoder.centring=language",
            "method=logreg-pooled",
        ],
    )
    pool = ["très bon livre", "le livre est mauvais", "un livre et le film"]
    clf = MGLClassifier(cfg).fit(examples, sources=["en", "de"], target="fr", progress=False, unlabelled=pool)
    assert clf.report["zero_shot"] is True and clf.report["unlabelled_texts"] == 3
    raw = torch.as_tensor(clf.featurizer.encoder.embed(pool, None, batch_size=8)).float()
    torch.testing.assert_close(clf.featurizer.centre, raw.mean(0))  # the target's mean: its unlabelled texts'


def test_zero_shot_grids_leave_out_the_methods_that_need_target_labels():
    from mgl import load_config
    from mgl.cli.experiment import grid_methods
    from mgl.errors import ConfigError

    few = load_config("amazon", None, [])
    assert "logreg-target" in grid_methods(few, ["mgl", "target-only"])
    zero = load_config("amazon", None, ["data.target_fraction=0"])
    assert grid_methods(zero, ["mgl", "ensemble"]) == ["logreg-pooled", "mgl", "ensemble"]
    with pytest.raises(ConfigError, match="target-only train"):
        grid_methods(zero, ["target-only"])
    code, out, _ = run_mgl("experiment", "table1", "--help")
    assert code == 0 and "--seeds" in out  # each grid command is its own (a helper is no command)
