"""Shared test fixtures.

``tiny_bert_dir``: a randomly initialised, tiny BERT encoder and WordPiece tokenizer saved with
``save_pretrained`` into one directory, so tests exercise the real Hugging Face loading path
(``AutoModel.from_pretrained`` / ``AutoTokenizer.from_pretrained``) offline, in milliseconds,
without downloading anything. Built once per test session.

Model: ``BertModel`` (2 layers, hidden 32, 2 heads, FFN 64, 512 positions, 2 token types, no
pooler, like e5), weights drawn from a fixed seed (the global torch RNG is left untouched).
Tokenizer: lower-casing BERT WordPiece over a small vocabulary: the special tokens
``[PAD] [UNK] [CLS] [SEP] [MASK]``, ASCII letters and digits (also as ``##`` continuations, so any
lower-case ASCII word tokenises without ``[UNK]``), punctuation, a few accented letters and some
English/German/French words. Single texts become ``[CLS] A [SEP]``; pairs
``[CLS] A [SEP] B [SEP]`` with token type 1 on the second segment.
"""

from __future__ import annotations

import os
import socket
import string
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

TESTS_DIR = Path(__file__).resolve().parent

# scikit-learn's k-means (mgl suggest) asks joblib's loky for the physical cores, which it finds by
# starting lscpu unless told a count below the machine's; a unit test may start no process (tests/tiers.py)
os.environ.setdefault("LOKY_MAX_CPU_COUNT", "1")

# tests/cli/cli_helpers.py (tiny CSV, tiny settings, the in-process CLI runner) importable from every test
sys.path.insert(0, str(Path(__file__).parent / "cli"))
# tests/methods/baselines/baseline_helpers.py (the synthetic table, small MGL settings) too
sys.path.insert(0, str(Path(__file__).parent / "methods" / "baselines"))
# tests/serve/serve_helpers.py (a real server) and tests/bulk/bulk_helpers.py (a synthetic corpus) too
sys.path.insert(0, str(Path(__file__).parent / "serve"))
sys.path.insert(0, str(Path(__file__).parent / "bulk"))

from cli_helpers import THREE_CLASS, TINY_SETTINGS, run_mgl, write_reviews_csv  # noqa: E402

TINY_BERT_CONFIG = {
    "num_hidden_layers": 2,
    "hidden_size": 32,
    "num_attention_heads": 2,
    "intermediate_size": 64,
    "max_position_embeddings": 512,
    "type_vocab_size": 2,
    "initializer_range": 0.2,  # larger than BERT's 0.02, so that different inputs give clearly different vectors
}
"""Sizes of the ``tiny_bert_dir`` model (the vocabulary size is that of its tokenizer)."""

_SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_WORDS = [
    "the",
    "a",
    "an",
    "is",
    "was",
    "this",
    "that",
    "book",
    "books",
    "film",
    "movie",
    "great",
    "good",
    "bad",
    "terrible",
    "boring",
    "love",
    "loved",
    "hate",
    "hated",
    "not",
    "very",
    "really",
    "i",
    "it",
    "and",
    "of",
    "to",
    "in",
    "passage",
    "query",
    "das",
    "buch",
    "ist",
    "sehr",
    "gut",
    "schlecht",
    "nicht",
    "ein",
    "eine",
    "der",
    "die",
    "und",
    "ich",
    "le",
    "la",
    "les",
    "livre",
    "est",
    "très",
    "bon",
    "mauvais",
    "pas",
    "un",
    "une",
    "et",
    "je",
]


def _tiny_vocab() -> list[str]:
    chars = list(string.ascii_lowercase + string.digits) + list("äöüßéèêàçô")
    vocab = list(_SPECIAL) + list(string.punctuation) + chars + ["##" + c for c in chars]
    for word in _WORDS:
        if word not in vocab:
            vocab.append(word)
    return vocab


def build_tiny_bert(target: Path, *, seed: int = 0) -> Path:
    """Write a tiny random BERT + WordPiece tokenizer into ``target`` (see the module docstring)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import BertConfig, BertModel, BertTokenizerFast

    vocab = _tiny_vocab()
    ids = {tok: i for i, tok in enumerate(vocab)}
    backend = Tokenizer(models.WordPiece(ids, unk_token="[UNK]", max_input_chars_per_word=100))
    backend.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=False, clean_text=True)
    backend.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    backend.post_processor = processors.TemplateProcessing(
        single="[CLS] $A:0 [SEP]:0",
        pair="[CLS] $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", ids["[CLS]"]), ("[SEP]", ids["[SEP]"])],
    )
    backend.decoder = decoders.WordPiece(prefix="##")
    tokenizer = BertTokenizerFast(
        tokenizer_object=backend,
        unk_token="[UNK]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        cls_token="[CLS]",
        mask_token="[MASK]",
        model_max_length=TINY_BERT_CONFIG["max_position_embeddings"],
    )
    config = BertConfig(vocab_size=len(vocab), pad_token_id=ids["[PAD]"], **TINY_BERT_CONFIG)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = BertModel(config, add_pooling_layer=False)
    model.eval()
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target)
    tokenizer.save_pretrained(target)
    return target


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Directory of a tiny random BERT + tokenizer, loadable offline with AutoModel/AutoTokenizer.

    Session-scoped and shared: treat it as read-only (copy it before modifying anything).
    """
    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert") / "model")


def former_default_model(target: Path) -> tuple[Path, list[str], np.ndarray]:
    """A model saved exactly as mgl saved it while an unset ``encoder.prefix`` meant the embedded
    e5's ``"passage: "``: trained here (the real e5, fp32, synthetic reviews, tiny settings) with
    the prefix ``passage: ``, then its ``mgl_model.json`` given ``encoder.prefix: null``, as the
    former code wrote it (the resolved prefix stays in the saved encoder spec and identity), and
    its checksum renewed. Returns (model directory, texts, their probabilities before saving)."""
    import hashlib
    import json

    from mgl import MGLClassifier, load_config
    from mgl.data.user_files import load_table

    csv_path = write_reviews_csv(target.parent / f"{target.name}-reviews.csv")
    examples = load_table(
        csv_path,
        text="text",
        label="stars",
        language="lang",
        split="split",
        label_map={"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"},
    )
    cfg = load_config(
        "amazon",
        None,
        [
            "encoder.prefix='passage: '",
            "encoder.precision=fp32",
            "encoder.max_length=32",
            "mgl.n_support=2",
            "mgl.n_query=6",
            "mgl.k_neighbours=4",
            "mgl.train_episodes=8",
            "mgl.max_rounds=2",
            "mgl.test_episodes=2",
            "mgl.eval_times=2",
            "mgl.hidden_dim=16",
            "mgl.lr=3e-3",
            "data.sources=en,de",
            "data.target=fr",
            "method=mgl",
        ],
    )
    clf = MGLClassifier(cfg).fit(examples, progress=False)
    texts = ["very good book", "bad terrible book", "das buch ist gut", "le livre est mauvais"]
    probs = clf.predict_proba(texts)
    clf.save_pretrained(target)
    meta_path = target / "mgl_model.json"
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    assert meta["encoder"]["spec"]["prefix"] == "passage: "
    meta["config"]["encoder"]["prefix"] = None
    meta_path.write_text(json.dumps(meta, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    sums_path = target / "checksums.json"
    sums = json.loads(sums_path.read_text(encoding="utf-8"))
    sums["mgl_model.json"] = hashlib.sha256(meta_path.read_bytes()).hexdigest()
    sums_path.write_text(json.dumps(sums, indent=2) + "\n", encoding="utf-8")
    return target, texts, probs


@pytest.fixture(scope="session")
def e5_passage_model(tmp_path_factory: pytest.TempPathFactory):
    """:func:`former_default_model`, once per session (read-only: copy it before changing it)."""
    return former_default_model(tmp_path_factory.mktemp("former-default") / "model")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def ray_cluster(tmp_path_factory):
    """A local Ray cluster on 127.0.0.1 (2 CPUs), its address; stopped afterwards."""
    pytest.importorskip("ray")
    ray_bin = Path(sys.executable).with_name("ray")
    port = _free_port()
    # a throw-away cluster on 127.0.0.1: no token authentication (Ray 2.60 turns it on by default, and the
    # driver and the CLI subprocesses below would need the cluster's token)
    previous = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), os.environ.get("PYTHONPATH", "")]),
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    temp = tmp_path_factory.mktemp("ray")
    start = subprocess.run(
        [
            str(ray_bin),
            "start",
            "--head",
            "--node-ip-address=127.0.0.1",
            f"--port={port}",
            "--num-cpus=2",
            "--include-dashboard=false",
            "--disable-usage-stats",
            f"--temp-dir={temp}",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert start.returncode == 0, start.stdout[-2000:] + start.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        import ray

        if ray.is_initialized():
            ray.shutdown()
        subprocess.run([str(ray_bin), "stop", "--force"], env=env, capture_output=True, timeout=120)
        if previous is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = previous


# ---- trained tiny models, shared by the cli, serve and bulk tests (helpers in tests/cli/cli_helpers.py)
@pytest.fixture(scope="session")
def reviews_csv(tmp_path_factory) -> Path:
    return write_reviews_csv(tmp_path_factory.mktemp("csv") / "reviews.csv")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_bert_dir, reviews_csv) -> Path:
    """A model trained on the 3-class CSV (EN+DE -> FR) with the tiny encoder, saved with --save.

    In fp32: the serving tests check that batch mates change no prediction (to 1e-6), which
    holds for fp32 vectors; bf16 vectors move with the padded length of their batch (~1e-3).
    """
    return _tiny_method_model(tmp_path_factory, tiny_bert_dir, reviews_csv, "mgl")


def _tiny_method_model(tmp_path_factory, tiny_bert_dir, reviews_csv, method: str, *extra: str) -> Path:
    root = tmp_path_factory.mktemp(f"tiny_{method}")
    code, _out, err = run_mgl(
        "train",
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
        root / "run",
        "--save",
        root / "model",
        "--seed",
        "0",
        "--quiet",
        *TINY_SETTINGS,
        "--set",
        "encoder.precision=fp32",
        "--method",
        method,
        *extra,
    )
    assert code == 0, err
    return root / "model"


@pytest.fixture(scope="session")
def tiny_ensemble(tmp_path_factory, tiny_bert_dir, reviews_csv) -> Path:
    """The same data and settings as ``tiny_model``, trained as the default ensemble (MGL, Mix, pooled LR, char LR)."""
    return _tiny_method_model(tmp_path_factory, tiny_bert_dir, reviews_csv, "ensemble")


@pytest.fixture(scope="session")
def tiny_logreg(tmp_path_factory, tiny_bert_dir, reviews_csv) -> Path:
    """The same data and settings as ``tiny_model``, trained as the pooled logistic regression."""
    return _tiny_method_model(tmp_path_factory, tiny_bert_dir, reviews_csv, "logreg-pooled")


@pytest.fixture(scope="session")
def tiny_chars_ensemble(tmp_path_factory, tiny_bert_dir, reviews_csv) -> Path:
    """The same data and settings, trained as an ensemble of MGL and the character n-gram regression,
    a model that reads the texts themselves beside their embeddings."""
    return _tiny_method_model(
        tmp_path_factory, tiny_bert_dir, reviews_csv, "ensemble", "--set", "members=mgl,logreg-chars"
    )
