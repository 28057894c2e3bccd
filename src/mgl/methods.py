"""The methods the experiment grids run: one registry of names, display names, kinds and MGL's ablation variants.

Four kinds:

* ``baseline``: the neural baselines of :data:`mgl.baselines.BASELINES` (the same names);
* ``reference``: the logistic regressions on the frozen embeddings
  (:mod:`mgl.baselines.logistic_regression`);
* ``mgl``: MGL and its ablations, named ``mgl`` plus any of the suffixes of
  :data:`MGL_ABLATIONS` and ``-gcnN`` (N GCN layers), combined in that order, e.g.
  ``mgl-no-meta-gcn3``. :func:`mgl_variant_config` maps a name to its configuration and
  :func:`method_name` a configuration back to its name, both from the same table;
* ``ensemble``: the mean of its members' class probabilities (:mod:`mgl.heads.ensemble`;
  members by default MGL, Mix and the pooled logistic regression).

Every method fits into a head (:func:`mgl.heads.fitting.fit_method`) that the grids score and
the product saves, serves and explains.

Free of heavy imports (the configuration is imported where a variant is built), so that the
command line can show the names as its defaults without loading the grid machinery.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mgl.errors import ConfigError

if TYPE_CHECKING:
    from mgl.config import MGLConfig


@dataclass(frozen=True)
class Method:
    """One row of a grid's tables."""

    name: str
    display: str
    kind: str  # "baseline", "reference", "mgl" or "ensemble"


BASELINE_METHODS = ("target-only", "mix", "multi-task", "fine-tune", "reptile")
"""The neural baselines, in their tables' row order (the keys of :data:`mgl.baselines.BASELINES`)."""
PAPER_METHODS = (*BASELINE_METHODS, "mgl")
"""The rows of the paper's Table 1 and Table 2."""
REFERENCE_METHODS = ("logreg-target", "logreg-pooled")
"""Logistic regressions on the frozen embeddings (the target's labels; all languages' pooled), in every table."""
ABLATION_METHODS = ("mgl", "mgl-no-meta", "mgl-no-l2clt", "mgl-no-sigma", "mgl-gcn1", "mgl-gcn3", "mgl-gcn4")
"""The rows of the paper's Table 3: the full model, then its ablations."""
PROPORTION_METHODS = ("mgl", "reptile", "mix", "multi-task", "fine-tune", "logreg-pooled")
"""The lines of the paper's Fig. 5, plus the pooled logistic-regression reference every table carries."""

MGL_ABLATIONS = {
    # suffix: (MGLConfig field, value in the ablation, words in the table)
    "no-meta": ("meta_train", False, "w/o Meta"),
    "no-l2clt": ("l2clt", False, "w/o L2CLT"),
    "no-sigma": ("learn_sigma", False, "w/o σ"),
}
"""MGL's switch-off ablations (Table 3); ``-gcnN`` sets ``gcn_layers`` (the full model has 2)."""
FULL_GCN_LAYERS = 2

REGISTRY: dict[str, Method] = {
    m.name: m
    for m in (
        Method("logreg-target", "LogReg (target only)", "reference"),
        Method("logreg-pooled", "LogReg (pooled)", "reference"),
        Method("target-only", "Target-Only", "baseline"),
        Method("mix", "Mix", "baseline"),
        Method("multi-task", "Multi-task", "baseline"),
        Method("fine-tune", "Fine-tune", "baseline"),
        Method("reptile", "Reptile", "baseline"),
        Method("mgl", "MGL", "mgl"),
        Method("ensemble", "Ensemble", "ensemble"),
    )
}
"""The named methods; MGL's variants are parsed (:func:`method`)."""
DISPLAY_NAMES = {name: m.display for name, m in REGISTRY.items()}

_SUFFIX = "|".join([*(re.escape(s) for s in MGL_ABLATIONS), r"gcn\d+"])
_VARIANT = re.compile(rf"^mgl((?:-(?:{_SUFFIX}))*)$")


def _suffixes(name: str) -> list[str] | None:
    match = _VARIANT.match(name)
    return None if match is None else re.findall(rf"-({_SUFFIX})", match.group(1))


def is_mgl(name: str) -> bool:
    """Whether ``name`` is MGL or one of its variants."""
    return _suffixes(name) is not None


def method(name: str) -> Method:
    """The registry entry of ``name`` (MGL's variants built from their suffixes); ConfigError if unknown."""
    if name in REGISTRY:
        return REGISTRY[name]
    parts = _suffixes(name)
    if parts is None:
        known = ", ".join([*REGISTRY, *(f"mgl-{s}" for s in MGL_ABLATIONS), "mgl-gcnN"])
        raise ConfigError(f"unknown method {name!r}; choose from {known}")
    words = [
        MGL_ABLATIONS[p][2] if p in MGL_ABLATIONS else f"{p[3:]} GCN layer{'s' if p[3:] != '1' else ''}" for p in parts
    ]
    return Method(name, "MGL " + ", ".join(words), "mgl")


def display_name(name: str) -> str:
    """How tables name the method (the name itself if it is not one; a derived ensemble
    ``ensemble[a+b]`` as "Ensemble (A + B)")."""
    if name.startswith("ensemble[") and name.endswith("]"):
        return "Ensemble (" + " + ".join(display_name(m) for m in name[len("ensemble[") : -1].split("+")) + ")"
    try:
        return method(name).display
    except ConfigError:
        return name


def mgl_variant_config(name: str, base: MGLConfig) -> MGLConfig:
    """The MGLConfig of ``mgl`` or an ablation name (the inverse of :func:`method_name`)."""
    parts = _suffixes(name)
    if parts is None:
        raise ConfigError(f"{name!r} is not an MGL variant (mgl, mgl-no-meta, mgl-no-l2clt, mgl-no-sigma, mgl-gcnN)")
    cfg = copy.deepcopy(base)
    for part in parts:
        if part in MGL_ABLATIONS:
            field, value, _ = MGL_ABLATIONS[part]
            setattr(cfg, field, value)
        else:
            cfg.gcn_layers = int(part[3:])
    cfg.validate()
    return cfg


def method_name(cfg: MGLConfig) -> str:
    """``mgl`` for the full model; ablations get their suffixes (``mgl-no-meta``, ``mgl-gcn3`` ...)."""
    parts = ["mgl"]
    for suffix, (field, value, _) in MGL_ABLATIONS.items():
        if getattr(cfg, field) == value:
            parts.append(suffix)
    if cfg.gcn_layers != FULL_GCN_LAYERS:
        parts.append(f"gcn{cfg.gcn_layers}")
    return "-".join(parts)


def check_members(members: Sequence[str]) -> list[str]:
    """An ensemble's members: known methods, no ensemble among them, no repeats, at least two."""
    out = check_methods(members)
    if "ensemble" in out:
        raise ConfigError("an ensemble cannot be a member of an ensemble")
    if len(out) < 2:
        raise ConfigError(f"an ensemble needs at least two members, got {out}")
    return out


def check_run_config(cfg) -> None:
    """The method (and the ensemble's members) a run configuration names: known, and valid with
    its MGL settings (the configuration's own ``validate`` checks types and ranges only)."""
    method = cfg.resolved_method()
    check_methods([method])
    if method == "ensemble":
        cfg.members = check_members(cfg.members)


def check_methods(methods: Sequence[str]) -> list[str]:
    """The method names, validated (MGL variants' configurations too), repeats removed (order kept)."""
    from mgl.config import MGLConfig

    out = []
    for name in methods:
        name = name.strip()
        if not name:
            continue
        method(name)
        if is_mgl(name):
            mgl_variant_config(name, MGLConfig())
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError("no methods given")
    return out
