"""What the baseline tests share: a small synthetic cross-lingual table and small MGL settings.

A module of its own (importable from every test, see tests/conftest.py), not the conftest: two
conftest modules cannot both be imported by the name ``conftest``.
"""

from __future__ import annotations

import numpy as np

from mgl.config import BaselineConfig, MGLConfig, RunConfig
from mgl.data.example_table import ExampleTable
from mgl.data.preparation import ExperimentData
from mgl.methods import fit_and_score, split_metrics

LANGS = ("en", "fr", "de", "ja")


def Data(table: ExampleTable, sources: list[str], target: str) -> ExperimentData:
    """An ExperimentData over a synthetic table (no texts: the features are given directly)."""
    return ExperimentData([], table, sources, target, None)


def synthetic(seed: int = 0, d: int = 24, n_target: int = 10) -> tuple[np.ndarray, Data]:
    """Two Gaussian classes shared by four languages, each language shifted; the target (ja) has few labels."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(2, d)) * 1.2
    shift = {lang: rng.normal(size=d) * 0.5 for lang in LANGS}
    X, langs, labels, splits = [], [], [], []
    for lang in LANGS:
        for split, n in (("train", 50 if lang != "ja" else n_target), ("validation", 20), ("test", 40)):
            for i in range(2 * n):
                c = i % 2
                X.append(centers[c] + shift[lang] + rng.normal(size=d) * 1.5)
                langs.append(lang)
                labels.append(c)
                splits.append(split)
    table = ExampleTable(np.array(langs), np.array(labels), np.array(splits), ["negative", "positive"])
    return np.array(X, dtype=np.float32), Data(table, ["en", "fr", "de"], "ja")


SMALL = {
    "n_support": 3,
    "n_query": 8,
    "k_neighbours": 6,
    "hidden_dim": 32,
    "train_episodes": 10,
    "max_rounds": 5,
    "patience": 2,
    "test_episodes": 4,
    "eval_times": 2,
}


def run_baseline(name: str, data, features, cfg: MGLConfig, *, seed: int, options=None, device="cpu") -> dict:
    """The method fitted and scored by the product's one path (:func:`mgl.methods.fit_and_score`),
    with MGL settings ``cfg`` and the baselines' ``options`` (a :class:`~mgl.config.BaselineConfig`):
    its metrics on the target's test rows and its training report."""
    run = RunConfig(mgl=cfg, baselines=options or BaselineConfig())
    scored = fit_and_score(name, data, features, run, seed=seed, device=device)
    return {**scored.method.report_, **split_metrics(data, scored.own)}
