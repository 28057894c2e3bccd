"""Fitting any method of the registry (:mod:`mgl.methods`) into a head, the same way for the product and the grids.

:func:`fit_method` trains one method on an experiment's data and features and returns a
:class:`FittedMethod`: the head (:mod:`mgl.heads`), its training report and the labelled bank it
was fitted with. :func:`labelled_bank` embeds every language's training rows with the features
as they are after training (a trained encoder's final weights). An ``ensemble`` fits each of its
members as it would be fitted alone (the features are reset to their starting weights before
each), and averages their probabilities.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from mgl.errors import ConfigError
from mgl.heads.base import Head, LabelledBank, row_features
from mgl.heads.ensemble import DEFAULT_MEMBERS, EnsembleHead
from mgl.methods import check_members


@dataclass
class FittedMethod:
    """A trained method: its head, what training reported, and (ensembles) each member's own."""

    method: str
    head: Head
    report: dict[str, Any]
    bank: LabelledBank | None
    """None where fitted with ``keep_bank=False``."""
    members: dict[str, FittedMethod] = field(default_factory=dict)


def labelled_bank(data, features, *, languages: Sequence[str] | None = None) -> LabelledBank:
    """Every ``train`` row of ``languages`` (default: the sources and the target), with its features."""
    t = data.table
    rows = t.rows(languages=list(languages or [*data.sources, data.target]), split="train")
    return LabelledBank(
        [data.examples[i] for i in rows], row_features(features, rows).cpu(), t.labels[rows], list(t.label_names)
    )


def fit_method(
    name: str,
    data,
    features,
    cfg,
    *,
    seed: int,
    device: torch.device | str = "cpu",
    progress: bool = False,
    options=None,
    members: Sequence[str] | None = None,
    checkpoint=None,
    resume=None,
    keep_bank: bool = True,
) -> FittedMethod:
    """Train ``name`` (``mgl`` and its variants, a baseline, a logistic regression, ``ensemble``)
    on ``data`` with ``features`` under the run configuration ``cfg``; nothing is scored here.

    ``keep_bank=False`` (the grids, which score and keep nothing else) skips embedding the labelled
    bank for heads that do not read it (MGL's head does: its support sets come from it)."""
    from mgl.methods import is_mgl, method

    kind = method(name).kind
    if kind == "ensemble":
        chosen = check_members(members or DEFAULT_MEMBERS)
        initial = features.state_dict()
        fitted: dict[str, FittedMethod] = {}
        first_mgl = next((m for m in chosen if is_mgl(m)), None)
        for member in chosen:
            features.load_state_dict(initial)
            own = member == first_mgl  # a checkpoint holds one MGL's stages
            fitted[member] = fit_method(
                member,
                data,
                features,
                cfg,
                seed=seed,
                device=device,
                progress=progress,
                options=options,
                checkpoint=checkpoint if own else None,
                resume=resume if own else None,
                keep_bank=False,
            )
        head = EnsembleHead({m: f.head for m, f in fitted.items()})
        report = {"members": chosen, "train_seconds": sum(f.report["train_seconds"] for f in fitted.values())}
        # one bank for all: the members share one frozen encoder (an MGL member has embedded it already)
        bank = next((f.bank for f in fitted.values() if f.bank is not None), None)
        if bank is None and keep_bank:
            features.load_state_dict(initial)
            bank = labelled_bank(data, features)
        return FittedMethod(name, head, report, bank, fitted)
    bank = None
    if is_mgl(name):
        head, report, bank = _fit_mgl(
            name, data, features, cfg, seed=seed, device=device, progress=progress, checkpoint=checkpoint, resume=resume
        )
    elif kind == "baseline":
        head, report = _fit_baseline(
            name, data, features, cfg, seed=seed, device=device, progress=progress, options=options
        )
    elif kind == "reference":
        head, report = _fit_logreg(name, data, features, cfg, seed=seed)
    else:  # pragma: no cover - the registry has no other kind
        raise ConfigError(f"cannot fit method {name!r} of kind {kind!r}")
    if bank is None and keep_bank:
        bank = labelled_bank(data, features)
    return FittedMethod(name, head, report, bank)


def _fit_mgl(name, data, features, cfg, *, seed, device, progress, checkpoint, resume):
    from mgl.heads.meta_graph import MetaGraphHead
    from mgl.methods import mgl_variant_config
    from mgl.training import build_model, fit_mgl

    variant = mgl_variant_config(name, cfg.mgl)
    torch.manual_seed(seed)
    model = build_model(variant, features.dim, data.table.num_classes).to(device)
    fit = fit_mgl(
        model,
        features,
        data.table,
        data.sources,
        data.target,
        variant,
        seed=seed,
        progress=progress,
        checkpoint=checkpoint,
        resume=resume,
    )
    bank = labelled_bank(data, features)  # the final features: a trained encoder's own
    head = MetaGraphHead.from_bank(model.eval(), variant, bank, sources=data.sources, target=data.target, seed=seed)
    n_train = len(data.table.rows(languages=[*data.sources, data.target], split="train"))
    return head, {"train_seconds": fit.seconds, "stages": [s.to_dict() for s in fit.stages], "n_train": n_train}, bank


def _fit_baseline(name, data, features, cfg, *, seed, device, progress, options):
    from mgl.baselines import BASELINES, make_context
    from mgl.baselines.common import small_model_threads
    from mgl.heads.mlp import MLPHead

    ctx = make_context(data, features, cfg.mgl, seed=seed, device=device, progress=progress, options=options)
    with small_model_threads(features, ctx.device):
        t0 = time.perf_counter()
        fitted = BASELINES[name](ctx)
        seconds = time.perf_counter() - t0
    return MLPHead(fitted.model, fitted.head), {
        "train_seconds": seconds,
        "n_train": int(fitted.n_train),
        "stages": [s.to_dict() for s in fitted.stages],
        "options": ctx.options.to_dict(),
    }


def _fit_logreg(name, data, features, cfg, *, seed):
    from mgl.baselines.common import mgl_validation_rows
    from mgl.baselines.logistic_regression import fit_logistic_regression
    from mgl.heads.logreg import LogRegHead

    t = data.table
    langs = [data.target] if name == "logreg-target" else [*data.sources, data.target]
    train = t.rows(languages=langs, split="train")
    _, val = mgl_validation_rows(t, data.sources, data.target, cfg.mgl, seed)
    t0 = time.perf_counter()
    fit = fit_logistic_regression(
        features_matrix(features, train),
        t.labels[train],
        features_matrix(features, val),
        t.labels[val],
        seed=seed,
        stage=name,
    )
    seconds = time.perf_counter() - t0
    head = LogRegHead.from_pipeline(fit.model, t.num_classes, C=fit.C)
    return head, {
        "train_seconds": seconds,
        "n_train": len(train),
        "C": fit.C,
        "val_accuracy": fit.val_accuracy,
        "val_scores": {str(k): v for k, v in fit.val_scores.items()},
    }


def features_matrix(features, rows: np.ndarray) -> np.ndarray:
    """The features of ``rows`` as a float32 numpy matrix (:func:`~mgl.heads.base.row_features`)."""
    return row_features(features, rows).cpu().numpy()
