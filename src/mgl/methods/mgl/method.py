"""MGL and its ablations as a method: both stages trained (:func:`mgl.methods.mgl.training.fit_mgl`), the meta graph kept as a head.

The name says the variant (``mgl``, ``mgl-no-meta``, ``mgl-gcn3`` ...,
:func:`mgl.methods.registry.mgl_variant_config`). The fitted head
(:class:`~mgl.methods.mgl.head.MetaGraphHead`) scores each input as the query of its own graph over
support sets drawn from the labelled bank, as a saved model predicts. A checkpoint and ``resume``
act on MGL's stages (written after every round). torch and the training code are imported in
:meth:`MGL._fit` (the registry imports this module and stays light).
"""

from __future__ import annotations

from mgl.errors import DataError
from mgl.methods.base import FitResult, Method, Training, labelled_bank
from mgl.methods.mgl.variants import mgl_variant_config
from mgl.methods.validation_rows import validation_rows


class MGL(Method):
    """MGL (Meta Graph Learning) or one of its ablations, by name."""

    takes_checkpoint = True

    def check_data(self, data) -> None:
        """Every sampler of both stages built once: a language or class too small for N raises DataError."""
        super().check_data(data)
        check_episodes(data, mgl_variant_config(self.name, self.config.mgl))

    def _fit(self, data, features, run: Training) -> FitResult:
        import torch

        from mgl.methods.mgl.head import MetaGraphHead
        from mgl.methods.mgl.training import build_model, fit_mgl

        variant = mgl_variant_config(self.name, self.config.mgl)
        torch.manual_seed(run.seed)
        model = build_model(variant, features.dim, data.table.num_classes).to(run.device)
        fit = fit_mgl(
            model,
            features,
            data.table,
            data.sources,
            data.target,
            variant,
            seed=run.seed,
            progress=run.progress,
            checkpoint=run.checkpoint,
            resume=run.resume,
        )
        bank = labelled_bank(data, features)  # the final features: a trained encoder's own
        head = MetaGraphHead.from_bank(
            model.eval(), variant, bank, sources=data.sources, target=data.target, seed=run.seed
        )
        n_train = len(data.table.rows(languages=[*data.sources, data.target], split="train"))
        # the stages' own clocks, which a checkpoint carries over a restart: the whole training time
        return FitResult(head, fit.seconds, {"stages": [s.to_dict() for s in fit.stages], "n_train": n_train}, bank)


def check_episodes(data, cfg) -> None:
    """Build every sampler of both stages once (``cfg`` an :class:`~mgl.config.MGLConfig`): a
    language or class too small for N raises DataError."""
    from mgl.methods.mgl.training import meta_test_tasks, meta_train_tasks, require_a_stage

    require_a_stage(data.table, data.target, cfg)
    t = data.table
    taught = set(t.labels[t.rows(languages=data.sources, split="train")].tolist())
    only_target = [name for i, name in enumerate(t.label_names) if i not in taught]
    if only_target:
        raise DataError(
            f"class(es) {', '.join(map(repr, only_target))} are labelled only in the target {data.target!r}: no "
            "source teaches them, and MGL's episodes need every class in every source. Either drop them "
            "(--labels RAW=, for every raw value of the class) or keep them predictable from the target's own "
            "labels with a method that pools labels: --method logreg-pooled, mix, target-only or logreg-target"
        )
    rows = validation_rows(data.table, data.sources, data.target, cfg, 0, sources_first=cfg.meta_train)
    if cfg.meta_train:
        meta_train_tasks(data.table, data.sources, cfg, rows)
    meta_test_tasks(data.table, data.sources, data.target, cfg, rows)
