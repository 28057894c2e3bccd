"""`mgl run` / `mgl train` on a CSV of our own making: 3 classes, 3 languages, star ratings mapped to labels."""

import json

import pytest
from cli_helpers import THREE_CLASS, TINY_SETTINGS, run_mgl

pytestmark = pytest.mark.unit


def test_three_class_three_language_csv_end_to_end(tmp_path, reviews_csv, tiny_bert_dir):
    code, out, err = run_mgl(
        "run",
        "--data",
        reviews_csv,
        *THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--target-fraction",
        "1.0",
        "--encoder",
        tiny_bert_dir,
        "--out",
        tmp_path,
        "--quiet",
        *TINY_SETTINGS,
        "--method",
        "mgl",
    )
    assert code == 0, err
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["labels"] == ["negative", "neutral", "positive"]
    assert result["f1_averaging"] == "macro"
    assert result["n_test"] == 15  # 5 per class
    assert result["counts"]["n_train_fr"] == 30
    assert 0.0 <= result["accuracy"] <= 1.0
    assert not (tmp_path / "checkpoint.pt").exists()  # removed once the result is written
    assert "accuracy" in out


def test_same_seed_same_result(tmp_path, reviews_csv, tiny_bert_dir):
    """Determinism: the same seed, data and device give the same result.json (timings aside)."""
    results = []
    for name in ("a", "b"):
        code, _, err = run_mgl(
            "run",
            "--data",
            reviews_csv,
            *THREE_CLASS,
            "--sources",
            "en,de",
            "--target",
            "fr",
            "--target-fraction",
            "0.5",
            "--encoder",
            tiny_bert_dir,
            "--out",
            tmp_path / name,
            "--quiet",
            "--seed",
            "3",
            *TINY_SETTINGS,
            "--method",
            "mgl",
        )
        assert code == 0, err
        results.append(json.loads((tmp_path / name / "result.json").read_text()))

    def strip(obj):
        if isinstance(obj, dict):
            return {k: strip(v) for k, v in obj.items() if not k.endswith("seconds")}
        if isinstance(obj, list):
            return [strip(v) for v in obj]
        return obj

    assert strip(results[0]) == strip(results[1])
    assert results[0]["stages"][0]["history"]  # the comparison covers the training history too


def test_model_saved_with_a_gpu_device_loads_where_it_runs(tiny_model, tmp_path):
    """The saved configuration's device (e.g. cuda at training time) does not bind prediction."""
    import shutil

    import torch

    from mgl.io import sha256_file
    from mgl.model.classifier import MGLClassifier

    model = tmp_path / "model"
    shutil.copytree(tiny_model, model)
    meta = json.loads((model / "mgl_model.json").read_text())
    meta["config"]["encoder"]["device"] = "cuda"
    (model / "mgl_model.json").write_text(json.dumps(meta))
    sums = json.loads((model / "checksums.json").read_text())
    sums["mgl_model.json"] = sha256_file(model / "mgl_model.json")
    (model / "checksums.json").write_text(json.dumps(sums))
    clf = MGLClassifier.load(model)
    assert clf.device == (torch.device("cuda", 0) if torch.cuda.is_available() else torch.device("cpu"))
    assert clf.predict(["very good book"])[0] in clf.label_names


def _precision_recall(confusion: list[list[int]], positive: int) -> tuple[float, float]:
    """Precision and recall of class ``positive`` from a confusion matrix (rows true, columns predicted)."""
    hit = confusion[positive][positive]
    predicted = sum(row[positive] for row in confusion)
    actual = sum(confusion[positive])
    return (hit / predicted if predicted else 0.0), (hit / actual if actual else 0.0)


def test_positive_label_setting_chooses_the_reported_class(tmp_path, reviews_csv, tiny_bert_dir):
    """Binary precision/recall/F1 are of data.positive_label when it is set; a non-class is an error.

    The target's test rows gain one text four times, three times positive and once negative: one
    text gets one prediction, so no model can be perfect and the confusion matrix is unbalanced by
    construction. The two settings must then report different pairs, on any CPU and any precision.
    """
    data = tmp_path / "reviews.csv"
    conflicting = "".join(f"the book was,{stars},fr,test\n" for stars in ("5", "5", "4", "1"))
    data.write_text(reviews_csv.read_text(encoding="utf-8") + conflicting, encoding="utf-8")
    two_class = [
        "--columns",
        "text=text,label=stars,language=lang,split=split",
        "--labels",
        "1=negative,2=negative,3=,4=positive,5=positive",
    ]
    results = {}
    for positive in ("positive", "negative"):
        code, _, err = run_mgl(
            "run",
            "--data",
            data,
            *two_class,
            "--sources",
            "en,de",
            "--target",
            "fr",
            "--target-fraction",
            "1.0",
            "--encoder",
            tiny_bert_dir,
            "--out",
            tmp_path / positive,
            "--quiet",
            "--seed",
            "1",
            *TINY_SETTINGS,
            "--set",
            f"data.positive_label={positive}",
        )
        assert code == 0, err
        results[positive] = json.loads((tmp_path / positive / "result.json").read_text())
    a, b = results["positive"], results["negative"]
    # the same model; only the reported class differs
    assert a["accuracy"] == b["accuracy"] < 1.0
    assert a["confusion_matrix"] == b["confusion_matrix"]
    confusion = a["confusion_matrix"]
    # classes in label order: negative (0), positive (1)
    assert (a["precision"], a["recall"]) == pytest.approx(_precision_recall(confusion, 1))
    assert (b["precision"], b["recall"]) == pytest.approx(_precision_recall(confusion, 0))
    assert (a["precision"], a["recall"]) != (b["precision"], b["recall"])
    code, _, err = run_mgl(
        "run",
        "--data",
        reviews_csv,
        *two_class,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--encoder",
        tiny_bert_dir,
        "--out",
        tmp_path / "bad",
        "--quiet",
        *TINY_SETTINGS,
        "--set",
        "data.positive_label=great",
    )
    assert code == 2 and "great" in err


def assert_predicts_two(tmp_path, labels):
    """`mgl predict` with the model saved in tmp_path/model labels two texts with known labels."""
    (tmp_path / "in.txt").write_text("very good book\nbad terrible book\n")
    code, _, err = run_mgl(
        "predict",
        "--model",
        tmp_path / "model",
        "--input",
        tmp_path / "in.txt",
        "--output",
        tmp_path / "out.jsonl",
        "--quiet",
    )
    assert code == 0, err
    rows = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert len(rows) == 2 and all(r["label"] in labels for r in rows)


@pytest.mark.slow
def test_top_k_encoder_training_through_the_cli(tmp_path, reviews_csv, tiny_bert_dir, monkeypatch):
    """`--encoder-train top-k`: the top layer trains over cached states, the model saves it, predict uses it."""
    monkeypatch.setenv("MGL_HOME", str(tmp_path / "home"))
    code, _, err = run_mgl(
        "run",
        "--data",
        reviews_csv,
        *THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--encoder",
        tiny_bert_dir,
        "--encoder-train",
        "top-k",
        "--top-layers",
        "1",
        "--out",
        tmp_path / "run",
        "--save",
        tmp_path / "model",
        "--quiet",
        *TINY_SETTINGS,
    )
    assert code == 0, err
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["encoder_train"] == "top-k"
    assert list((tmp_path / "home" / "prefix-states").glob("*/shard-*.f16"))
    assert (tmp_path / "model" / "encoder.safetensors").is_file()
    assert_predicts_two(tmp_path, result["labels"])


@pytest.mark.slow
def test_pooling_head_through_the_cli(tmp_path, reviews_csv, tiny_bert_dir, monkeypatch):
    """`--pooling-head attention`: the head trains over cached final states, the model saves it, predict uses it."""
    monkeypatch.setenv("MGL_HOME", str(tmp_path / "home"))
    code, _, err = run_mgl(
        "run",
        "--data",
        reviews_csv,
        *THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--encoder",
        tiny_bert_dir,
        "--pooling-head",
        "attention",
        "--out",
        tmp_path / "run",
        "--save",
        tmp_path / "model",
        "--quiet",
        *TINY_SETTINGS,
    )
    assert code == 0, err
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["pooling_head"] == "attention" and result["encoder_train"] == "none"
    assert result["config"]["encoder"]["pooling_queries"] == 4
    assert list((tmp_path / "home" / "prefix-states").glob("*/shard-*.f16"))
    assert (tmp_path / "model" / "pooling_head.safetensors").is_file()
    assert not (tmp_path / "model" / "encoder.safetensors").exists()
    assert_predicts_two(tmp_path, result["labels"])
    # a head with a train mode is refused with a one-line error, exit status 2
    code, _, err = run_mgl(
        "run",
        "--data",
        reviews_csv,
        *THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--encoder",
        tiny_bert_dir,
        "--pooling-head",
        "attention",
        "--encoder-train",
        "all",
        "--out",
        tmp_path / "bad",
        "--quiet",
        *TINY_SETTINGS,
    )
    assert code == 2 and "needs encoder.train=none" in err


def test_regions_fold_into_their_language_and_unused_languages_are_named(tmp_path, reviews_csv, tiny_bert_dir, caplog):
    """A file whose rows say fr and fr-FR, en and en-US trains on all of them as fr and en (one notice
    names the spellings), rows in a language that is neither source nor target are named in a notice,
    and --save '~/m' reports the folder it wrote."""
    import csv
    import logging

    rows = list(csv.DictReader(reviews_csv.open(encoding="utf-8")))
    for i, row in enumerate(rows):
        if i % 2 and row["lang"] in ("fr", "en"):
            row["lang"] = {"fr": "fr-FR", "en": "en-US"}[row["lang"]]
    rows += [{"text": "hola libro bueno", "stars": "5", "lang": "es", "split": "train"}] * 3
    data = tmp_path / "regions.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "stars", "lang", "split"])
        writer.writeheader()
        writer.writerows(rows)
    fr_rows = sum(r["lang"] in ("fr", "fr-FR") and r["split"] == "test" and r["stars"] != "3" for r in rows)
    code, out, err = run_mgl("data", "stats", str(data), "--columns", "text=text,label=stars,language=lang,split=split")
    assert code == 0, err
    assert "fr-FR" not in out and "en-US" not in out
    monkeypatch_home = pytest.MonkeyPatch()
    monkeypatch_home.setenv("HOME", str(tmp_path))
    try:
        with caplog.at_level(logging.WARNING, logger="mgl"):
            code, out, err = run_mgl(
                "train",
                "--data",
                data,
                "--columns",
                "text=text,label=stars,language=lang,split=split",
                "--labels",
                "1=negative,2=negative,3=,4=positive,5=positive",
                "--sources",
                "en,de",
                "--target",
                "fr",
                "--target-fraction",
                "1.0",
                "--encoder",
                tiny_bert_dir,
                "--out",
                tmp_path / "run",
                "--save",
                "~/m",
                "--quiet",
                *TINY_SETTINGS,
                "--method",
                "logreg-pooled",
            )
    finally:
        monkeypatch_home.undo()
    assert code == 0, err
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["n_test"] == fr_rows  # the fr-FR rows are scored with the fr rows
    assert f"model saved to {tmp_path / 'm'}" in out and (tmp_path / "m" / "mgl_model.json").is_file()
    notes = [r.getMessage() for r in caplog.records]
    assert any("'fr', 'fr-FR' -> fr" in n and "'en', 'en-US' -> en" in n for n in notes), notes
    assert any("neither a source nor the target are not used: es (3)" in n for n in notes), notes


def test_validate_and_train_give_one_answer_on_a_target_lacking_a_class(tmp_path, reviews_csv, tiny_bert_dir):
    """The issue's case: the target's training rows show no negative review. Training trains, with a
    notice naming the class; validation answers the same (exit 0 and a notice), not an error."""
    import csv

    rows = [
        r
        for r in csv.DictReader(reviews_csv.open(encoding="utf-8"))
        if not (r["lang"] == "fr" and r["split"] == "train" and r["stars"] in ("1", "2"))
    ]
    data = tmp_path / "lacking.csv"
    with data.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "stars", "lang", "split"])
        writer.writeheader()
        writer.writerows(rows)
    mapping = ["--columns", "text=text,label=stars,language=lang,split=split", "--labels", "1=neg,2=neg,3=,4=pos,5=pos"]
    code, out, err = run_mgl("data", "validate", data, *mapping)
    assert code == 0, err
    assert "notice" in out and "language 'fr' has no example of class(es) 'neg' in split 'train'" in err
    code, _, err = run_mgl(
        "train", "--data", data, *mapping, "--sources", "en,de", "--target", "fr", "--target-fraction", "1.0",
        "--encoder", tiny_bert_dir, "--out", tmp_path / "run", "--quiet", *TINY_SETTINGS, "--method", "logreg-pooled",
    )  # fmt: skip
    assert code == 0, err
    assert "show no example of 'neg'" in err
