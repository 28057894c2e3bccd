"""The logistic-regression references as a method: ``logreg-target`` (the target's few labels) and
``logreg-pooled`` (every language's labelled rows), on the frozen embeddings.

A standardised L2 logistic regression (:func:`mgl.methods.baselines.logistic_regression.fit_logistic_regression`),
its C chosen on the target's validation rows that MGL validates on
(:func:`mgl.methods.baselines.common.mgl_validation_rows`); the fitted head is a
:class:`~mgl.methods.heads.logreg.LogRegHead`. scikit-learn and torch are imported in :meth:`_fit`.
"""

from __future__ import annotations

import time

from mgl.methods.base import Method


class LogisticRegressionReference(Method):
    """``logreg-target`` or ``logreg-pooled``, by name."""

    @property
    def needs_target_labels(self) -> bool:  # type: ignore[override]
        return self.name == "logreg-target"

    def _fit(self, data, features, *, seed, device, progress, checkpoint, resume):
        from mgl.methods.baselines.common import mgl_validation_rows
        from mgl.methods.baselines.logistic_regression import fit_logistic_regression
        from mgl.methods.heads.base import row_features
        from mgl.methods.heads.logreg import LogRegHead

        t = data.table
        langs = [data.target] if self.name == "logreg-target" else [*data.sources, data.target]
        train = t.rows(languages=langs, split="train")
        _, val = mgl_validation_rows(t, data.sources, data.target, self.config.mgl, seed)
        t0 = time.perf_counter()
        fit = fit_logistic_regression(
            row_features(features, train).cpu().numpy(),
            t.labels[train],
            row_features(features, val).cpu().numpy(),
            t.labels[val],
            seed=seed,
            stage=self.name,
        )
        seconds = time.perf_counter() - t0
        head = LogRegHead.from_pipeline(fit.model, t.num_classes, C=fit.C)
        report = {
            "train_seconds": seconds,
            "n_train": len(train),
            "C": fit.C,
            "val_accuracy": fit.val_accuracy,
            "val_scores": {str(k): v for k, v in fit.val_scores.items()},
        }
        return head, report, None
