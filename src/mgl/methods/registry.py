"""The registry of methods: the one list of their names, display names and kinds.

Every method is a class (:class:`mgl.methods.base.Method`) registered here once, with its name,
how tables name it and its kind:

* ``baseline``: the neural baselines (:mod:`mgl.methods.baselines`, one module each);
* ``reference``: the logistic regressions on the frozen embeddings (:mod:`mgl.methods.logreg`);
* ``surface``: models of the texts' own characters, beside the encoder: ``logreg-chars``
  (:mod:`mgl.methods.char_ngrams`), for targets whose script the encoder hardly knows;
* ``mgl``: MGL and its ablations (:mod:`mgl.methods.mgl.method`), named ``mgl`` plus any of the
  suffixes of :data:`MGL_ABLATIONS` and ``-gcnN`` (N GCN layers), combined in that order, e.g.
  ``mgl-no-meta-gcn3``. :func:`mgl_variant_config` maps a name to its configuration and
  :func:`method_name` a configuration back to its name, both from the same table;
* ``ensemble``: the mean of its members' class probabilities (:mod:`mgl.methods.ensemble`;
  members by default MGL, Mix, the pooled and the character n-gram logistic regressions).

A built-in class is named by its import path and imported when a method is made
(:func:`make_method`), as transformers' auto classes name theirs, so that the command line can
list the methods without importing torch. :func:`register` adds a method (a class or its path);
the lists below (:data:`BASELINE_METHODS` ...) are read from the registry.
"""

from __future__ import annotations

import copy
import importlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mgl.config import MGLConfig
from mgl.errors import ConfigError

if TYPE_CHECKING:
    from mgl.config import MGLConfig, RunConfig
    from mgl.methods.base import Method

KINDS = ("reference", "surface", "baseline", "mgl", "ensemble")
"""The kinds of method, in the order tables list them."""


@dataclass(frozen=True)
class MethodInfo:
    """A registered method: its name, how tables name it, its kind, and its class (or the class's
    import path, ``"module:Class"``)."""

    name: str
    display: str
    kind: str
    cls: Any = None

    def load(self) -> type[Method]:
        """The method's class (imported on first use where registered by path)."""
        if isinstance(self.cls, str):
            module, _, attr = self.cls.partition(":")
            return getattr(importlib.import_module(module), attr)
        if self.cls is None:
            raise ConfigError(f"method {self.name!r} has no class")
        return self.cls


REGISTRY: dict[str, MethodInfo] = {}
"""The registered methods by name, in registration order; MGL's variants are parsed (:func:`method`)."""


def register(name: str, display: str, kind: str, cls) -> MethodInfo:
    """Register a method: ``cls`` a :class:`~mgl.methods.base.Method` subclass or its import path.
    A name registered twice, or a kind not in :data:`KINDS`, is a ConfigError."""
    if kind not in KINDS:
        raise ConfigError(f"unknown kind of method {kind!r}; choose from {', '.join(KINDS)}")
    known = REGISTRY.get(name)
    if known is not None and known == MethodInfo(name, display, kind, cls):
        return known  # the same registration again (a plug-in loaded twice)
    if known is not None or (_VARIANT.match(name) and name != "mgl"):
        raise ConfigError(f"a method named {name!r} is registered already")
    info = MethodInfo(name, display, kind, cls)
    REGISTRY[name] = info
    return info


def unregister(name: str) -> None:
    """Remove a registered method (tests, plug-ins that replace one)."""
    REGISTRY.pop(name, None)


def names_of_kind(kind: str) -> tuple[str, ...]:
    """The registered names of one kind, in registration order."""
    return tuple(name for name, info in REGISTRY.items() if info.kind == kind)


def make_method(name: str, config: RunConfig, **kwargs) -> Method:
    """An unfitted instance of the method ``name`` (its settings stored, validated by ``fit``)."""
    return method(name).load()(name, config, **kwargs)


MGL_ABLATIONS = {
    # suffix: (MGLConfig field, value in the ablation, words in the table)
    "no-meta": ("meta_train", False, "w/o Meta"),
    "no-l2clt": ("l2clt", False, "w/o L2CLT"),
    "no-sigma": ("learn_sigma", False, "w/o σ"),
}
"""MGL's switch-off ablations (Table 3); ``-gcnN`` sets ``gcn_layers`` (the full model has 2)."""
FULL_GCN_LAYERS = 2


_SUFFIX = "|".join([*(re.escape(s) for s in MGL_ABLATIONS), r"gcn\d+"])
_VARIANT = re.compile(rf"^mgl((?:-(?:{_SUFFIX}))*)$")


def _suffixes(name: str) -> list[str] | None:
    match = _VARIANT.match(name)
    return None if match is None else re.findall(rf"-({_SUFFIX})", match.group(1))


def is_mgl(name: str) -> bool:
    """Whether ``name`` is MGL or one of its variants."""
    return _suffixes(name) is not None


def method(name: str) -> MethodInfo:
    """The registry entry of ``name`` (MGL's variants built from their suffixes); ConfigError if unknown."""
    if name in REGISTRY:
        return REGISTRY[name]
    parts = _suffixes(name)
    if parts is None and not _plugins_loaded:  # a plug-in's method, perhaps
        load_plugins()
        if name in REGISTRY:
            return REGISTRY[name]
    if parts is None:
        known = ", ".join([*REGISTRY, *(f"mgl-{s}" for s in MGL_ABLATIONS), "mgl-gcnN"])
        raise ConfigError(f"unknown method {name!r}; choose from {known}")
    words = [
        MGL_ABLATIONS[p][2] if p in MGL_ABLATIONS else f"{p[3:]} GCN layer{'s' if p[3:] != '1' else ''}" for p in parts
    ]
    return MethodInfo(name, "MGL " + ", ".join(words), "mgl", REGISTRY["mgl"].cls)


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
    its MGL settings (the configuration's own ``validate`` checks types and ranges only). Nothing
    in ``cfg`` is changed."""
    method = cfg.resolved_method()
    check_methods([method])
    if method == "ensemble":
        check_members(cfg.members)


def needs_features(name: str) -> bool:
    """Whether the method reads the encoder's features (every method but those of kind ``surface``,
    which read the texts alone: a grid group of such methods embeds nothing)."""
    return method(name).kind != "surface"


def check_methods(methods: Sequence[str]) -> list[str]:
    """The method names, validated (MGL variants' configurations too), repeats removed (order kept)."""

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


for _name, _display, _kind, _cls in (
    ("logreg-target", "LogReg (target only)", "reference", "mgl.methods.logreg:LogisticRegressionReference"),
    ("logreg-pooled", "LogReg (pooled)", "reference", "mgl.methods.logreg:LogisticRegressionReference"),
    ("logreg-chars", "LogReg (char n-grams)", "surface", "mgl.methods.char_ngrams:CharNgramReference"),
    ("target-only", "Target-Only", "baseline", "mgl.methods.baselines.target_only:TargetOnly"),
    ("mix", "Mix", "baseline", "mgl.methods.baselines.mix:Mix"),
    ("multi-task", "Multi-task", "baseline", "mgl.methods.baselines.multi_task:MultiTask"),
    ("fine-tune", "Fine-tune", "baseline", "mgl.methods.baselines.fine_tune:FineTune"),
    ("reptile", "Reptile", "baseline", "mgl.methods.baselines.reptile:Reptile"),
    ("mgl", "MGL", "mgl", "mgl.methods.mgl.method:MGL"),
    ("ensemble", "Ensemble", "ensemble", "mgl.methods.ensemble:Ensemble"),
):
    register(_name, _display, _kind, _cls)

BASELINE_METHODS = names_of_kind("baseline")
"""The neural baselines, in their tables' row order."""
PAPER_METHODS = (*BASELINE_METHODS, "mgl")
"""The rows of the paper's Table 1 and Table 2."""
REFERENCE_METHODS = names_of_kind("reference")
"""Logistic regressions on the frozen embeddings (the target's labels; all languages' pooled), in every table."""
ABLATION_METHODS = ("mgl", *(f"mgl-{suffix}" for suffix in MGL_ABLATIONS), "mgl-gcn1", "mgl-gcn3", "mgl-gcn4")
"""The rows of the paper's Table 3: the full model, then its ablations."""
PROPORTION_METHODS = ("mgl", "reptile", "mix", "multi-task", "fine-tune", "logreg-pooled")
"""The lines of the paper's Fig. 5, plus the pooled logistic-regression reference every table carries."""

PLUGIN_GROUP = "mgl.methods"
"""The entry-point group of method plug-ins: each names a function that registers its methods
(:func:`register`), called the first time a name is not among the registered ones (:func:`method`),
so the lists above stay the paper's and the registry stays light to import."""
_plugins_loaded = False


def load_plugins() -> None:
    """Call every installed plug-in's registration (again: registering the same method twice is a no-op)."""
    from importlib.metadata import entry_points

    global _plugins_loaded
    _plugins_loaded = True
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            ep.load()()
        except Exception as exc:  # a broken plug-in is named, never silently skipped
            raise ConfigError(f"the method plug-in {ep.name!r} ({ep.value}) failed to load: {exc}") from exc
