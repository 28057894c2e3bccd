"""Fitted methods as heads over node features: one interface for every method of :mod:`mgl.methods`.

* :class:`~mgl.methods.mgl.head.MetaGraphHead` (``meta-graph``): MGL and its ablations;
* :class:`~mgl.methods.heads.mlp.MLPHead` (``mlp``): the neural baselines;
* :class:`~mgl.methods.heads.logistic.LogisticHead` (``logreg``): the logistic-regression references;
* :class:`~mgl.methods.heads.char_ngram.CharNgramHead` (``char-ngram``): ``logreg-chars``, which reads the texts;
* :class:`~mgl.methods.heads.setfit.SetFitHead` (``setfit``): SetFit, its adapted encoder and regression;
* :class:`~mgl.methods.heads.ensemble.EnsembleHead` (``ensemble``): the mean of members' probabilities.

:meth:`mgl.methods.base.Method.fit` trains any of them; :func:`~mgl.methods.heads.base.score_rows` is
the one scorer. :data:`HEAD_KINDS` maps a saved head's ``kind`` to its class (every :class:`Head` subclass that names one).
"""

from __future__ import annotations

from mgl.methods.heads.base import HEAD_KINDS, Head, LabelledBank, score_rows
from mgl.methods.heads.char_ngram import CharNgramHead
from mgl.methods.heads.ensemble import EnsembleHead, mean_probabilities
from mgl.methods.heads.logistic import LogisticHead
from mgl.methods.heads.mlp import MLPHead
from mgl.methods.heads.setfit import SetFitHead
from mgl.methods.mgl.head import MetaGraphHead

__all__ = [
    "HEAD_KINDS",
    "CharNgramHead",
    "EnsembleHead",
    "Head",
    "LabelledBank",
    "LogisticHead",
    "MLPHead",
    "MetaGraphHead",
    "SetFitHead",
    "mean_probabilities",
    "score_rows",
]
