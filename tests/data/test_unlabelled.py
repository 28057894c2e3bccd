"""Unlabelled texts and zero-shot data: rows with an empty label, ``--unlabelled FILE``, no target label."""

import logging

import pytest

from mgl.config import DataConfig
from mgl.data.examples import UNLABELLED, Example
from mgl.data.preparation import load_unlabelled, make_experiment_data
from mgl.data.user_files import load_table
from mgl.data.validation import validate_examples
from mgl.errors import ConfigError, DataError

pytestmark = pytest.mark.unit


def _examples(target_labelled: bool = True, *, per_class: int = 6) -> list[Example]:
    rows = []
    for lang in ("en", "de", "fr"):
        for split in ("train", "validation", "test"):
            for label in ("neg", "pos"):
                for i in range(per_class):
                    ex = Example(
                        f"{lang} {split} {label} {i}", label, lang, split=split, uid=f"{lang}-{split}-{label}-{i}"
                    )
                    if lang == "fr" and split == "train" and not target_labelled:
                        ex = ex.unlabelled()
                    rows.append(ex)
    return rows


def test_an_empty_label_is_an_unlabelled_text_and_a_test_row_needs_its_label(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text(
        "text,label,language,split\nbon,pos,fr,train\nà lire,,fr,train\nsans,,fr,unlabelled\n", encoding="utf-8"
    )
    examples = load_table(path)
    assert [(ex.label, ex.split) for ex in examples] == [("pos", "train"), ("", UNLABELLED), ("", UNLABELLED)]
    assert [ex.labelled for ex in examples] == [True, False, False]
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label,language,split\nbon,pos,fr,train\nà lire,,fr,test\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"record 3.*a test row needs its label"):
        load_table(bad)
    labelled_unlabelled = tmp_path / "mixed.csv"
    labelled_unlabelled.write_text("text,label,language,split\nbon,pos,fr,unlabelled\n", encoding="utf-8")
    with pytest.raises(DataError, match="the split says 'unlabelled' but the row has the label"):
        load_table(labelled_unlabelled)


def test_a_file_of_unlabelled_texts_in_the_target_language(tmp_path):
    txt = tmp_path / "pool.txt"
    txt.write_text("premier texte\n\ndeuxième texte\n", encoding="utf-8")
    examples = load_unlabelled(str(txt), "fr")
    assert [(ex.text, ex.language, ex.split, ex.label) for ex in examples] == [
        ("premier texte", "fr", UNLABELLED, ""),
        ("deuxième texte", "fr", UNLABELLED, ""),
    ]
    jsonl = tmp_path / "pool.jsonl"
    jsonl.write_text('{"text": "un"}\n{"text": "deux", "label": "pos"}\n', encoding="utf-8")
    assert [ex.split for ex in load_unlabelled(str(jsonl), "fr")] == [UNLABELLED, UNLABELLED]  # labels not read
    with pytest.raises(DataError, match="no such file of unlabelled texts"):
        load_unlabelled(str(tmp_path / "missing.txt"), "fr")


@pytest.mark.parametrize("how", ["count", "fraction", "unlabelled rows"])
def test_zero_shot_keeps_no_target_label(how, caplog):
    examples = _examples(target_labelled=how != "unlabelled rows")
    share = {"count": {"target_count": 0}, "fraction": {"target_fraction": 0.0}}.get(how, {"target_fraction": 0.5})
    with caplog.at_level(logging.WARNING, logger="mgl"):
        data = make_experiment_data(examples, ["en", "de"], "fr", rest_unlabelled=True, **share)
    t = data.table
    assert data.zero_shot
    assert len(t.rows(languages="fr", split="train")) == 0
    assert len(t.rows(languages="fr", split="validation")) == 0  # its labelled validation rows are left out too
    assert data.dropped_target_validation == 12
    assert len(data.unlabelled_rows) == 12  # its training texts, without their labels
    assert (t.labels[data.unlabelled_rows] == -1).all()
    assert len(t.rows(languages="fr", split="test")) == 12
    assert t.label_names == ["neg", "pos"]
    assert "zero-shot" in caplog.text and "never sees a target label" in caplog.text


def test_the_training_rows_a_subsample_leaves_become_unlabelled_texts():
    data = make_experiment_data(_examples(), ["en", "de"], "fr", target_count=4, rest_unlabelled=True, seed=1)
    assert not data.zero_shot
    assert len(data.table.rows(languages="fr", split="train")) == 4
    assert len(data.unlabelled_rows) == 8
    plain = make_experiment_data(_examples(), ["en", "de"], "fr", target_count=4, seed=1)
    assert len(plain.unlabelled_rows) == 0
    # the same labelled rows either way
    assert [ex.uid for ex in data.examples if ex.labelled and ex.language == "fr" and ex.split == "train"] == [
        ex.uid for ex in plain.examples if ex.language == "fr" and ex.split == "train"
    ]


def test_the_sources_unlabelled_texts_are_left_out_with_a_notice(caplog):
    examples = [*_examples(), Example("en sans étiquette", "", "en", split=UNLABELLED, uid="en-u")]
    with caplog.at_level(logging.WARNING, logger="mgl"):
        data = make_experiment_data(examples, ["en", "de"], "fr", target_fraction=1.0)
    assert "unlabelled texts of the sources are not used: en (1)" in caplog.text
    assert all(ex.labelled for ex in data.examples)


def test_zero_shot_settings_are_accepted_and_negative_ones_refused():
    DataConfig(target_count=0).validate()
    DataConfig(target_fraction=0.0).validate()
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        DataConfig(target_fraction=-0.1).validate()
    with pytest.raises(ConfigError, match=">= 0"):
        DataConfig(target_count=-1, target_fraction=None).validate()


def test_validate_says_what_train_does_with_unlabelled_texts():
    notices = validate_examples(_examples(target_labelled=False), source="d.csv")
    (notice,) = [n for n in notices if "unlabelled" in n]
    assert "'fr' has 12 unlabelled text(s)" in notice and "zero-shot" in notice
    notices = validate_examples(
        [*_examples(), Example("fr texte", "", "fr", split=UNLABELLED, uid="fr-u")], source="d.csv"
    )
    assert any("beside its 12 training label(s)" in n for n in notices)
