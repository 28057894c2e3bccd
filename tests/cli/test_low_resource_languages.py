"""The users mgl names: a low-resource target language by any code (SIB-200's Flores-200 codes, ISO
639-3, ISO 639-1), trained, saved and used to classify, end to end on the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cli_helpers import TINY_SETTINGS, run_mgl

pytestmark = pytest.mark.unit

SMALL = [*TINY_SETTINGS, "--set", "encoder.precision=fp32", "--set", "data.max_per_class=12", "--seed", "0", "--quiet"]


def sib_root() -> Path:
    data = os.environ.get("MGL_DATA")
    if not data or not (Path(data) / "sib-200").is_dir():
        pytest.skip("MGL_DATA is unset or holds no sib-200/ (export MGL_DATA=../shared/data)")
    return Path(data) / "sib-200"


@pytest.mark.integration
def test_sib200_trains_saves_and_predicts_yoruba_whatever_the_spelling(tiny_bert_dir, tmp_path):
    root = sib_root()
    probs = {}
    for target in ("yor_Latn", "yor", "yo"):
        model = tmp_path / f"model-{target}"
        code, _, err = run_mgl(
            "train",
            "--data",
            "sib-200",
            "--root",
            root,
            "--sources",
            "eng_Latn,fra_Latn,zho_Hans,arb_Arab",
            "--target",
            target,
            "--encoder",
            tiny_bert_dir,
            "--method",
            "logreg-pooled",
            "--target-fraction",
            "0.5",
            "--out",
            tmp_path / f"run-{target}",
            "--save",
            model,
            *SMALL,
        )
        assert code == 0, err
        meta = json.loads((model / "mgl_model.json").read_text(encoding="utf-8"))
        assert meta["target"] == "yo" and meta["sources"] == ["en", "fr", "zh", "arb"]
        assert len(meta["labels"]) == 7
        src = tmp_path / "yo.txt"
        src.write_text("Ìjọba àpapọ̀ ti kéde ètò ìlera tuntun.\nẸgbẹ́ agbábọ́ọ̀lù náà borí ìdíje.\n", encoding="utf-8")
        out = tmp_path / f"pred-{target}.jsonl"
        code, _, err = run_mgl("predict", "--model", model, "--input", src, "--output", out, "--quiet")
        assert code == 0, err
        probs[target] = [json.loads(line)["probabilities"] for line in out.read_text(encoding="utf-8").splitlines()]
        assert len(probs[target]) == 2 and all(len(p) == 7 for p in probs[target])
    assert probs["yor_Latn"] == probs["yor"] == probs["yo"]  # one language, one model


@pytest.mark.parametrize("code", ["quy", "bug", "ace_Arab"])
def test_a_users_csv_with_a_three_letter_or_flores_code_trains(tiny_bert_dir, tmp_path, code):
    rows = ["text,label,language,split"]
    words = {"pos": "good great fine", "neg": "bad awful poor"}
    for lang in ("en", "fr", code):
        for split, n in (("train", 6), ("validation", 3), ("test", 3)):
            for label, w in words.items():
                rows += [f"{w} {lang} {i},{label},{lang},{split}" for i in range(n)]
    path = tmp_path / "own.csv"
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code_, _, err = run_mgl(
        "train",
        "--data",
        path,
        "--columns",
        "text=text,label=label,language=language,split=split",
        "--sources",
        "en,fr",
        "--target",
        code,
        "--target-fraction",
        "1.0",
        "--encoder",
        tiny_bert_dir,
        "--method",
        "logreg-pooled",
        "--out",
        tmp_path / "run",
        *SMALL,
    )
    assert code_ == 0, err
    result = json.loads((tmp_path / "run" / "result.json").read_text(encoding="utf-8"))
    assert result["target"] == {"quy": "quy", "bug": "bug", "ace_Arab": "ace-Arab"}[code]


def test_an_unknown_target_code_is_exit_2(tiny_bert_dir, tmp_path):
    code, _, err = run_mgl(
        "train",
        "--data",
        "sib-200",
        "--root",
        tmp_path,
        "--sources",
        "en",
        "--target",
        "klingon",
        "--out",
        tmp_path / "run",
        "--quiet",
    )
    assert code == 2 and "target language 'klingon' is not a language code" in err


@pytest.mark.parametrize(
    "method",
    ["ensemble", "mgl", "mix", "multi-task", "fine-tune", "reptile", "target-only", "logreg-pooled", "logreg-target"],
)
@pytest.mark.integration
def test_a_class_the_target_never_showed_stays_predictable_and_is_named(tiny_bert_dir, tmp_path, method):
    """At 4 target labels over 7 classes, most classes are missing from the target's training rows: every
    method trains, its probabilities cover all 7 classes, and the result names the classes never shown."""
    root = sib_root()
    out = tmp_path / "run"
    code, _, err = run_mgl(
        "train",
        "--data",
        "sib-200",
        "--root",
        root,
        "--sources",
        "eng_Latn,fra_Latn",
        "--target",
        "yor_Latn",
        "--target-count",
        "4",
        "--encoder",
        tiny_bert_dir,
        "--method",
        method,
        "--out",
        out,
        "--save",
        tmp_path / "model",
        *SMALL,
    )
    assert code == 0, err
    result = json.loads((out / "result.json").read_text(encoding="utf-8"))
    unseen = result["target_unseen_classes"]
    assert unseen and f"show no example of {', '.join(repr(c) for c in unseen)}" in err
    assert len(result["labels"]) == 7 and result["f1_averaging"] == "macro"
    src = tmp_path / "yo.txt"
    src.write_text("Ìjọba àpapọ̀ ti kéde ètò ìlera tuntun.\n", encoding="utf-8")
    code, _, err = run_mgl(
        "predict", "--model", tmp_path / "model", "--input", src, "--output", tmp_path / "p.jsonl", "--quiet"
    )
    assert code == 0, err
    probs = json.loads((tmp_path / "p.jsonl").read_text(encoding="utf-8"))["probabilities"]
    assert len(probs) == 7 and abs(sum(probs.values()) - 1) < 1e-6


@pytest.mark.integration
def test_compare_runs_sib200_with_fixed_sources_and_resumes(tiny_bert_dir, tmp_path):
    """`mgl experiment compare --data sib-200 --sources ...`: every target has the same four sources (the
    SIB-200 paper's protocol), targets in any spelling; a second run finds every cell done."""
    root = sib_root()
    args = [
        "experiment",
        "compare",
        "--data",
        "sib-200",
        "--root",
        root,
        "--sources",
        "eng_Latn,fra_Latn",
        "--targets",
        "yor_Latn,quy",
        "--quick",
        "--seeds",
        "1",
        "--methods",
        "mgl,mix",
        "--out",
        tmp_path / "grid",
        "--set",
        f"encoder.model={tiny_bert_dir}",
        "--set",
        "encoder.precision=fp32",
        "--set",
        "data.max_per_class=8",
        "--quiet",
    ]
    code, _, err = run_mgl(*args)
    assert code == 0, err
    summary = json.loads((tmp_path / "grid" / "compare.json").read_text(encoding="utf-8"))
    cells = sorted((tmp_path / "grid" / "cells").glob("*.json"))
    records = [json.loads(p.read_text(encoding="utf-8")) for p in cells]
    assert {r["target"] for r in records} == {"yo", "quy"} and {tuple(r["sources"]) for r in records} == {("en", "fr")}
    assert summary
    code, _out, err = run_mgl(*args)
    assert code == 0, err and sorted((tmp_path / "grid" / "cells").glob("*.json")) == cells


def test_a_target_lacking_a_class_in_all_its_data_trains_and_says_so(reviews_csv, tiny_bert_dir, tmp_path):
    """Formerly an error: a target whose every row lacks a class (here French without 'neutral') now
    trains like one whose few labels miss it; the class is predicted from the sources and named."""
    import csv

    with open(reviews_csv, encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if not (r["lang"] == "fr" and r["stars"] == "3")]
    path = tmp_path / "lacks_neutral.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    from cli_helpers import THREE_CLASS

    code, _, err = run_mgl(
        "train",
        "--data",
        path,
        *THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--target-fraction",
        "1.0",
        "--encoder",
        tiny_bert_dir,
        "--method",
        "mgl",
        "--out",
        tmp_path / "run",
        *SMALL,
    )
    assert code == 0, err
    assert "show no example of 'neutral'" in err
    result = json.loads((tmp_path / "run" / "result.json").read_text(encoding="utf-8"))
    assert result["target_unseen_classes"] == ["neutral"] and result["labels"] == ["negative", "neutral", "positive"]


@pytest.mark.integration
def test_seven_classes_report_macro_f1_and_the_confusion_matrix(tiny_bert_dir, tmp_path):
    root = sib_root()
    code, _, err = run_mgl(
        "train",
        "--data",
        "sib-200",
        "--root",
        root,
        "--sources",
        "eng_Latn,fra_Latn",
        "--target",
        "yor_Latn",
        "--encoder",
        tiny_bert_dir,
        "--method",
        "logreg-pooled",
        "--out",
        tmp_path / "run",
        *SMALL,
    )
    assert code == 0, err
    result = json.loads((tmp_path / "run" / "result.json").read_text(encoding="utf-8"))
    matrix = result["confusion_matrix"]
    assert len(matrix) == 7 and all(len(row) == 7 for row in matrix)
    assert sum(map(sum, matrix)) == result["n_test"]
    assert abs(sum(matrix[i][i] for i in range(7)) / result["n_test"] - result["accuracy"]) < 1e-9
    assert result["macro_f1"] == result["f1"]  # with more than two classes the reported F1 is the macro-F1
