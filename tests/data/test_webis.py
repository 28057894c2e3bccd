"""Webis-CLS-10 loader: parsing, labels, the fixed train/validation split, errors, real data."""

from __future__ import annotations

import random
import shutil
import time
from collections import Counter
from pathlib import Path

import pytest

from mgl.data.examples import count_by, select
from mgl.data.webis import join_review, load_webis, read_review_file
from mgl.errors import DataError

pytestmark = pytest.mark.unit

# ---------------------------------------------------------------- single files (handwritten fixtures)


def test_good_file_text_label_and_uid(fixtures: Path) -> None:
    examples = read_review_file(fixtures / "good.review.xml", language="ja", domain="books", split="test")
    assert [ex.label for ex in examples] == ["positive", "negative", "negative", "positive"]
    # summary and body stripped and joined by a newline; entities decoded
    assert examples[0].text == "Great book\nI loved it & read it twice."
    # a blank summary or an empty body is left out, with its newline
    assert examples[1].text == "つまらない。"
    assert examples[2].text == "残念"
    assert examples[3].uid == "ja/books/good.review.xml#4"
    assert {ex.split for ex in examples} == {"test"}
    assert {(ex.language, ex.domain) for ex in examples} == {("ja", "books")}


def test_join_review() -> None:
    assert join_review(" Title \n", "\n Body. ") == "Title\nBody."
    assert join_review(None, "Body") == "Body"
    assert join_review("  ", None) == ""


@pytest.mark.parametrize(
    "name, record, words",
    [
        ("malformed.review.xml", 2, "malformed XML at line 10"),
        ("truncated.review.xml", 2, "malformed XML"),
        ("rating3.review.xml", 2, "rating '3.0' has no label"),
        ("no_rating.review.xml", 3, "no rating"),
        ("empty_review.review.xml", 2, "neither a summary nor a text"),
    ],
)
def test_bad_files_name_file_and_item(fixtures: Path, name: str, record: int, words: str) -> None:
    with pytest.raises(DataError) as caught:
        read_review_file(fixtures / name, language="en", domain="books")
    message = str(caught.value)
    assert message.startswith(f"{fixtures / name}, record {record}: "), message
    assert words in message
    assert "\n" not in message


def test_non_numeric_rating(tmp_path: Path) -> None:
    path = tmp_path / "train.review"
    path.write_text("<items><item><summary>x</summary><rating>five</rating></item></items>", encoding="utf-8")
    with pytest.raises(DataError, match=r"train\.review, record 1: rating 'five' is not a number"):
        read_review_file(path, language="en", domain="dvd")


def test_latin1_bytes_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "test.review"
    path.write_bytes(
        b'<?xml version="1.0" encoding="utf-8"?>\n<items><item><summary>ok</summary><rating>5.0</rating></item>\n'
        b"<item><summary>Caf\xe9</summary><rating>5.0</rating></item></items>"
    )
    with pytest.raises(DataError, match=r"test\.review, record 2: malformed XML at line 3"):
        read_review_file(path, language="fr", domain="dvd")


# ---------------------------------------------------------------- whole trees (built in tmp_path)


def test_small_tree_layout_languages_and_split(make_webis_tree) -> None:
    root = make_webis_tree(per_label=10)
    examples = load_webis(root)
    assert sorted({ex.language for ex in examples}) == ["de", "en", "fr", "ja"]
    counts = count_by(examples, "language", "domain", "split", "label")
    for lang in ("en", "de", "fr", "ja"):
        for domain in ("books", "dvd", "music"):
            for label in ("negative", "positive"):
                assert counts[(lang, domain, "train", label)] == 8
                assert counts[(lang, domain, "validation", label)] == 2
                assert counts[(lang, domain, "test", label)] == 10
    assert examples[0].uid == "en/books/train.review#1"
    ja = select(examples, language="ja", domain="music", split="test")
    assert ja[0].uid == "ja/music/test.review#1" and "jp/music/test" in ja[0].text
    # the parent folder of cls-acl10-unprocessed works as root too
    assert load_webis(root.parent) == examples


def test_language_and_domain_selection(make_webis_tree) -> None:
    root = make_webis_tree(per_label=5)
    as_ja = load_webis(root, languages=["ja"], domains=["dvd"], splits=["test"])
    as_jp = load_webis(root, languages="jp", domains=["dvd"], splits=("test",))
    assert as_ja == as_jp and len(as_ja) == 10
    assert {(ex.language, ex.domain, ex.split) for ex in as_ja} == {("ja", "dvd", "test")}
    train_only = load_webis(root, languages=["de"], splits=["train"])
    assert {ex.split for ex in train_only} == {"train"} and len(train_only) == 3 * 8
    with pytest.raises(DataError, match="unknown Webis-CLS-10 language"):
        load_webis(root, languages=["es"])
    with pytest.raises(DataError, match="unknown Webis-CLS-10 domain"):
        load_webis(root, domains=["kitchen"])


def test_ja_folder_is_accepted(make_webis_tree) -> None:
    root = make_webis_tree(per_label=3, ja_folder="ja")
    assert {ex.language for ex in load_webis(root, languages=["ja"])} == {"ja"}


def test_missing_file_and_folder(make_webis_tree, tmp_path: Path) -> None:
    root = make_webis_tree(per_label=3)
    (root / "fr" / "music" / "test.review").unlink()
    with pytest.raises(DataError, match=r"fr/music/test\.review: file not found"):
        load_webis(root)
    shutil.rmtree(root / "jp")
    with pytest.raises(DataError, match="no folder for language 'ja'"):
        load_webis(root, languages=["ja"])
    with pytest.raises(DataError, match="not a folder"):
        load_webis(tmp_path / "nowhere")


def test_split_is_fixed_and_ignores_global_seeds(make_webis_tree) -> None:
    root = make_webis_tree(per_label=50)
    random.seed(1)
    first = load_webis(root, languages=["en"], domains=["books"])
    random.seed(2)
    random.random()
    second = load_webis(root, languages=["en"], domains=["books"])
    assert first == second
    validation = [ex.uid for ex in first if ex.split == "validation"]
    assert len(validation) == 20
    # not simply the first or last records of the file
    numbers = sorted(int(uid.rsplit("#", 1)[1]) for uid in validation)
    assert numbers != list(range(1, 21)) and numbers != list(range(81, 101))
    # another cell gets its own split
    other = load_webis(root, languages=["de"], domains=["books"], splits=["validation"])
    assert sorted(int(ex.uid.rsplit("#", 1)[1]) for ex in other) != numbers


# ---------------------------------------------------------------- real data (MGL_DATA)


@pytest.fixture(scope="module")
def webis_all(webis_root: Path):
    start = time.perf_counter()
    examples = load_webis(webis_root)
    return examples, time.perf_counter() - start


@pytest.mark.integration
def test_real_files_counts(webis_all) -> None:
    examples, seconds = webis_all
    assert len(examples) == 24 * 2000
    assert sorted({ex.language for ex in examples}) == ["de", "en", "fr", "ja"]
    per_file = Counter((ex.uid.split("#")[0], ex.label) for ex in examples)
    assert len(per_file) == 24 * 2
    assert set(per_file.values()) == {1000}
    cells = count_by(examples, "language", "domain", "split", "label")
    assert len(cells) == 4 * 3 * 3 * 2
    for (lang, domain, split, label), n in cells.items():
        assert n == {"train": 800, "validation": 200, "test": 1000}[split], (lang, domain, split, label)
    assert all(ex.text.strip() for ex in examples)
    assert seconds < 30, f"loading all 24 files took {seconds:.1f} s"


@pytest.mark.integration
def test_real_split_identical_across_loads(webis_all, webis_root: Path) -> None:
    examples, _ = webis_all
    random.seed(12345)
    again = load_webis(webis_root, splits=["train", "validation"])
    assert again == [ex for ex in examples if ex.split != "test"]
