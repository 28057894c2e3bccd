"""PAWS-X loader: unquoted TSV pairs, labels, the fixed 60/20/20 split, real data."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from mgl.data.examples import count_by
from mgl.data.pawsx import load_pawsx
from mgl.errors import DataError

pytestmark = pytest.mark.unit


def write_pawsx(root: Path, language: str, labels: list[str]) -> Path:
    folder = root / language
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["id\tsentence1\tsentence2\tlabel"]
    lines += [f'{i}\t"{language}" first {i} .\tsecond "{i} .\t{label}' for i, label in enumerate(labels, start=1)]
    path = folder / "dev_2k.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_small_tree(tmp_path: Path) -> None:
    root = tmp_path / "paws-x"
    for lang in ("en", "ko"):
        write_pawsx(root, lang, ["1", "0"] * 10)
    examples = load_pawsx(root)
    assert [ex.language for ex in examples[:1]] == ["en"] and len(examples) == 40
    first = examples[0]
    assert first.text == '"en" first 1 .' and first.text_pair == 'second "1 .'
    assert first.label == "paraphrase" and first.uid == "en/dev_2k.tsv#1" and first.domain is None
    counts = count_by(examples, "language", "split", "label")
    for lang in ("en", "ko"):
        for label in ("paraphrase", "not_paraphrase"):
            assert [counts[(lang, s, label)] for s in ("train", "validation", "test")] == [6, 2, 2]
    assert load_pawsx(tmp_path) == examples  # the folder holding paws-x/ works too
    only = load_pawsx(root, languages=["ko"], splits=["test"])
    assert {(ex.language, ex.split) for ex in only} == {("ko", "test")} and len(only) == 4


def test_bad_label_and_missing_language(tmp_path: Path) -> None:
    path = write_pawsx(tmp_path, "fr", ["1", "0", "2"])
    with pytest.raises(DataError, match=rf"^{path}, record 4: unknown label '2'"):
        load_pawsx(tmp_path)
    with pytest.raises(DataError, match="file not found"):
        load_pawsx(tmp_path, languages=["de"])
    with pytest.raises(DataError, match="not a PAWS-X folder"):
        load_pawsx(tmp_path / "fr")


@pytest.mark.integration
def test_real_pawsx(pawsx_root: Path) -> None:
    examples = load_pawsx(pawsx_root)
    languages = sorted({ex.language for ex in examples})
    assert languages == ["de", "en", "es", "fr", "ja", "ko", "zh"]
    per_language = Counter(ex.language for ex in examples)
    assert set(per_language.values()) == {2000}
    sizes = count_by(examples, "language", "split")
    for lang in languages:
        assert [sizes[(lang, s)] for s in ("train", "validation", "test")] == [1200, 400, 400]
    # stratified: each split's share of a label is within one example of its quota
    per_label = Counter((ex.language, ex.label) for ex in examples)
    cells = count_by(examples, "language", "split", "label")
    fractions = {"train": 0.6, "validation": 0.2, "test": 0.2}
    for (lang, split, label), n in cells.items():
        assert abs(n - fractions[split] * per_label[(lang, label)]) < 1
    assert all(ex.text.strip() and ex.text_pair and ex.text_pair.strip() for ex in examples)
    random.seed(99)
    assert load_pawsx(pawsx_root, languages=["ja", "zh"]) == [ex for ex in examples if ex.language in ("ja", "zh")]
