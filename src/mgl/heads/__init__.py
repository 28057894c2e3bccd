"""Fitted methods as heads over node features: one interface for every method of :mod:`mgl.methods`.

* :class:`~mgl.heads.meta_graph.MetaGraphHead` (``meta-graph``): MGL and its ablations;
* :class:`~mgl.heads.mlp.MLPHead` (``mlp``): the neural baselines;
* :class:`~mgl.heads.logreg.LogRegHead` (``logreg``): the logistic-regression references;
* :class:`~mgl.heads.ensemble.EnsembleHead` (``ensemble``): the mean of members' probabilities.

:meth:`mgl.methods.base.Method.fit` trains any of them; :func:`~mgl.heads.base.score_rows` is
the one scorer. :data:`HEAD_KINDS` maps a saved head's ``kind`` to its class (every :class:`Head` subclass that names one).
"""

from __future__ import annotations

from mgl.heads.base import HEAD_KINDS, Head, LabelledBank, score_rows
from mgl.heads.ensemble import DEFAULT_MEMBERS, EnsembleHead, mean_probabilities
from mgl.heads.logreg import LogRegHead
from mgl.heads.meta_graph import MetaGraphHead
from mgl.heads.mlp import MLPHead

__all__ = [
    "DEFAULT_MEMBERS",
    "HEAD_KINDS",
    "EnsembleHead",
    "Head",
    "LabelledBank",
    "LogRegHead",
    "MLPHead",
    "MetaGraphHead",
    "mean_probabilities",
    "score_rows",
]
