"""Computing cells: a runner prepares one (experiment, seed)'s data and features once and runs each method on them.

The cells of one (experiment, seed) share one :func:`~mgl.data.preparation.prepare_data` (the seed
draws the target's labelled subsample, the same for every method) and one set of features;
the encoder is loaded once per runner and frozen embeddings go through the on-disk
:class:`~mgl.encoders.EmbeddingCache`, so each text of a (language, domain) is embedded once
for the whole grid. The sources' *test* rows, which no method reads, are dropped before
embedding (by :func:`mgl.data.preparation.make_experiment_data`). Training runs with
``train_threads`` torch threads (the CLI's ``--threads``, default 1: the classifiers are
small, and on a shared CPU several OpenMP threads stall each other); embedding keeps torch's
default. Where the runs are placed (this process, worker processes, a Ray cluster) is the
executors' business (:mod:`mgl.grid.executors`).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Sequence
from typing import Any

from mgl.bulk.embed import embed_corpus
from mgl.config import RunConfig
from mgl.data.preparation import prepare_data
from mgl.errors import DataError
from mgl.grid.plan import Experiment
from mgl.methods.ensemble import Ensemble, Recorded
from mgl.methods.registry import check_members, needs_features
from mgl.methods.scoring import Scored, fit_and_score
from mgl.paths import mgl_home
from mgl.run import result_record

RECORD_KEYS = (
    "accuracy",
    "precision",
    "recall",
    "f1",
    "averaging",
    "n_test",
    "n_train",
    "train_seconds",
    "val_accuracy",
    "probabilities",
)
"""A cell's metrics kept at the record's top (or beside it); the rest go under ``details``."""


class CellRunner:
    """The real runner: prepares an experiment's data and features once, then runs each method on them.

    Args:
        base: the run configuration (preset, overrides; the baselines' settings, the ensemble's
            members); its data target/sources/domain are replaced per experiment.
        progress: inner progress bars (embedding, training).
    """

    def __init__(
        self,
        base: RunConfig,
        *,
        progress: bool = True,
        cache=None,
        encoder=None,
        train_threads: int | None = None,
    ):
        self.base = base
        self.train_threads = train_threads
        self.progress = progress
        self._cache = cache
        # resolved here, in the process that plans the grid: workers elsewhere (local processes, Ray
        # tasks) open the same embedding cache, which the executors' embedding phase has filled, whatever
        # their own MGL_HOME says. (bf16 vectors depend, about 1e-3, on the batch a text was embedded in,
        # so a worker that embedded again could get other numbers.)

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
            from mgl.encoders.featurizer import make_encoder

            self._encoder = make_encoder(self.base.encoder)
        return self._encoder

    @property
    def cache(self):
        if self._cache is None and self.base.encoder.train == "none":
            from mgl.encoders import EmbeddingCache

            self._cache = EmbeddingCache(self.cache_root)
        return self._cache

    def experiment_config(self, experiment: Experiment) -> RunConfig:
        return experiment.config(self.base)

    def close_cache(self) -> None:
        """Close this process's connection to the embedding cache (reopened on next use)."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None

    def __getstate__(self) -> dict:  # sent to worker processes: without the loaded encoder and the open cache
        return {**self.__dict__, "_encoder": None, "_cache": None}

    def _features(self, experiment: Experiment, seed: int):
        from mgl.encoders.featurizer import build_features

        cfg = self.experiment_config(experiment)
        data = prepare_data(cfg.data, seed)  # without the sources' test rows
        t0 = time.perf_counter()
        features, encoder = build_features(
            data,
            cfg.encoder,
            encoder=self.encoder,
            progress=self.progress,
            cache=self.cache,
            prefix_root=self.prefix_root,
        )
        return cfg, data, features, encoder, time.perf_counter() - t0

    def embed_on(self, pool, groups: Sequence[tuple[Experiment, int]], *, progress: bool = True) -> dict | None:
        """Embed every text the groups need into the cache on a pool of workers
        (:mod:`mgl.bulk.executors`; the driver writes the cache), before :meth:`prepare` finds them
        there. Frozen encoders only (None otherwise: token states are prepared here, in :meth:`prepare`)."""
        if self.base.encoder.train != "none" or self.base.encoder.pooling_head != "none":
            return None

        texts: list[str] = []
        pairs: list[str | None] = []
        for experiment, seed in groups:
            data = prepare_data(self.experiment_config(experiment).data, seed)
            texts += data.texts
            pairs += data.pairs if data.pairs is not None else [None] * len(data.texts)
        return embed_corpus(
            texts, pairs, self.base.encoder, pool=pool, cache=self.cache, encoder=self.encoder, progress=progress
        )

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
        """Each method's cell record (with its validation and test probabilities under
        ``"probabilities"``, which the store keeps beside the record). An ``ensemble`` comes last, made
        of its members as fitted in this group (:class:`~mgl.methods.ensemble.Recorded`; the members not
        asked for are trained here, not recorded) and fitted and scored by the one path."""
        members = check_members(self.base.members) if "ensemble" in methods else []
        if any(needs_features(m) for m in [*methods, *members]):
            cfg, data, features, encoder, embed_seconds = self._features(experiment, seed)
            initial = features.state_dict()  # a trainable encoder starts every method from the same weights
        else:  # methods that read the texts alone (logreg-chars): nothing embedded
            cfg = self.experiment_config(experiment)
            data, features, encoder, embed_seconds, initial = (
                prepare_data(cfg.data, seed),
                None,
                self.encoder,
                0.0,
                None,
            )
        n_train_all = len(data.table.rows(languages=[*data.sources, data.target], split="train"))
        n_train_target = len(data.table.rows(languages=data.target, split="train"))
        order = [m for m in methods if m != "ensemble"]
        extra = [m for m in members if m not in order]  # trained for the ensemble only, not recorded
        done: dict[str, Scored] = {}
        try:
            for method in [*order, *extra, *(["ensemble"] if "ensemble" in methods else [])]:
                if features is not None:
                    features.load_state_dict(initial)
                t1 = time.perf_counter()
                with torch_threads(self.train_threads):
                    if method == "ensemble":
                        fitted = {m: Recorded(m, cfg, done[m].own, done[m].method.report_) for m in members}
                        unfitted: str | Ensemble = Ensemble(method, cfg, fitted)
                    else:
                        unfitted = method
                    done[method] = fit_and_score(
                        unfitted, data, features, cfg, seed=seed, device=encoder.device, progress=self.progress
                    )
                if method in extra:
                    continue
                metrics = cell_metrics(data, done[method])
                record = result_record(
                    method,
                    data,
                    metrics,
                    cfg=cfg,
                    seed=seed,
                    encoder=encoder,
                    # MGL trains on every language's training rows
                    n_train=metrics.get("n_train", n_train_all),
                    n_train_target=n_train_target,
                    seconds=time.perf_counter() - t1,
                    embed_seconds=embed_seconds,
                    details={k: v for k, v in metrics.items() if k not in RECORD_KEYS},
                    probabilities=metrics["probabilities"],
                    finished=time.strftime("%Y-%m-%d %H:%M:%S"),
                )
                yield method, record
        finally:
            if features is not None:
                features.load_state_dict(initial)


def cell_metrics(data, scored: Scored) -> dict[str, Any]:
    """A cell's metrics (:func:`mgl.methods.scoring.split_metrics`), the method's report beside (an
    ensemble's members' accuracies too, :meth:`~mgl.methods.scoring.Scored.member_accuracy`) and its
    probabilities; a target without validation or test rows is a DataError (a cell needs both;
    zero-shot, the target has no validation row by design and the cell's validation accuracy is null)."""
    metrics = dict(scored.metrics[scored.method.name])
    if not metrics["n_test"] or not (metrics["n_validation"] or data.zero_shot):
        raise DataError(
            f"the target {data.target!r} has {metrics['n_validation']} validation and {metrics['n_test']} test "
            "rows: a grid cell needs both"
        )
    metrics.pop("n_validation")
    report = dict(scored.method.report_)
    if scored.method.fitted_members:
        report["member_accuracy"] = scored.member_accuracy()
    metrics.update({k: v for k, v in report.items() if k not in metrics})
    metrics["probabilities"] = scored.own
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
