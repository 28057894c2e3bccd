"""Baselines, one per module, on the same encoder, splits and validation data as MGL.

Neural baselines (the paper's, Sec. 5.1), each a method class (:class:`~mgl.methods.baselines.base.NeuralBaseline`)
registered in :mod:`mgl.methods.registry`; their shared classifier, training loop and tuning are
in :mod:`mgl.methods.baselines.common` and :mod:`mgl.methods.baselines.tuning`:

* ``target-only`` (:mod:`~mgl.methods.baselines.target_only`): the target's few labels alone;
* ``fine-tune`` (:mod:`~mgl.methods.baselines.fine_tune`): the sources, then the target;
* ``mix`` (:mod:`~mgl.methods.baselines.mix`): every language's labelled data pooled;
* ``multi-task`` (:mod:`~mgl.methods.baselines.multi_task`): a shared body, one head per language;
* ``reptile`` (:mod:`~mgl.methods.baselines.reptile`): first-order meta-learning over the sources,
  then adaptation on the target.

Their settings: the ``baselines`` section (:class:`mgl.config.BaselineConfig`) and, for the
classifier's shape and schedule, MGL's (``mgl``). The logistic-regression references are
:mod:`mgl.methods.logistic`.
"""

from __future__ import annotations

from mgl.methods.baselines.base import NeuralBaseline

__all__ = ["NeuralBaseline"]
