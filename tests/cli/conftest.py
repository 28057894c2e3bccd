"""Fixtures for end-to-end CLI tests (helpers in cli_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import THREE_CLASS, TINY_SETTINGS, run_mgl, write_reviews_csv


@pytest.fixture(scope="session")
def reviews_csv(tmp_path_factory) -> Path:
    return write_reviews_csv(tmp_path_factory.mktemp("csv") / "reviews.csv")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, tiny_bert_dir, reviews_csv) -> Path:
    """A model trained on the 3-class CSV (EN+DE -> FR) with the tiny encoder, saved with --save.

    In fp32: the serving tests check that batch mates change no prediction (to 1e-6), which
    holds for fp32 vectors; bf16 vectors move with the padded length of their batch (~1e-3).
    """
    root = tmp_path_factory.mktemp("tiny_model")
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
        "mgl",
    )
    assert code == 0, err
    return root / "model"


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
