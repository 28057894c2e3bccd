"""Text pairs end to end on the tiny encoder: a JSONL of sentence pairs in three languages (of our own
making) through ``mgl run`` (MGL) and through the grid (``mgl experiment table2`` on a file, with a
baseline); the encoder receives the pairs (one pair input), and the results report precision, recall
and F1 of the positive class."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest
from cli_helpers import TINY_SETTINGS, run_mgl

pytestmark = pytest.mark.unit

#: Sentences per language, from the tiny tokenizer's vocabulary (tests/conftest.py).
SENTENCES = {
    "en": [
        "the book is very good",
        "i hate this boring film",
        "the movie was great",
        "it is a bad book",
        "i loved the film",
        "this book was terrible",
        "really good movie",
        "not a good film",
    ],
    "de": [
        "das buch ist sehr gut",
        "ich und das buch",
        "der film ist schlecht",
        "das buch ist nicht schlecht",
        "ein gut buch",
        "eine sehr schlecht buch",
        "das ist ein buch",
        "ich und der film",
    ],
    "fr": [
        "le livre est très bon",
        "la film est mauvais",
        "un livre pas bon",
        "je et le livre",
        "les livre est bon",
        "une très mauvais livre",
        "le livre est pas mauvais",
        "la livre et je",
    ],
}
SPLIT_SIZES = {"train": 10, "validation": 5, "test": 5}
COLUMNS = [
    "--columns",
    "text=s1,text_pair=s2,label=label,language=lang,split=split",
    "--labels",
    "1=paraphrase,0=not_paraphrase",
]


def write_pairs_jsonl(path: Path, *, seed: int = 0) -> Path:
    """Pairs (s1, s2): label 1 when s2 is s1 with two words swapped, 0 when s2 is another sentence."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for lang, sentences in SENTENCES.items():
            for split, n in SPLIT_SIZES.items():
                for label in (1, 0):
                    for _ in range(n):
                        s1 = rng.choice(sentences)
                        if label:
                            words = s1.split()
                            i, j = rng.sample(range(len(words)), 2)
                            words[i], words[j] = words[j], words[i]
                            s2 = " ".join(words)
                        else:
                            s2 = rng.choice([s for s in sentences if s != s1])
                        fh.write(
                            json.dumps(
                                {"s1": s1, "s2": s2, "label": label, "lang": lang, "split": split}, ensure_ascii=False
                            )
                            + "\n"
                        )
    return path


@pytest.fixture()
def pairs_file(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MGL_HOME", str(tmp_path / "home"))  # a fresh embedding cache: the encoder really runs
    return write_pairs_jsonl(tmp_path / "pairs.jsonl")


@pytest.fixture()
def embed_calls(monkeypatch) -> list[tuple[list[str], list | None]]:
    """Every ``TextEncoder.embed`` call's texts and pairs (the method still runs)."""
    from mgl.encoders.text_encoder import TextEncoder

    calls: list[tuple[list[str], list | None]] = []
    original = TextEncoder.embed

    def spy(self, texts, pairs=None, **kwargs):
        calls.append((list(texts), None if pairs is None else list(pairs)))
        return original(self, texts, pairs, **kwargs)

    monkeypatch.setattr(TextEncoder, "embed", spy)
    return calls


def file_pairs(path: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        rec = json.loads(line)
        out.setdefault(rec["s1"], set()).add(rec["s2"])
    return out


def assert_pairs_reached_the_encoder(calls, path: Path) -> None:
    assert calls, "the encoder was never called"
    truth = file_pairs(path)
    for texts, pairs in calls:
        assert pairs is not None and len(pairs) == len(texts)
        assert all(p in truth[t] for t, p in zip(texts, pairs))


def test_the_pair_changes_the_embedding(tiny_bert_dir):
    """One pair input ([CLS] A [SEP] B [SEP]) is not the first text alone, and the order of the pair matters."""
    from mgl.encoders import EncoderSpec, TextEncoder

    enc = TextEncoder(EncoderSpec(model=str(tiny_bert_dir), max_length=32), device="cpu")
    texts, pairs = ["the book is very good", "le livre est bon"], ["the very good book", "un livre pas bon"]
    alone = enc.embed(texts, progress=False)
    paired = enc.embed(texts, pairs, progress=False)
    swapped = enc.embed(pairs, texts, progress=False)
    assert np.abs(paired - alone).max() > 1e-3 and np.abs(paired - swapped).max() > 1e-3
    np.testing.assert_allclose(enc.embed(texts, pairs, progress=False), paired, rtol=1e-5, atol=1e-6)


def test_pair_task_through_mgl_run(tmp_path, pairs_file, embed_calls, tiny_bert_dir):
    code, out, err = run_mgl(
        "run",
        "--preset",
        "search-relevance",
        "--data",
        pairs_file,
        *COLUMNS,
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
        "--quiet",
        *TINY_SETTINGS,
    )
    assert code == 0, err
    assert_pairs_reached_the_encoder(embed_calls, pairs_file)
    result = json.loads((tmp_path / "run" / "result.json").read_text())
    assert result["labels"] == ["not_paraphrase", "paraphrase"]
    assert result["f1_averaging"] == "positive class" and result["n_test"] == 10
    p, r, f1 = result["precision"], result["recall"], result["f1"]
    assert all(0.0 <= v <= 1.0 for v in (p, r, f1))
    assert f1 == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)
    assert "precision" in out


@pytest.mark.slow
def test_pair_task_through_the_grid_with_a_baseline(tmp_path, pairs_file, embed_calls, tiny_bert_dir):
    settings = [
        "mgl.n_support=2",
        "mgl.n_query=6",
        "mgl.k_neighbours=4",
        "mgl.hidden_dim=16",
        "encoder.max_length=32",
        f"encoder.model={tiny_bert_dir}",
        "data.target_fraction=1.0",
    ]
    out = tmp_path / "grid"
    code, _stdout, err = run_mgl(
        "experiment",
        "table2",
        "--quick",
        "--data",
        str(pairs_file),
        *COLUMNS,
        "--languages",
        "en,de,fr",
        "--targets",
        "fr,de",
        "--methods",
        "mix,mgl",
        "--seeds",
        "2",
        "--out",
        out,
        "--quiet",
        *[x for s in settings for x in ("--set", s)],
    )
    assert code == 0, err
    assert_pairs_reached_the_encoder(embed_calls, pairs_file)
    table = json.loads((out / "table2.json").read_text())
    assert table["methods"] == ["logreg-target", "logreg-pooled", "mix", "mgl"]
    assert len(table["records"]) == 4 * 2 * 2
    for rec in table["records"]:
        assert rec["f1_averaging"] == "positive class" and rec["n_test"] == 10
        assert rec["sources"] == [lang for lang in ("en", "de", "fr") if lang != rec["target"]]
        assert all(0.0 <= rec[k] <= 1.0 for k in ("precision", "recall", "f1"))
    md = (out / "table2.md").read_text()
    assert "| Method | FR P | FR R | FR F1 | DE P | DE R | DE F1 | Avg F1 | Δ vs MGL |" in md
    assert "| Mix |" in md and "| MGL |" in md
