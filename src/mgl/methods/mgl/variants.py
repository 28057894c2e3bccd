"""MGL's variants by name: ``mgl`` plus any of the suffixes of :data:`MGL_ABLATIONS` and ``-gcnN``.

The paper's ablations (Table 3) switch one part of MGL off; ``-gcnN`` sets the number of GCN
layers. Suffixes combine in that order, e.g. ``mgl-no-meta-gcn3``. :func:`mgl_variant_config` maps
a name to its configuration and :func:`method_name` a configuration back to its name, both from
the one table :data:`MGL_ABLATIONS`; the full model's settings are :class:`~mgl.config.MGLConfig`'s
defaults.
"""

from __future__ import annotations

import copy
import re

from mgl.config import MGLConfig
from mgl.errors import ConfigError

MGL_ABLATIONS = {
    # suffix: (MGLConfig field, value in the ablation, words in the table)
    "no-meta": ("meta_train", False, "w/o Meta"),
    "no-l2clt": ("l2clt", False, "w/o L2CLT"),
    "no-sigma": ("learn_sigma", False, "w/o σ"),
}
"""MGL's switch-off ablations (Table 3); ``-gcnN`` sets ``gcn_layers`` (the full model: MGLConfig's default)."""

_SUFFIX = "|".join([*(re.escape(s) for s in MGL_ABLATIONS), r"gcn\d+"])
VARIANT = re.compile(rf"^mgl((?:-(?:{_SUFFIX}))*)$")
"""The names of MGL and its variants."""


def suffixes(name: str) -> list[str] | None:
    """The variant's suffixes in order (``[]`` for ``mgl``); None if ``name`` is not MGL's."""
    match = VARIANT.match(name)
    return None if match is None else re.findall(rf"-({_SUFFIX})", match.group(1))


def is_mgl(name: str) -> bool:
    """Whether ``name`` is MGL or one of its variants."""
    return suffixes(name) is not None


def variant_display(name: str) -> str:
    """How tables name a variant, e.g. "MGL w/o Meta, 3 GCN layers"."""
    parts = suffixes(name) or []
    words = [
        MGL_ABLATIONS[p][2] if p in MGL_ABLATIONS else f"{p[3:]} GCN layer{'s' if p[3:] != '1' else ''}" for p in parts
    ]
    return "MGL " + ", ".join(words) if words else "MGL"


def mgl_variant_config(name: str, base: MGLConfig) -> MGLConfig:
    """The MGLConfig of ``mgl`` or an ablation name (the inverse of :func:`method_name`)."""
    parts = suffixes(name)
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
    if cfg.gcn_layers != MGLConfig().gcn_layers:
        parts.append(f"gcn{cfg.gcn_layers}")
    return "-".join(parts)
