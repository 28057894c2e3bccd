"""One experiment end to end, as ``mgl run`` records it: configuration in, ``result.json`` record out.

The steps themselves are in :mod:`mgl.data.preparation` (data), :mod:`mgl.encoders.featurizer` (features)
and :mod:`mgl.methods.heads` (each method fitted and scored);
the trained model is a :class:`~mgl.model.classifier.Classifier` of the configured method. :func:`run_experiment` adds
what a run's record needs: the configuration, the counts per language and split, timings, the
encoder's identity and the machine.
"""

from __future__ import annotations

import time
from typing import Any

from mgl.config import RunConfig
from mgl.data.preparation import prepare_data
from mgl.errors import DataError
from mgl.methods import method_name
from mgl.methods.scoring import SCORER
from mgl.outputs import check_model_destination
from mgl.provenance import machine_info


def run_experiment(
    cfg: RunConfig,
    *,
    progress: bool = True,
    save_dir=None,
    checkpoint_path=None,
    resume: bool = False,
    require_test: bool = True,
    overwrite: bool = False,
    discard_edits: bool = False,
    support_texts: bool = True,
    save_checked: bool = False,
) -> dict[str, Any]:
    """The whole pipeline for one configuration; returns the result record.

    ``save_dir``: also save the trained model there (see :mod:`mgl.model.saving`);
    checked before any work (:func:`mgl.outputs.check_model_destination`: a missing or empty
    folder, or with ``overwrite`` an mgl model's), here unless ``save_checked`` (the caller checked
    it, as ``mgl train`` does before it creates ``--out``).
    ``checkpoint_path``: write an atomic training checkpoint there after every round and at
    each stage's end; with ``resume``, continue from it if it exists. ``require_test``: the
    target must have test rows (``mgl run``); without (``mgl train``), a target with none is
    trained and the record says that nothing was evaluated (its metrics are null, never NaN).
    """
    from mgl.model.checkpoint import Checkpointer
    from mgl.model.classifier import Classifier

    clf = Classifier(cfg)
    cfg = clf.checked_config()  # the run's one validation, before any work
    if save_dir is not None and not save_checked:
        check_model_destination(save_dir, overwrite=overwrite, discard_edits=discard_edits)
    t_start = time.perf_counter()
    data = prepare_data(cfg.data, cfg.seed, require_test=require_test)
    ckpt = Checkpointer(checkpoint_path, cfg, data.examples, resume=resume) if checkpoint_path is not None else None
    try:
        clf.fit_data(
            data,
            progress=progress,
            checkpoint=ckpt.save if ckpt else None,
            resume=ckpt.resumed if ckpt else None,
        )
    except DataError as exc:
        if exc.source is None:  # name the data the problem was found in
            named = cfg.data.name.lower() in ("webis-cls-10", "paws-x")
            where = (cfg.data.root or cfg.data.name) if named else cfg.data.name
            raise DataError(exc.message, source=where, record=exc.record) from None
        raise
    metrics = clf.report
    from mgl import distributed

    if save_dir is not None and distributed.is_main_process():
        clf.save_pretrained(save_dir, overwrite=overwrite, support_texts=support_texts, discard_edits=discard_edits)
    counts = {
        f"n_{split}_{lang}": n
        for lang, by_split in metrics["counts"].items()  # the classifier's, flattened
        for split, n in by_split.items()
        if split != "test"
    }
    evaluated = metrics["n_test"] > 0
    return result_record(
        None,
        data,
        metrics,
        cfg=cfg,
        seed=cfg.seed,
        encoder=clf.encoder,
        evaluated=evaluated,
        **({} if evaluated else {"note": f"nothing was evaluated: the target {data.target!r} has no test rows"}),
        macro_f1=metrics.get("macro_f1"),
        confusion_matrix=metrics.get("confusion_matrix"),
        embed_seconds=metrics["embed_seconds"],
        total_seconds=time.perf_counter() - t_start,
        encoder_model=clf.encoder.spec.model,
        pooling_head=cfg.encoder.pooling_head,
        device=str(clf.encoder.device),
        labels=data.table.label_names,
        target_unseen_classes=data.target_unseen_classes,
        counts=counts,
        validation_carved=data.carved or {},
        zero_shot=data.zero_shot,
        target_labels=metrics["target_labels"],
        unlabelled_texts=metrics["unlabelled_texts"],
        calibration=metrics.get("calibration"),
        **({"members": metrics["members"]} if "members" in metrics else {}),
        stages=metrics["stages"],
        **({"distributed": metrics["distributed"]} if "distributed" in metrics else {}),
        config=cfg.to_dict(),
    )


def result_record(
    name: str | None, data, metrics: dict[str, Any], *, cfg, seed: int, encoder, **extra
) -> dict[str, Any]:
    """The one result record of a fitted and scored method, for a grid cell and ``mgl run`` alike:
    what was run (method, None: the configuration's; experiment, seed, encoder), its test metrics and validation accuracy,
    training time, the scorer and the machine; ``extra`` adds what the caller keeps beside
    (a cell its details and probabilities, a run its configuration and calibration)."""
    if name is None:  # the configuration's method, an MGL ablation by its switches (mgl-no-meta ...)
        name = method_name(cfg.mgl) if cfg.resolved_method() == "mgl" else cfg.resolved_method()
    enc = cfg.encoder
    return {
        "method": name,
        "data": cfg.data.name,
        "target": data.target,
        "domain": data.domain,
        "sources": list(data.sources),
        "seed": seed,
        **{k: metrics[k] for k in ("accuracy", "precision", "recall", "f1")},
        "f1_averaging": metrics.get("averaging"),
        "val_accuracy": metrics.get("val_accuracy"),
        "n_test": metrics["n_test"],
        "train_seconds": metrics["train_seconds"],
        "encoder": encoder.identity,
        "encoder_train": enc.train,
        **({"pooling_head": enc.pooling_head} if enc.pooling_head != "none" else {}),
        "scorer": SCORER,
        **extra,
        "machine": machine_info(),
    }
