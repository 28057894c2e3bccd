"""Experiment grids: cells, resumable execution, aggregation, significance and the table writers.

A *cell* is one (method, experiment, seed); an *experiment* is a target language, a
domain and its source languages. Every finished cell is written atomically as its own
JSON file under ``OUT/cells/``; a re-run skips the cells whose file is there (and was
computed under the same configuration, see :func:`config_fingerprint`), so a kill loses
at most the cell that was running.

The cells of one (experiment, seed) share one :func:`~mgl.pipeline.prepare_data` (the
seed draws the target's labelled subsample, the same for every method) and one set of
features; the encoder is loaded once per grid and frozen embeddings go through the
on-disk :class:`~mgl.encoders.EmbeddingCache`, so each text of a (language, domain) is
embedded once for the whole grid. The sources' *test* rows, which no method reads, are
dropped before embedding (by :func:`mgl.pipeline.make_experiment_data`). Training runs with ``train_threads``
torch threads (the CLI's ``--threads``, default 1: the classifiers are small, and on a
shared CPU several OpenMP threads stall each other); embedding keeps torch's default.

Methods (:func:`check_methods`): the neural baselines of :data:`mgl.baselines.BASELINES`;
``mgl`` and its ablations ``mgl-no-meta``, ``mgl-no-l2clt``, ``mgl-no-sigma``,
``mgl-gcnN`` (suffixes combine, e.g. ``mgl-no-meta-gcn3``; :func:`mgl_variant_config`);
and the logistic-regression references ``logreg-pooled`` / ``logreg-target``
(:mod:`mgl.baselines.logistic_regression` on the frozen embeddings, C chosen on the same
target validation rows as every other method).

Tables are described by a :class:`TableSpec` (rows = methods, columns = averages over
experiments, each of one metric); :func:`table1_spec` lays out the paper's Table 1 (accuracy),
:func:`table2_spec` its Table 2 (text pairs, :func:`table2_experiments`: precision, recall and
F1 per target, then the average F1), and another table (the ablations) reuses
:func:`run_cells`, :func:`summarize` and :func:`write_tables` with its own spec.

Significance: for each column, the best baseline is the non-MGL row (``logreg-*``
included) with the highest mean; MGL gets a dagger when a **one-sided** paired t-test over
seeds (``scipy.stats.ttest_rel(mgl, best, alternative="greater")``; a column's per-seed
value is the mean over its experiments) gives p < 0.01.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import hashlib
import io
import json
import math
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Protocol, Sequence

import numpy as np

from mgl.config import MGLConfig, RunConfig
from mgl.errors import ConfigError
from mgl.io import write_json_atomic, write_text_atomic
from mgl.methods import REFERENCE_METHODS

GRID_VERSION = 1
LANGUAGES = ("en", "fr", "de", "ja")
TABLE1_TARGETS = ("fr", "ja", "de")
TABLE1_DOMAINS = ("books", "dvd", "music")
TABLE2_LANGUAGES = ("en", "de", "es", "fr", "ja")
"""PAWS-X languages of the Table 2 grid (ko and zh are in the data too, and can be named)."""
TABLE2_TARGETS = ("de", "es", "fr", "ja")
DISPLAY_NAMES = {
    "logreg-target": "LogReg (target only)",
    "logreg-pooled": "LogReg (pooled)",
    "target-only": "Target-Only",
    "mix": "Mix",
    "multi-task": "Multi-task",
    "fine-tune": "Fine-tune",
    "reptile": "Reptile",
    "mgl": "MGL",
}


# ---------------------------------------------------------------------------------------------
# cells

@dataclass(frozen=True)
class Experiment:
    """One cross-lingual experiment: sources -> target, on one domain."""

    target: str
    domain: str | None
    sources: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.target.upper()} {self.domain}" if self.domain else self.target.upper()


@dataclass(frozen=True)
class Cell:
    """One (method, experiment, seed): one file under ``cells/``."""

    method: str
    experiment: Experiment
    seed: int

    @property
    def filename(self) -> str:
        return f"{self.method}__{self.experiment.target}__{self.experiment.domain or 'all'}__seed{self.seed}.json"


def table1_experiments(targets: Sequence[str] = TABLE1_TARGETS, domains: Sequence[str] = TABLE1_DOMAINS,
                       languages: Sequence[str] = LANGUAGES) -> list[Experiment]:
    """The paper's 9 experiments: each target on each domain, the other languages as sources."""
    out = []
    for target in targets:
        if target not in languages:
            raise ConfigError(f"target {target!r} is not one of the languages {', '.join(languages)}")
        for domain in domains:
            out.append(Experiment(target, domain, tuple(lang for lang in languages if lang != target)))
    return out


def table2_experiments(targets: Sequence[str] = TABLE2_TARGETS, languages: Sequence[str] = TABLE2_LANGUAGES, *,
                       domain: str | None = None) -> list[Experiment]:
    """Table 2's experiments: each target with the other languages as sources, on the whole data set
    (``domain`` None, as PAWS-X) or on one domain of a file that has several."""
    languages = list(dict.fromkeys(languages))
    out = []
    for target in dict.fromkeys(targets):
        if target not in languages:
            raise ConfigError(f"target {target!r} is not one of the languages {', '.join(languages)}")
        sources = tuple(lang for lang in languages if lang != target)
        if not sources:
            raise ConfigError(f"target {target!r} has no source languages: give at least two languages")
        out.append(Experiment(target, domain, sources))
    if not out:
        raise ConfigError("no targets given")
    return out


def make_cells(methods: Sequence[str], experiments: Sequence[Experiment], seeds: Sequence[int]) -> list[Cell]:
    """Every cell, grouped by (experiment, seed) so that each group's data is prepared once."""
    return [Cell(m, exp, seed) for exp in experiments for seed in seeds for m in methods]


# ---------------------------------------------------------------------------------------------
# methods

_VARIANT = re.compile(r"^mgl((?:-no-meta|-no-l2clt|-no-sigma|-gcn\d+)*)$")


def mgl_variant_config(name: str, base: MGLConfig) -> MGLConfig:
    """The MGLConfig of ``mgl`` or an ablation name (the inverse of :func:`mgl.pipeline.method_name`)."""
    match = _VARIANT.match(name)
    if not match:
        raise ConfigError(f"{name!r} is not an MGL variant (mgl, mgl-no-meta, mgl-no-l2clt, mgl-no-sigma, mgl-gcnN)")
    cfg = copy.deepcopy(base)
    for part in re.findall(r"-(no-meta|no-l2clt|no-sigma|gcn\d+)", match.group(1)):
        if part == "no-meta":
            cfg.meta_train = False
        elif part == "no-l2clt":
            cfg.l2clt = False
        elif part == "no-sigma":
            cfg.learn_sigma = False
        else:
            cfg.gcn_layers = int(part[3:])
    cfg.validate()
    return cfg


def is_mgl(name: str) -> bool:
    return bool(_VARIANT.match(name))


def check_methods(methods: Sequence[str]) -> list[str]:
    """The method names, validated, repeats removed (order kept)."""
    from mgl.baselines import BASELINES

    out = []
    for name in methods:
        name = name.strip()
        if not name:
            continue
        if name not in BASELINES and name not in REFERENCE_METHODS and not is_mgl(name):
            known = ", ".join([*BASELINES, *REFERENCE_METHODS, "mgl", "mgl-no-meta", "mgl-no-l2clt", "mgl-no-sigma",
                               "mgl-gcnN"])
            raise ConfigError(f"unknown method {name!r}; choose from {known}")
        if is_mgl(name):
            mgl_variant_config(name, MGLConfig())
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError("no methods given")
    return out


def display_name(method: str) -> str:
    if method in DISPLAY_NAMES:
        return DISPLAY_NAMES[method]
    if is_mgl(method):
        labels = {"no-meta": "w/o Meta", "no-l2clt": "w/o L2CLT", "no-sigma": "w/o σ"}
        parts = re.findall(r"-(no-meta|no-l2clt|no-sigma|gcn\d+)", method)
        words = [labels.get(p, f"{p[3:]} GCN layer{'s' if p[3:] != '1' else ''}") for p in parts]
        return "MGL " + ", ".join(words)
    return method


# ---------------------------------------------------------------------------------------------
# the store of finished cells

def config_fingerprint(cfg: RunConfig, extra: dict[str, Any] | None = None) -> str:
    """A short hash of everything that decides a cell's result except its experiment and seed.

    Left out: the data folder, the experiment (target, sources, domain), the seed, and
    settings that do not change results (encoder device and batch size; ``encoder.prefix_cache``
    unless the encoder trains its top layers).
    """
    raw = cfg.to_dict()
    raw.pop("seed", None)
    for key in ("root", "target", "sources", "domain"):
        raw["data"].pop(key, None)
    for key in ("device", "batch_size"):
        raw["encoder"].pop(key, None)
    if raw["encoder"].get("train") != "top-k":  # the prefix-state cache only exists for top-k training
        raw["encoder"].pop("prefix_cache", None)
    # settings added later, left out at their defaults so that earlier grids keep their fingerprints
    # (validation_fraction only acts on data without validation rows; the encoding only decodes the file)
    raw["data"].pop("encoding", None)
    if raw["encoder"].get("precision") == "fp32":
        raw["encoder"].pop("precision", None)
    if raw["data"].get("validation_fraction") == 0.2:
        raw["data"].pop("validation_fraction", None)
    extra = copy.deepcopy(extra or {})
    if isinstance(extra.get("baselines"), dict):  # grouped or one by one: the same result, bit for bit
        extra["baselines"].pop("batch_candidates", None)
    payload = json.dumps({"grid": GRID_VERSION, "config": raw, "extra": extra}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class CellStore:
    """Finished cells as JSON files under ``OUT/cells/``, each written atomically."""

    def __init__(self, out: str | Path, fingerprint: str | None = None):
        self.out = Path(out)
        self.dir = self.out / "cells"
        self.fingerprint = fingerprint

    def path(self, cell: Cell) -> Path:
        return self.dir / cell.filename

    def load(self, cell: Cell) -> dict | None:
        """The cell's record, or None if it is not finished (no file, or an unreadable one)."""
        path = self.path(cell)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return None  # damaged: computed again and replaced
        if not isinstance(record, dict) or "accuracy" not in record:
            return None
        if self.fingerprint is not None and record.get("fingerprint") != self.fingerprint:
            raise ConfigError(
                f"computed under another configuration (fingerprint {record.get('fingerprint')}, this run "
                f"{self.fingerprint}); use another --out, or delete the old cells", source=path)
        return record

    def done(self, cell: Cell) -> bool:
        return self.load(cell) is not None

    def save(self, cell: Cell, record: dict) -> Path:
        record = dict(record)
        if self.fingerprint is not None:
            record["fingerprint"] = self.fingerprint
        path = self.path(cell)
        write_json_atomic(path, record)
        return path

    def records(self, cells: Iterable[Cell]) -> list[dict]:
        return [r for r in (self.load(c) for c in cells) if r is not None]


# ---------------------------------------------------------------------------------------------
# running

class GroupRunner(Protocol):
    """Computes the cells of one (experiment, seed); yields ``(method, record)`` as each finishes."""

    def run_group(self, experiment: Experiment, seed: int, methods: Sequence[str]) -> Iterator[tuple[str, dict]]:
        ...


@dataclass
class GridReport:
    computed: list[Cell] = field(default_factory=list)
    skipped: list[Cell] = field(default_factory=list)


def run_cells(cells: Sequence[Cell], store: CellStore, runner: GroupRunner, *, progress: bool = True) -> GridReport:
    """Compute every unfinished cell (grouped by experiment and seed), saving each as it finishes."""
    from tqdm.auto import tqdm

    report = GridReport()
    groups: dict[tuple[Experiment, int], list[Cell]] = defaultdict(list)
    for cell in cells:
        if store.done(cell):
            report.skipped.append(cell)
        else:
            groups[(cell.experiment, cell.seed)].append(cell)
    bar = tqdm(total=len(cells), initial=len(report.skipped), desc="cells", unit="cell", disable=not progress,
               dynamic_ncols=True)
    try:
        for (experiment, seed), todo in groups.items():
            by_method = {c.method: c for c in todo}
            bar.set_postfix_str(f"{experiment.label} seed {seed}")
            for method, record in runner.run_group(experiment, seed, list(by_method)):
                cell = by_method[method]
                store.save(cell, record)
                report.computed.append(cell)
                bar.update(1)
    finally:
        bar.close()
    return report


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

            self._cache = EmbeddingCache()
        return self._cache

    def experiment_config(self, experiment: Experiment) -> RunConfig:
        cfg = copy.deepcopy(self.base)
        cfg.data.target = experiment.target
        cfg.data.sources = list(experiment.sources)
        cfg.data.domain = experiment.domain
        return cfg.validate()

    def run_group(self, experiment: Experiment, seed: int, methods: Sequence[str]) -> Iterator[tuple[str, dict]]:
        from mgl.pipeline import build_features, prepare_data
        from mgl.provenance import machine_info

        cfg = self.experiment_config(experiment)
        data = prepare_data(cfg.data, seed)  # without the sources' test rows
        t0 = time.perf_counter()
        features, encoder = build_features(data, cfg.encoder, encoder=self.encoder, progress=self.progress,
                                           cache=self.cache)
        embed_seconds = time.perf_counter() - t0
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
                    "details": {k: v for k, v in metrics.items() if k not in (
                        "accuracy", "precision", "recall", "f1", "averaging", "n_test", "n_train", "train_seconds")},
                    "finished": time.strftime("%Y-%m-%d %H:%M:%S"),
                    "machine": machine_info(),
                }
                yield method, record
        finally:
            features.load_state_dict(initial)

    def run_method(self, method: str, data, features, cfg: RunConfig, seed: int, device) -> dict[str, Any]:
        from mgl.baselines import BASELINES, run_baseline

        if method in BASELINES:
            return run_baseline(method, data, features, cfg.mgl, seed=seed, device=device, progress=self.progress,
                                options=self.options)
        if method in REFERENCE_METHODS:
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

    if hasattr(features, "embeddings"):
        x = features.embeddings
        return (x if rows is None else x[torch.as_tensor(rows)]).cpu().numpy()
    rows = np.arange(len(features.texts)) if rows is None else rows
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


# ---------------------------------------------------------------------------------------------
# tables

@dataclass(frozen=True)
class Column:
    """A table column: the mean of the metric over some experiments (one, or a group for an average)."""

    label: str
    experiments: tuple[tuple[str, str | None], ...]  # (target, domain)
    average: bool = False
    metric: str | None = None
    """The record field averaged in this column; None: the table's ``metric``."""
    test: bool = True
    """Whether the column gets the significance test (and so possibly a dagger)."""


@dataclass
class TableSpec:
    """Rows (methods), columns, the reference row and how significance is marked."""

    name: str
    title: str
    methods: list[str]
    columns: list[Column]
    reference: str = "mgl"
    metric: str = "accuracy"
    scale: float = 100.0
    alpha: float = 0.01
    significance: bool = True
    delta: bool = True
    notes: list[str] = field(default_factory=list)
    metric_label: str | None = None
    """How the footnote names the values (None: the metric's name)."""

    def baselines(self) -> list[str]:
        """The rows MGL is tested against: every method that is not MGL or an MGL variant."""
        return [m for m in self.methods if not is_mgl(m)]


def table1_spec(methods: Sequence[str], experiments: Sequence[Experiment], *, name: str = "table1") -> TableSpec:
    """The paper's Table 1: per target its domains and average, then the overall average."""
    columns: list[Column] = []
    targets = list(dict.fromkeys(e.target for e in experiments))
    for target in targets:
        mine = [e for e in experiments if e.target == target]
        for e in mine:
            columns.append(Column(e.label, ((e.target, e.domain),)))
        if len(mine) > 1:
            columns.append(Column(f"{target.upper()} avg", tuple((e.target, e.domain) for e in mine), average=True))
    if len(experiments) > 1:
        columns.append(Column("Avg", tuple((e.target, e.domain) for e in experiments), average=True))
    return TableSpec(name, "Accuracy (%) on the target's test split", list(methods), columns)


def table2_spec(methods: Sequence[str], experiments: Sequence[Experiment], *, name: str = "table2") -> TableSpec:
    """The paper's Table 2 (text pairs): per target precision, recall and F1, then the average F1.

    P / R / F1 are those of the positive class of a binary task (PAWS-X: ``paraphrase``; see
    :func:`mgl.pipeline.positive_index`), their macro averages with more than two classes. The
    significance test (and dagger) is made on the F1 columns only; Δ is the last column's.
    """
    columns: list[Column] = []
    for e in experiments:
        key = ((e.target, e.domain),)
        columns += [Column(f"{e.label} P", key, metric="precision", test=False),
                    Column(f"{e.label} R", key, metric="recall", test=False),
                    Column(f"{e.label} F1", key, metric="f1")]
    if len(experiments) > 1:
        columns.append(Column("Avg F1", tuple((e.target, e.domain) for e in experiments), average=True, metric="f1"))
    notes = ["P / R / F1: precision, recall and F1 of the positive class (PAWS-X: paraphrase) on the target's test "
             "split; with more than two classes, their macro averages over the classes. The test (†) is made on the "
             "F1 columns only."]
    return TableSpec(name, "Precision, recall and F1 (%) on the target's test split", list(methods), columns,
                     metric="f1", metric_label="Precision, recall and F1", notes=notes)


def grid_spec(table: str, methods: Sequence[str], experiments: Sequence[Experiment]) -> TableSpec:
    """The layout of a grid's table by its name (``grid.json``'s ``table``): table2, else Table 1's."""
    if table == "table2":
        return table2_spec(methods, experiments, name=table)
    if table == "compare-pairs":
        return table2_spec(methods, experiments, name="compare")
    if table == "table3":
        return ablation_spec(methods, experiments, name=table)
    return table1_spec(methods, experiments, name=table)


def seed_scores(records: Sequence[dict], method: str, column: Column, metric: str) -> dict[int, float]:
    """Per seed, the mean metric over the column's experiments (seeds lacking one of them are left out)."""
    values = {(r["target"], r["domain"], int(r["seed"])): float(r[metric]) for r in records if r["method"] == method}
    seeds = sorted({s for (_, _, s) in values})
    out = {}
    for seed in seeds:
        vals = [values.get((t, d, seed)) for t, d in column.experiments]
        if all(v is not None for v in vals):
            out[seed] = float(np.mean(vals))
    return out


def paired_test(reference: dict[int, float], other: dict[int, float]) -> dict[str, Any]:
    """One-sided paired t-test over the common seeds: is the reference greater?"""
    from scipy.stats import ttest_rel

    seeds = sorted(set(reference) & set(other))
    result: dict[str, Any] = {"n": len(seeds), "t": None, "p": None}
    if len(seeds) < 2:
        return result
    a = np.array([reference[s] for s in seeds])
    b = np.array([other[s] for s in seeds])
    if np.allclose(a - b, (a - b)[0]) and (a - b)[0] == 0:
        return result  # identical: no test
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = ttest_rel(a, b, alternative="greater")
    t, p = float(res.statistic), float(res.pvalue)
    # a constant non-zero difference gives t = +-inf (p = 0 or 1): kept as p, t left out (not JSON)
    result.update(t=t if math.isfinite(t) else None, p=None if math.isnan(p) else p)
    return result


def summarize(records: Sequence[dict], spec: TableSpec) -> dict[str, Any]:
    """Per method and column: mean, std (ddof 1) and seeds; per column: the test against the best baseline."""
    cells: dict[str, dict[str, dict]] = {}
    scores: dict[str, dict[str, dict[int, float]]] = {}
    for method in spec.methods:
        cells[method], scores[method] = {}, {}
        for col in spec.columns:
            s = seed_scores(records, method, col, col.metric or spec.metric)
            scores[method][col.label] = s
            vals = np.array(list(s.values())) * spec.scale
            cells[method][col.label] = {
                "mean": float(vals.mean()) if len(vals) else None,
                "std": float(vals.std(ddof=1)) if len(vals) > 1 else None,
                "n": int(len(vals)), "seeds": sorted(s),
            }
    significance: dict[str, dict] = {}
    if spec.significance and spec.reference in spec.methods:
        for col in spec.columns:
            if not col.test:
                continue
            candidates = [m for m in spec.baselines() if cells[m][col.label]["mean"] is not None]
            ref = scores[spec.reference][col.label]
            if not candidates or not ref:
                continue
            best = max(candidates, key=lambda m: cells[m][col.label]["mean"])
            test = paired_test(ref, scores[best][col.label])
            diff = cells[spec.reference][col.label]["mean"] - cells[best][col.label]["mean"]
            significance[col.label] = {
                "best_baseline": best, "difference": diff, **test,
                "significant": bool(test["p"] is not None and test["p"] < spec.alpha and diff > 0),
            }
    return {"cells": cells, "significance": significance}


def _fmt(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def render_markdown(summary: dict[str, Any], spec: TableSpec, *, n_seeds: int | None = None) -> str:
    """The table as Markdown: rows = methods, the delta column, daggers, then significance and spread."""
    cells, sig = summary["cells"], summary["significance"]
    last = spec.columns[-1].label if spec.columns else None
    has_delta = spec.delta and spec.reference in spec.methods and last is not None
    header = ["Method", *[c.label for c in spec.columns]] + ([f"Δ vs {display_name(spec.reference)}"] if has_delta else [])
    lines = [f"## {spec.title}", "", "| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|"]
    ref_last = cells.get(spec.reference, {}).get(last, {}).get("mean") if has_delta else None
    for method in spec.methods:
        row = [display_name(method)]
        for col in spec.columns:
            text = _fmt(cells[method][col.label]["mean"])
            if method == spec.reference and sig.get(col.label, {}).get("significant"):
                text += "†"
            row.append(text)
        if has_delta:
            mine = cells[method][last]["mean"]
            if method == spec.reference or mine is None or ref_last is None:
                row.append("–")
            else:
                row.append(_fmt(mine - ref_last, sign=True))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    seeds_text = f"{n_seeds} seeds" if n_seeds is not None else "the seeds"
    lines.append(f"{spec.metric_label or spec.metric.capitalize()} × {spec.scale:g}, mean over {seeds_text} (each seed also draws the "
                 f"target's labelled subsample); – : not computed.")
    if has_delta:
        lines.append(f"Δ: the row's {last} minus {display_name(spec.reference)}'s, in points.")
    if spec.significance:
        lines.append(f"†: {display_name(spec.reference)} beats the column's best baseline (the highest non-MGL row) "
                     f"in a one-sided paired t-test over seeds (scipy.stats.ttest_rel, alternative='greater'), "
                     f"p < {spec.alpha:g}.")
    lines.extend(spec.notes)
    if sig:
        lines += ["", f"### {display_name(spec.reference)} against the best baseline of each column", "",
                  "| Column | Best baseline | Difference | t | p | seeds |", "|---|---|---:|---:|---:|---:|"]
        for label, s in sig.items():
            p_text = "–" if s["p"] is None else f"{s['p']:.2g}"
            lines.append(f"| {label} | {display_name(s['best_baseline'])} | {_fmt(s['difference'], sign=True)} | "
                         f"{_fmt(s['t'])} | {p_text} | {s['n']} |")
    lines += ["", "### Standard deviation over seeds", "", "| " + " | ".join(header[:1 + len(spec.columns)]) + " |",
              "|" + "|".join(["---"] + ["---:"] * len(spec.columns)) + "|"]
    for method in spec.methods:
        lines.append("| " + " | ".join([display_name(method)] + [_fmt(cells[method][c.label]["std"])
                                                                   for c in spec.columns]) + " |")
    return "\n".join(lines) + "\n"


CSV_FIELDS = ("method", "target", "domain", "sources", "seed", "accuracy", "precision", "recall", "f1", "f1_averaging",
              "n_test", "n_train", "n_train_target", "train_seconds", "encoder")


def render_csv(records: Sequence[dict]) -> str:
    """One line per record (method, experiment, seed)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({**r, "sources": "+".join(r.get("sources") or [])})
    return buf.getvalue()


def compact(record: dict) -> dict:
    """A record without the per-round training histories (kept in the cell files)."""
    out = {k: v for k, v in record.items() if k != "details"}
    details = copy.deepcopy(record.get("details") or {})
    for stage in details.get("stages", []):
        stage.pop("history", None)
    out["details"] = details
    return out


def sort_records(records: Iterable[dict], spec: TableSpec) -> list[dict]:
    order = {m: i for i, m in enumerate(spec.methods)}
    return sorted(records, key=lambda r: (order.get(r["method"], len(order)), r["target"], r["domain"] or "",
                                          int(r["seed"])))


def write_tables(out: str | Path, records: Sequence[dict], spec: TableSpec, *, meta: dict[str, Any] | None = None,
                 n_seeds: int | None = None) -> dict[str, Path]:
    """``<name>.json`` (records, summary, significance, meta), ``<name>.csv`` and ``<name>.md``, atomically."""
    out = Path(out)
    records = sort_records(records, spec)
    summary = summarize(records, spec)
    paths = {ext: out / f"{spec.name}.{ext}" for ext in ("json", "csv", "md")}
    write_json_atomic(paths["json"], {
        "table": spec.name, "title": spec.title, "metric": spec.metric, "scale": spec.scale,
        "methods": spec.methods, "columns": [{"label": c.label, "experiments": [list(e) for e in c.experiments]}
                                             for c in spec.columns],
        "reference": spec.reference,
        "test": {"name": "paired t-test over seeds", "function": "scipy.stats.ttest_rel", "alternative": "greater",
                 "sided": "one-sided", "alpha": spec.alpha,
                 "against": "the non-MGL row with the highest mean in the column"},
        "summary": summary["cells"], "significance": summary["significance"],
        "meta": meta or {}, "records": [compact(r) for r in records],
    })
    write_text_atomic(paths["csv"], render_csv(records))
    write_text_atomic(paths["md"], render_markdown(summary, spec, n_seeds=n_seeds))
    return paths


# ---------------------------------------------------------------------------------------------
# Table 3 (ablations) and the target-label proportion sweep (Fig. 5)

PROPORTION_FRACTIONS = (0.1, 0.2, 0.5, 1.0)


def ablation_spec(methods: Sequence[str], experiments: Sequence[Experiment], *, name: str = "table3") -> TableSpec:
    """Table 3: per target the average over its domains, then the overall average; Δ to the full model.

    No daggers (every row is MGL); :func:`ablation_tests` tests the full model against each row.
    """
    columns: list[Column] = []
    targets = list(dict.fromkeys(e.target for e in experiments))
    for target in targets:
        mine = tuple((e.target, e.domain) for e in experiments if e.target == target)
        columns.append(Column(target.upper(), mine, average=len(mine) > 1))
    if len(targets) > 1:
        columns.append(Column("Avg", tuple((e.target, e.domain) for e in experiments), average=True))
    return TableSpec(name, "Ablations: accuracy (%) on the target's test split, averaged over domains",
                     list(methods), columns, reference="mgl", significance=False)


def ablation_tests(records: Sequence[dict], spec: TableSpec) -> dict[str, dict[str, Any]]:
    """Per ablation row: the one-sided paired t-test over seeds, full model greater than the row,
    on the table's last column (the overall average)."""
    column = spec.columns[-1]
    ref = seed_scores(records, spec.reference, column, spec.metric)
    out = {}
    for method in spec.methods:
        if method == spec.reference:
            continue
        other = seed_scores(records, method, column, spec.metric)
        common = sorted(set(ref) & set(other))
        diff = (float(np.mean([ref[s] - other[s] for s in common])) * spec.scale) if common else None
        out[method] = {"column": column.label, "difference": diff, **paired_test(ref, other)}
    return out


def ablation_notes(tests: dict[str, dict[str, Any]], spec: TableSpec, alpha: float = 0.01) -> list[str]:
    """Markdown lines for :func:`ablation_tests` (appended to the table's notes)."""
    if not tests:
        return []
    label = spec.columns[-1].label
    lines = ["", f"### {display_name(spec.reference)} against each ablation ({label})", "",
             f"One-sided paired t-test over seeds (scipy.stats.ttest_rel, alternative='greater'): is the full model "
             f"better? Difference = full model minus the row, in points; * : p < {alpha:g}.", "",
             "| Row | Difference | t | p | seeds |", "|---|---:|---:|---:|---:|"]
    for method, t in tests.items():
        p_text = "–" if t["p"] is None else f"{t['p']:.2g}" + ("*" if t["p"] < alpha else "")
        lines.append(f"| {display_name(method)} | {_fmt(t['difference'], sign=True)} | {_fmt(t['t'])} | {p_text} | "
                     f"{t['n']} |")
    return lines


def fraction_dir(out: str | Path, fraction: float) -> Path:
    """The folder of one fraction of a proportion sweep (its own cells/, grid.json and table)."""
    return Path(out) / f"fraction-{fraction:g}"


def summarize_proportion(records_by_fraction: dict[float, Sequence[dict]], methods: Sequence[str],
                         experiments: Sequence[Experiment], *, scale: float = 100.0,
                         alpha: float = 0.01) -> dict[str, Any]:
    """Per fraction and method: the accuracy averaged over the experiments (per seed), then mean and std
    over seeds; per fraction, MGL against the best other method (one-sided paired t-test, as Table 1).

    With more than one target, also per target (its domains averaged): ``by_target[T][method]``,
    the mean per fraction, and ``versus_best[T]`` / ``versus_best["Avg"]``, per fraction MGL's
    difference to the best other method of that column, that method and the test's p.
    """
    targets = list(dict.fromkeys(e.target for e in experiments))
    if len(targets) < 2:
        targets = []  # one target: its column would repeat "Avg"
    columns = [Column(t, tuple((e.target, e.domain) for e in experiments if e.target == t), average=True)
               for t in targets]
    columns.append(Column("Avg", tuple((e.target, e.domain) for e in experiments), average=True))
    fractions = sorted(records_by_fraction)
    out: dict[str, Any] = {"fractions": fractions, "methods": list(methods),
                           "mean": {m: [] for m in methods}, "std": {m: [] for m in methods},
                           "n": {m: [] for m in methods}, "significance": [],
                           "by_target": {t: {m: [] for m in methods} for t in targets},
                           "versus_best": {c.label: [] for c in columns}}
    spec = TableSpec("proportion", "", list(methods), columns, scale=scale, alpha=alpha)
    for f in fractions:
        summary = summarize(records_by_fraction[f], spec)
        for m in methods:
            cell = summary["cells"][m]["Avg"]
            out["mean"][m].append(cell["mean"])
            out["std"][m].append(cell["std"])
            out["n"][m].append(cell["n"])
            for t in out["by_target"]:
                out["by_target"][t][m].append(summary["cells"][m][t]["mean"])
        out["significance"].append(summary["significance"].get("Avg"))
        for c in columns:
            out["versus_best"][c.label].append(summary["significance"].get(c.label))
    return out


def render_proportion_markdown(summary: dict[str, Any], n_experiments: int, n_seeds: int) -> str:
    """Rows = methods, columns = fractions; MGL's dagger as in Table 1. Then the standard deviations,
    and (where present) MGL against the best other method per target and overall."""
    fractions = summary["fractions"]
    header = ["Method", *[f"{100 * f:g}%" for f in fractions]]
    rule = "|" + "|".join(["---"] + ["---:"] * len(fractions)) + "|"

    def plain_table(values_by_method: dict[str, list]) -> list[str]:
        return ["| " + " | ".join(header) + " |", rule] + [
            "| " + " | ".join([display_name(m)] + [_fmt(v) for v in values_by_method[m]]) + " |"
            for m in summary["methods"]]

    lines = ["## Accuracy (%) against the share of the target's training labels", "",
             "| " + " | ".join(header) + " |", rule]
    for m in summary["methods"]:
        row = [display_name(m)]
        for i, value in enumerate(summary["mean"][m]):
            sig = summary["significance"][i]
            text = _fmt(value)
            if m == "mgl" and sig and sig.get("significant"):
                text += "†"
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    lines += ["", f"Mean over {n_seeds} seed(s) of the accuracy averaged over {n_experiments} experiment(s); "
                  "– : not computed. †: MGL beats the best other method at that share (one-sided paired t-test over "
                  "seeds, scipy.stats.ttest_rel, p < 0.01).",
              "", "### Standard deviation over seeds", ""]
    lines += plain_table(summary["std"])
    by_target = summary.get("by_target") or {}
    if by_target:
        lines += ["", "### Per target (mean over its domains and the seeds)"]
    for target, by_method in by_target.items():
        lines += ["", f"{target.upper()}:", ""] + plain_table(by_method)
    versus = summary.get("versus_best") or {}
    if any(v for col in versus.values() for v in col):
        labels = list(versus)  # the targets, then "Avg"
        lines += ["", "### MGL minus the best other method (that method; one-sided paired t-test p)", "",
                  "| Share | " + " | ".join(label.upper() if label != "Avg" else "Avg" for label in labels) + " |",
                  "|---|" + "|".join(["---"] * len(labels)) + "|"]
        for i, f in enumerate(fractions):
            row = [f"{100 * f:g}%"]
            for label in labels:
                test = versus[label][i]
                if not test:
                    row.append("–")
                    continue
                p = "–" if test.get("p") is None else f"{test['p']:.2g}"
                row.append(f"{_fmt(test['difference'], sign=True)} ({display_name(test['best_baseline'])}; p {p})"
                           + ("†" if test.get("significant") else ""))
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def render_proportion_csv(summary: dict[str, Any]) -> str:
    """One line per (fraction, method): mean, std and number of seeds."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["fraction", "method", "accuracy_mean", "accuracy_std", "seeds"])
    for i, f in enumerate(summary["fractions"]):
        for m in summary["methods"]:
            mean, std = summary["mean"][m][i], summary["std"][m][i]
            writer.writerow([f"{f:g}", m, "" if mean is None else f"{mean:.4f}", "" if std is None else f"{std:.4f}",
                             summary["n"][m][i]])
    return buf.getvalue()


def write_proportion_tables(out: str | Path, summary: dict[str, Any], *, meta: dict[str, Any],
                            n_experiments: int, n_seeds: int) -> dict[str, Path]:
    """``proportion.json`` (summary, meta), ``proportion.csv`` and ``proportion.md``, atomically."""
    out = Path(out)
    paths = {ext: out / f"proportion.{ext}" for ext in ("json", "csv", "md")}
    write_json_atomic(paths["json"], {"table": "proportion", "metric": "accuracy", "scale": 100.0,
                                      "summary": summary, "meta": meta})
    write_text_atomic(paths["csv"], render_proportion_csv(summary))
    write_text_atomic(paths["md"], render_proportion_markdown(summary, n_experiments, n_seeds))
    return paths
