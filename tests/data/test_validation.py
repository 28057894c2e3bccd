"""Dataset checks: per-example problems name the record, per-language ones the language and class."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgl.data.examples import Example
from mgl.data.user_files import load_table
from mgl.data.validation import require_min_per_class, validate_examples
from mgl.errors import DataError

pytestmark = pytest.mark.unit


def ex(text: str = "t", label: str = "pos", language: str = "en", split: str = "train", **kw) -> Example:
    return Example(text=text, label=label, language=language, split=split, **kw)


GOOD = [
    ex(label="pos", uid="a"),
    ex(label="neg", uid="b"),
    ex(label="pos", language="fr", uid="c"),
    ex(label="neg", language="fr", uid="d"),
]


def test_good_dataset_passes() -> None:
    validate_examples(GOOD, source="good")


@pytest.mark.parametrize(
    "bad, words",
    [
        (ex(text="  ", uid="x"), "empty text (x)"),
        (ex(label="", uid="x"), "missing label"),
        (ex(language="EN", uid="x"), "language 'EN' is not a canonical language tag"),
        (ex(language="eng", uid="x"), "language 'eng'"),
        (ex(split="dev", uid="x"), "split 'dev' is not one of"),
        (ex(uid="a"), "uid 'a' already used by example 1"),
    ],
)
def test_bad_example_names_source_and_record(bad: Example, words: str) -> None:
    with pytest.raises(DataError) as caught:
        validate_examples([*GOOD, bad], source="mydata.csv")
    assert str(caught.value).startswith("mydata.csv, record 5: ")
    assert words in str(caught.value)


def test_language_lacking_a_class_is_a_notice_as_training_gives(fixtures: Path) -> None:
    """A language without a class trains (as the target: the class comes from the sources), so
    validation answers as training does: a notice that says both roles and what to do, no error."""
    path = fixtures / "lacks_class.csv"
    notices = validate_examples(load_table(path), source=path)
    lacking = [n for n in notices if n.startswith("language 'fr'")]
    assert len(lacking) == 1 and "'negative'" in lacking[0] and "split 'train'" in lacking[0]
    assert "as the target" in lacking[0] and "--labels" in lacking[0]
    only = [n for n in notices if n.startswith("class 'negative' appears only in language 'en'")]
    assert len(only) == 1 and "--labels negative=" in only[0]


def test_class_missing_in_one_split_only() -> None:
    examples = [*GOOD, ex(label="pos", language="en", split="test", uid="t1")]
    notices = validate_examples(examples, source="s")
    assert any("language 'en' has no example of class(es) 'neg' in split 'test'" in n for n in notices)
    assert validate_examples(GOOD, source="good") == []


def test_mixed_pairs_and_empty() -> None:
    with pytest.raises(DataError, match="mixes text pairs"):
        validate_examples([*GOOD, ex(text_pair="other", uid="p")], source="s")
    with pytest.raises(DataError, match="no examples"):
        validate_examples([], source="s")


def test_require_min_per_class() -> None:
    examples = [ex(label="pos", uid=str(i)) for i in range(5)] + [ex(label="neg", uid=f"n{i}") for i in range(2)]
    require_min_per_class(examples, 2, what="en train")
    with pytest.raises(
        DataError, match=r"^en train: language 'en' has 2 example\(s\) of class 'neg', fewer than the 3"
    ):
        require_min_per_class(examples, 3, what="en train")
    with pytest.raises(DataError, match=r"language 'en' has 7 example\(s\), fewer than the 8"):
        require_min_per_class(examples, 8, what="en train")
    # a class another language has but this one lacks counts as 0
    with pytest.raises(DataError, match="language 'fr' has 0 example"):
        require_min_per_class([*examples, ex(label="pos", language="fr", uid="f")], 1, what="support")
