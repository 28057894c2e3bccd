"""Computing cells: a runner prepares one (experiment, seed)'s data and features once and runs each method on them.

The cells of one (experiment, seed) share one :func:`~mgl.pipeline.prepare_data` (the seed
draws the target's labelled subsample, the same for every method) and one set of features;
the encoder is loaded once per runner and frozen embeddings go through the on-disk
:class:`~mgl.encoders.EmbeddingCache`, so each text of a (language, domain) is embedded once
for the whole grid. The sources' *test* rows, which no method reads, are dropped before
embedding (by :func:`mgl.pipeline.make_experiment_data`). Training runs with
``train_threads`` torch threads (the CLI's ``--threads``, default 1: the classifiers are
small, and on a shared CPU several OpenMP threads stall each other); embedding keeps torch's
default. Where the runs are placed (this process, worker processes, a Ray cluster) is the
executors' business (:mod:`mgl.grid.executors`).
"""

from __future__ import annotations

import contextlib
import copy
import time
from typing import Any, Iterator, Sequence

import numpy as np

from mgl.config import MGLConfig, RunConfig
from mgl.grid.plan import Experiment
from mgl.methods import method as registry_method
from mgl.methods import mgl_variant_config


class CellRunner:
    """The real runner: prepares an experiment's data and features once, then runs each method on them.

    Args:
        base: the run configuration (preset, overrides); its data target/sources/domain
            are replaced per experiment.
        options: the neural baselines' settings (tuning grid, Reptile's k and epsilon).
        progress: inner progress bars (embedding, training).
    """

    def __init__(self, base: RunConfig, options=None, *, progress: bool = True, cache=None, encoder=None,
                 train_threads: int | None = None):
        from mgl.baselines import BaselineOptions

        self.base = base
        self.train_threads = train_threads
        self.options = (options or BaselineOptions()).validate()
        self.progress = progress
        self._cache = cache
        # resolved here, in the process that plans the grid: workers elsewhere (local processes, Ray
        # tasks) open the same embedding cache, which the executors' embedding phase has filled, whatever
        # their own MGL_HOME says. (bf16 vectors depend, about 1e-3, on the batch a text was embedded in,
        # so a worker that embedded again could get other numbers.)
        from mgl.paths import mgl_home

        self.cache_root = str(cache.root) if cache is not None else None
        if self.cache_root is None and base.encoder.train == "none":
            self.cache_root = str(mgl_home() / "embeddings")
        # likewise the token-state store (top-k training, a pooling head), which the embedding phase fills
        states = (base.encoder.train == "top-k" and base.encoder.prefix_cache) or base.encoder.pooling_head != "none"
        self.prefix_root = str(mgl_home() / "prefix-states") if states else None
        self._encoder = encoder

    @property
    def encoder(self):
        if self._encoder is None:
            from mgl.pipeline import make_encoder

            self._encoder = make_encoder(self.base.encoder)
        return self._encoder

    @property
    def cache(self):
        if self._cache is None and self.base.encoder.train == "none":
            from mgl.encoders import EmbeddingCache

            self._cache = EmbeddingCache(self.cache_root)
        return self._cache

    def experiment_config(self, experiment: Experiment) -> RunConfig:
        cfg = copy.deepcopy(self.base)
        cfg.data.target = experiment.target
        cfg.data.sources = list(experiment.sources)
        cfg.data.domain = experiment.domain
        return cfg.validate()

    def close_cache(self) -> None:
        """Close this process's connection to the embedding cache (reopened on next use)."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __getstate__(self) -> dict:  # sent to worker processes: without the loaded encoder and the open cache
        return {**self.__dict__, "_encoder": None, "_cache": None}

    def _features(self, experiment: Experiment, seed: int):
        from mgl.pipeline import build_features, prepare_data

        cfg = self.experiment_config(experiment)
        data = prepare_data(cfg.data, seed)  # without the sources' test rows
        t0 = time.perf_counter()
        features, encoder = build_features(data, cfg.encoder, encoder=self.encoder, progress=self.progress,
                                           cache=self.cache, prefix_root=self.prefix_root)
        return cfg, data, features, encoder, time.perf_counter() - t0

    def prepare(self, experiment: Experiment, seed: int) -> float:
        """Embed what the (experiment, seed) needs into the cache (or its token states into the
        token-state store), train nothing; the seconds it took.

        Executors call it for every group before training starts in parallel, so that the
        encoder runs once, in one process, with all its threads (frozen encoders and cached
        token states; an encoder trained whole has nothing to prepare).
        """
        if self.base.encoder.train != "none" and self.prefix_root is None:
            return 0.0
        return self._features(experiment, seed)[-1]

    def run_group(self, experiment: Experiment, seed: int, methods: Sequence[str]) -> Iterator[tuple[str, dict]]:
        from mgl.provenance import machine_info

        cfg, data, features, encoder, embed_seconds = self._features(experiment, seed)
        initial = features.state_dict()  # a trainable encoder starts every method from the same weights
        n_train_all = int(len(data.table.rows(languages=[*data.sources, data.target], split="train")))
        n_train_target = int(len(data.table.rows(languages=data.target, split="train")))
        try:
            for method in methods:
                features.load_state_dict(initial)
                t1 = time.perf_counter()
                with torch_threads(self.train_threads):
                    metrics = self.run_method(method, data, features, cfg, seed, encoder.device)
                record = {
                    "method": method, "target": experiment.target, "domain": experiment.domain,
                    "sources": list(experiment.sources), "seed": seed,
                    **{k: metrics[k] for k in ("accuracy", "precision", "recall", "f1")},
                    "f1_averaging": metrics.get("averaging"), "n_test": metrics["n_test"],
                    # MGL trains on every language's training rows
                    "n_train": metrics.get("n_train", n_train_all), "n_train_target": n_train_target,
                    "train_seconds": metrics["train_seconds"], "seconds": time.perf_counter() - t1,
                    "embed_seconds": embed_seconds, "encoder": encoder.identity, "encoder_train": cfg.encoder.train,
                    **({"pooling_head": cfg.encoder.pooling_head} if cfg.encoder.pooling_head != "none" else {}),
                    "details": {k: v for k, v in metrics.items() if k not in (
                        "accuracy", "precision", "recall", "f1", "averaging", "n_test", "n_train", "train_seconds")},
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "machine": machine_info(),
                }
                yield method, record
        finally:
            features.load_state_dict(initial)

    def run_method(self, method: str, data, features, cfg: RunConfig, seed: int, device) -> dict[str, Any]:
        kind = registry_method(method).kind
        if kind == "baseline":
            from mgl.baselines import run_baseline

            return run_baseline(method, data, features, cfg.mgl, seed=seed, device=device, progress=self.progress,
                                options=self.options)
        if kind == "reference":
            return run_logreg(method, data, features, cfg.mgl, seed=seed)
        from mgl.pipeline import run_mgl

        variant = mgl_variant_config(method, cfg.mgl)
        metrics, _, _ = run_mgl(data, features, variant, seed=seed, device=device, progress=self.progress)
        return metrics


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Run the block with ``n`` torch CPU threads (None: unchanged); the previous number is restored."""
    import torch

    if n is None:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def frozen_matrix(features, rows: np.ndarray | None = None) -> np.ndarray:
    """The features of ``rows`` (all rows: None) as a numpy matrix, without gradients."""
    import torch

    from mgl.features import FrozenFeatures

    if isinstance(features, FrozenFeatures):
        x = features.embeddings
        return (x if rows is None else x[torch.as_tensor(rows)]).cpu().numpy()
    rows = np.arange(len(features)) if rows is None else rows
    features.eval()
    with torch.no_grad():
        return features(rows).cpu().numpy()


def run_logreg(method: str, data, features, cfg: MGLConfig, *, seed: int) -> dict[str, Any]:
    """``logreg-target`` / ``logreg-pooled``: C chosen on MGL's target validation rows."""
    from mgl.baselines.common import mgl_validation_rows
    from mgl.baselines.logistic_regression import fit_logistic_regression
    from mgl.evaluation import classification_metrics

    t = data.table
    langs = [data.target] if method == "logreg-target" else [*data.sources, data.target]
    train = t.rows(languages=langs, split="train")
    _, val = mgl_validation_rows(t, data.sources, data.target, cfg, seed)
    test = t.rows(languages=data.target, split="test")
    t0 = time.perf_counter()
    fit = fit_logistic_regression(frozen_matrix(features, train), t.labels[train], frozen_matrix(features, val),
                                  t.labels[val], seed=seed, stage=method)
    train_seconds = time.perf_counter() - t0
    metrics: dict[str, Any] = classification_metrics(t.labels[test], fit.model.predict(frozen_matrix(features, test)),
                                                     t.num_classes, data.positive)
    metrics.update(n_test=int(len(test)), n_train=int(len(train)), train_seconds=train_seconds, C=fit.C,
                   val_accuracy=fit.val_accuracy, val_scores={str(k): v for k, v in fit.val_scores.items()})
    return metrics
