"""``mgl data validate --sources --target`` answers as ``mgl train`` does, case by case: where train
errors validate errors with the same message, where train gives a notice validate gives it too."""

import csv

import pytest
from cli_helpers import THREE_CLASS, TINY_SETTINGS, run_mgl

pytestmark = pytest.mark.unit


def _rows(reviews_csv):
    with open(reviews_csv, encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _write(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def _both(tmp_path, data, tiny_bert_dir, *extra):
    v = run_mgl("data", "validate", data, *THREE_CLASS, "--sources", "en,de", "--target", "fr", *extra)
    t = run_mgl(
        "train", "--data", data, *THREE_CLASS, "--sources", "en,de", "--target", "fr", "--encoder", tiny_bert_dir,
        "--out", tmp_path / "run", "--quiet", *TINY_SETTINGS, *extra,
    )  # fmt: skip
    return v, t


def _last_line(err: str) -> str:
    return [line for line in err.splitlines() if line.strip()][-1]


def test_target_without_a_class_is_a_notice_in_both(tmp_path, reviews_csv, tiny_bert_dir):
    rows = [r for r in _rows(reviews_csv) if not (r["lang"] == "fr" and r["split"] == "train" and r["stars"] == "3")]
    data = _write(tmp_path / "d.csv", rows)
    (vc, _, verr), (tc, _, terr) = _both(
        tmp_path, data, tiny_bert_dir, "--set", "data.target_fraction=1.0", "--method", "logreg-pooled"
    )
    assert vc == 0 and tc == 0, (verr, terr)
    needle = "show no example of 'neutral'"
    assert needle in verr and needle in terr


def test_class_only_in_the_target_errors_in_both_and_offers_the_choice(tmp_path, reviews_csv, tiny_bert_dir):
    rows = _rows(reviews_csv)
    for r in rows:
        if r["lang"] == "fr" and r["split"] == "train" and r["stars"] == "5":
            r["stars"] = "6"
    data = _write(tmp_path / "d.csv", rows)
    labels = ["--labels", "1=negative,2=negative,3=neutral,4=positive,5=positive,6=religion"]
    columns = ["--columns", "text=text,label=stars,language=lang,split=split"]
    every = ["--set", "data.target_fraction=1.0"]  # a 10% subsample could leave the class out altogether
    v = run_mgl(
        "data", "validate", data, *columns, *labels, "--sources", "en,de", "--target", "fr", "--method", "mgl", *every
    )
    t = run_mgl(
        "train", "--data", data, *columns, *labels, "--sources", "en,de", "--target", "fr", "--encoder", tiny_bert_dir,
        "--out", tmp_path / "run", "--quiet", *TINY_SETTINGS, "--method", "mgl", *every,
    )  # fmt: skip
    assert v[0] == 2 and t[0] == 2
    assert "'religion' are labelled only in the target 'fr'" in v[2]
    assert _last_line(v[2]) == _last_line(t[2])
    assert "drop them" in v[2] and "--method logreg-pooled" in v[2]
    # the choice offered works: a method that pools labels trains on it
    ok = run_mgl(
        "data", "validate", data, *columns, *labels, "--sources", "en,de", "--target", "fr", "--method", "logreg-pooled"
    )
    assert ok[0] == 0, ok[2]
    assert "class 'religion' appears only in language 'fr'" in ok[2]


def test_zero_shot_needs_no_target_label_in_both(tmp_path, reviews_csv, tiny_bert_dir):
    rows = _rows(reviews_csv)
    for r in rows:
        if r["lang"] == "fr" and r["split"] != "test":
            r["stars"], r["split"] = "", "train"
    data = _write(tmp_path / "d.csv", rows)
    (vc, _, verr), (tc, _, terr) = _both(tmp_path, data, tiny_bert_dir, "--method", "logreg-pooled")
    assert vc == 0 and tc == 0, (verr, terr)
    assert "zero-shot" in verr and "zero-shot" in terr
    (vc, _, verr), (tc, _, terr) = _both(tmp_path, data, tiny_bert_dir, "--method", "logreg-target")
    assert vc == 2 and tc == 2
    assert _last_line(verr) == _last_line(terr)


def test_a_small_target_validation_set_is_named_at_train_and_in_the_card(tmp_path, reviews_csv, tiny_bert_dir):
    code, _, err = run_mgl(
        "train", "--data", reviews_csv, *THREE_CLASS, "--sources", "en,de", "--target", "fr", "--encoder",
        tiny_bert_dir, "--out", tmp_path / "run", "--save", tmp_path / "model", "--quiet", *TINY_SETTINGS,
        "--method", "logreg-pooled", "--target-fraction", "1.0",
    )  # fmt: skip
    assert code == 0, err
    assert "has 15 validation row(s): the calibration temperature" in err
    v = run_mgl(
        "data", "validate", reviews_csv, *THREE_CLASS, "--sources", "en,de", "--target", "fr",
        "--method", "logreg-pooled", "--set", "data.target_fraction=1.0",
    )  # fmt: skip
    assert v[0] == 0 and "has 15 validation row(s): the calibration temperature, the choice" in v[2]
    assert (
        "**A small validation set:** the target has 15 validation rows"
        in (tmp_path / "model" / "README.md").read_text()
    )
