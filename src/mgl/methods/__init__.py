"""The methods: each a class that fits itself (:mod:`mgl.methods.base`), listed once in the registry's
static table (:mod:`mgl.methods.registry`), fitted and scored by one path (:mod:`mgl.methods.scoring`),
choosing its model on the rows every method chooses on (:mod:`mgl.methods.validation_rows`).

Built in: MGL and its ablations (:mod:`mgl.methods.mgl.method`, names in :mod:`mgl.methods.mgl.variants`),
the neural baselines (:mod:`mgl.methods.baselines`), the logistic-regression references
(:mod:`mgl.methods.logistic`, :mod:`mgl.methods.char_ngram_logistic`) and the ensemble
(:mod:`mgl.methods.ensemble`). Light to import: the classes import torch and scikit-learn where they train.
"""

from __future__ import annotations

from mgl.methods.base import FitResult, Method, Training, labelled_bank
from mgl.methods.ensemble import Ensemble, Recorded
from mgl.methods.mgl.variants import MGL_ABLATIONS, is_mgl, method_name, mgl_variant_config
from mgl.methods.registry import (
    ABLATION_METHODS,
    BASELINE_METHODS,
    KINDS,
    METHODS,
    PAPER_METHODS,
    PROPORTION_METHODS,
    REFERENCE_METHODS,
    REGISTRY,
    MethodInfo,
    check_members,
    check_methods,
    check_run_config,
    display_name,
    load_plugins,
    make_method,
    method_info,
    names_of_kind,
    register,
    unregister,
)
from mgl.methods.scoring import SCORER, Scored, fit_and_score, split_metrics, split_probabilities

__all__ = [
    "ABLATION_METHODS",
    "BASELINE_METHODS",
    "KINDS",
    "METHODS",
    "MGL_ABLATIONS",
    "PAPER_METHODS",
    "PROPORTION_METHODS",
    "REFERENCE_METHODS",
    "REGISTRY",
    "SCORER",
    "Ensemble",
    "FitResult",
    "Method",
    "MethodInfo",
    "Recorded",
    "Scored",
    "Training",
    "check_members",
    "check_methods",
    "check_run_config",
    "display_name",
    "fit_and_score",
    "is_mgl",
    "labelled_bank",
    "load_plugins",
    "make_method",
    "method_info",
    "method_name",
    "mgl_variant_config",
    "names_of_kind",
    "register",
    "split_metrics",
    "split_probabilities",
    "unregister",
]
