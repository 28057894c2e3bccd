"""The methods: each a class that fits itself (:mod:`mgl.methods.base`), registered once by name
(:mod:`mgl.methods.registry`), fitted and scored by one path (:mod:`mgl.methods.scoring`).

Built in: MGL and its ablations (:mod:`mgl.methods.mgl.method`), the neural baselines
(:mod:`mgl.methods.baselines`), the logistic-regression references (:mod:`mgl.methods.logreg`) and the
ensemble (:mod:`mgl.methods.ensemble`). Light to import: the classes are imported when a method
is made.
"""

from __future__ import annotations

from mgl.methods.base import Method, labelled_bank
from mgl.methods.registry import (
    ABLATION_METHODS,
    BASELINE_METHODS,
    KINDS,
    MGL_ABLATIONS,
    PAPER_METHODS,
    PROPORTION_METHODS,
    REFERENCE_METHODS,
    REGISTRY,
    MethodInfo,
    check_members,
    check_methods,
    check_run_config,
    display_name,
    is_mgl,
    load_plugins,
    make_method,
    method,
    method_name,
    mgl_variant_config,
    names_of_kind,
    register,
    unregister,
)
from mgl.methods.scoring import SCORER, Scored, fit_and_score, split_metrics, split_probabilities

__all__ = [
    "ABLATION_METHODS",
    "BASELINE_METHODS",
    "KINDS",
    "MGL_ABLATIONS",
    "PAPER_METHODS",
    "PROPORTION_METHODS",
    "REFERENCE_METHODS",
    "REGISTRY",
    "SCORER",
    "Method",
    "MethodInfo",
    "Scored",
    "check_members",
    "check_methods",
    "check_run_config",
    "display_name",
    "fit_and_score",
    "is_mgl",
    "labelled_bank",
    "load_plugins",
    "make_method",
    "method",
    "method_name",
    "mgl_variant_config",
    "names_of_kind",
    "register",
    "split_metrics",
    "split_probabilities",
    "unregister",
]
