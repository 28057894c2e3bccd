"""The registry of methods: one static table of their names, display names, kinds and classes.

Every built-in method is a class (:class:`mgl.methods.base.Method`) listed once in :data:`METHODS`,
with its name, how tables name it and its kind:

* ``baseline``: the neural baselines (:mod:`mgl.methods.baselines`, one module each);
* ``reference``: the logistic regressions on the frozen embeddings (:mod:`mgl.methods.logistic`);
* ``surface``: models of the texts' own characters, beside the encoder: ``logreg-chars``
  (:mod:`mgl.methods.char_ngram_logistic`), for targets whose script the encoder hardly knows;
* ``external``: what users pick instead, run through its own library: ``setfit`` and
  ``setfit-pooled`` (:mod:`mgl.methods.setfit_method`; the optional extra ``setfit``);
* ``mgl``: MGL and its ablations (:mod:`mgl.methods.mgl.method`), named ``mgl`` plus the suffixes of
  :mod:`mgl.methods.mgl.variants` (e.g. ``mgl-no-meta-gcn3``);
* ``ensemble``: the mean of its members' class probabilities (:mod:`mgl.methods.ensemble`;
  members: the configuration's ``members``).

The classes' modules are light (each imports torch and scikit-learn inside the functions that
train), so the command line lists and checks names without them. A plug-in adds methods through
the entry-point group :data:`PLUGIN_GROUP` (:func:`register`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mgl.config import MGLConfig, RunConfig
from mgl.errors import ConfigError
from mgl.methods.base import Method
from mgl.methods.baselines.fine_tune import FineTune
from mgl.methods.baselines.mix import Mix
from mgl.methods.baselines.multi_task import MultiTask
from mgl.methods.baselines.reptile import Reptile
from mgl.methods.baselines.target_only import TargetOnly
from mgl.methods.char_ngram_logistic import CharNgramLogistic
from mgl.methods.ensemble import Ensemble
from mgl.methods.logistic import LogisticRegressionMethod
from mgl.methods.mgl.method import MGL
from mgl.methods.mgl.variants import MGL_ABLATIONS, VARIANT, is_mgl, mgl_variant_config, variant_display
from mgl.methods.setfit_method import SetFitMethod

KINDS = ("reference", "surface", "external", "baseline", "mgl", "ensemble")
"""The kinds of method, in the order tables list them."""


@dataclass(frozen=True)
class MethodInfo:
    """A registered method: its name, how tables name it, its kind, and its class."""

    name: str
    display: str
    kind: str
    cls: type[Method]


METHODS: dict[str, MethodInfo] = {
    info.name: info
    for info in (
        MethodInfo("logreg-target", "LogReg (target only)", "reference", LogisticRegressionMethod),
        MethodInfo("logreg-pooled", "LogReg (pooled)", "reference", LogisticRegressionMethod),
        MethodInfo("logreg-chars", "LogReg (char n-grams)", "surface", CharNgramLogistic),
        MethodInfo("setfit", "SetFit (target only)", "external", SetFitMethod),
        MethodInfo("setfit-pooled", "SetFit (pooled)", "external", SetFitMethod),
        MethodInfo("target-only", "Target-Only", "baseline", TargetOnly),
        MethodInfo("mix", "Mix", "baseline", Mix),
        MethodInfo("multi-task", "Multi-task", "baseline", MultiTask),
        MethodInfo("fine-tune", "Fine-tune", "baseline", FineTune),
        MethodInfo("reptile", "Reptile", "baseline", Reptile),
        MethodInfo("mgl", "MGL", "mgl", MGL),
        MethodInfo("ensemble", "Ensemble", "ensemble", Ensemble),
    )
}
"""The built-in methods, in their tables' order."""

REGISTRY: dict[str, MethodInfo] = dict(METHODS)
"""The built-in methods and those plug-ins registered; MGL's variants are parsed (:func:`method_info`)."""


def register(name: str, display: str, kind: str, cls: type[Method]) -> MethodInfo:
    """Register a plug-in's method (a :class:`~mgl.methods.base.Method` subclass). A name registered
    twice, or a kind not in :data:`KINDS`, is a ConfigError."""
    if kind not in KINDS:
        raise ConfigError(f"unknown kind of method {kind!r}; choose from {', '.join(KINDS)}")
    if not (isinstance(cls, type) and issubclass(cls, Method)):
        raise ConfigError(f"method {name!r}: {cls!r} is not a subclass of mgl.methods.Method")
    info = MethodInfo(name, display, kind, cls)
    known = REGISTRY.get(name)
    if known is not None and known == info:
        return known  # the same registration again (a plug-in loaded twice)
    if known is not None or (VARIANT.match(name) and name != "mgl"):
        raise ConfigError(f"a method named {name!r} is registered already")
    REGISTRY[name] = info
    return info


def unregister(name: str) -> None:
    """Remove a plug-in's method (tests, plug-ins that replace one); the built-in ones stay."""
    if name not in METHODS:
        REGISTRY.pop(name, None)


def names_of_kind(kind: str) -> tuple[str, ...]:
    """The registered names of one kind, in the table's order."""
    return tuple(name for name, info in REGISTRY.items() if info.kind == kind)


def method_info(name: str) -> MethodInfo:
    """The registry entry of ``name`` (MGL's variants built from their suffixes); ConfigError if unknown."""
    if name in REGISTRY:
        return REGISTRY[name]
    if not is_mgl(name) and not _plugins_loaded:  # a plug-in's method, perhaps
        load_plugins()
        if name in REGISTRY:
            return REGISTRY[name]
    if not is_mgl(name):
        known = ", ".join([*REGISTRY, *(f"mgl-{s}" for s in MGL_ABLATIONS), "mgl-gcnN"])
        raise ConfigError(f"unknown method {name!r}; choose from {known}")
    return MethodInfo(name, variant_display(name), "mgl", MGL)


def make_method(name: str, config: RunConfig, *, members: Sequence[str] | None = None) -> Method:
    """An unfitted instance of the method ``name``; an ensemble's members (``members``, default the
    configuration's) made here too."""
    info = method_info(name)
    if issubclass(info.cls, Ensemble):
        chosen = check_members(members or config.members)
        return info.cls(name, config, {m: make_method(m, config) for m in chosen})
    return info.cls(name, config)


def display_name(name: str) -> str:
    """How tables name the method (the name itself if it is not one; a derived ensemble
    ``ensemble[a+b]`` as "Ensemble (A + B)")."""
    if name.startswith("ensemble[") and name.endswith("]"):
        return "Ensemble (" + " + ".join(display_name(m) for m in name[len("ensemble[") : -1].split("+")) + ")"
    try:
        return method_info(name).display
    except ConfigError:
        return name


def check_members(members: Sequence[str]) -> list[str]:
    """An ensemble's members: known methods, no ensemble among them, no repeats, at least two."""
    out = check_methods(members)
    if "ensemble" in out:
        raise ConfigError("an ensemble cannot be a member of an ensemble")
    if len(out) < 2:
        raise ConfigError(f"an ensemble needs at least two members, got {out}")
    return out


def check_run_config(cfg: RunConfig) -> None:
    """The method (and the ensemble's members) a run configuration names: known, and valid with
    its MGL settings (the configuration's own ``validate`` checks types and ranges only). Nothing
    in ``cfg`` is changed."""
    method = cfg.resolved_method()
    check_methods([method])
    if method == "ensemble":
        check_members(cfg.members)


def needs_features(name: str) -> bool:
    """Whether the method reads the encoder's features (:attr:`mgl.methods.base.Method.reads_features`;
    a grid group of methods that read the texts alone embeds nothing)."""
    return method_info(name).cls.reads_features


def check_methods(methods: Sequence[str]) -> list[str]:
    """The method names, validated (MGL variants' configurations too), repeats removed (order kept)."""
    out = []
    for name in methods:
        name = name.strip()
        if not name:
            continue
        method_info(name)
        if is_mgl(name):
            mgl_variant_config(name, MGLConfig())
        if name not in out:
            out.append(name)
    if not out:
        raise ConfigError("no methods given")
    return out


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
(:func:`register`), called the first time a name is not among the registered ones (:func:`method_info`),
so the lists above stay the paper's."""
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
