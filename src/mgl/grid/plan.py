"""A grid's plan: its experiments, its cells and the fingerprint of the configuration they are computed under.

A *cell* is one (method, experiment, seed); an *experiment* is a target language, a domain
and its source languages. :class:`GridPlan` ties a grid's cells to its output folder (the
:class:`~mgl.grid.store.CellStore`) and its description (``grid.json``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

from mgl.data.languages import canonical_language
from mgl.errors import ConfigError
from mgl.fingerprints import GRID_VERSION, config_fingerprint  # noqa: F401  (re-exported: the grid's names for them)

LANGUAGES = ("en", "fr", "de", "ja")


TABLE1_TARGETS = ("fr", "ja", "de")


TABLE1_DOMAINS = ("books", "dvd", "music")


TABLE2_LANGUAGES = ("en", "de", "es", "fr", "ja")
"""PAWS-X languages of the Table 2 grid (ko and zh are in the data too, and can be named)."""


TABLE2_TARGETS = ("de", "es", "fr", "ja")


PROPORTION_FRACTIONS = (0.1, 0.2, 0.5, 1.0)


@dataclass(frozen=True)
class Experiment:
    """One cross-lingual experiment: sources -> target, on one domain."""

    target: str
    domain: str | None
    sources: tuple[str, ...]

    @property
    def label(self) -> str:
        return f"{self.target.upper()} {self.domain}" if self.domain else self.target.upper()

    def config(self, base):
        """A copy of the run configuration ``base`` for this experiment (target, sources, domain), validated."""
        cfg = copy.deepcopy(base)
        cfg.data.target, cfg.data.sources, cfg.data.domain = self.target, list(self.sources), self.domain
        return cfg.validate()


@dataclass(frozen=True)
class Cell:
    """One (method, experiment, seed): one file under ``cells/``."""

    method: str
    experiment: Experiment
    seed: int

    @property
    def filename(self) -> str:
        return f"{self.method}__{self.experiment.target}__{self.experiment.domain or 'all'}__seed{self.seed}.json"


def table1_experiments(
    targets: Sequence[str] = TABLE1_TARGETS,
    domains: Sequence[str] = TABLE1_DOMAINS,
    languages: Sequence[str] = LANGUAGES,
) -> list[Experiment]:
    """The paper's 9 experiments: each target on each domain, the other languages as sources."""
    out = []
    for target in targets:
        if target not in languages:
            raise ConfigError(f"target {target!r} is not one of the languages {', '.join(languages)}")
        for domain in domains:
            out.append(Experiment(target, domain, tuple(lang for lang in languages if lang != target)))
    return out


def table2_experiments(
    targets: Sequence[str] = TABLE2_TARGETS,
    languages: Sequence[str] = TABLE2_LANGUAGES,
    *,
    domain: str | None = None,
    sources: Sequence[str] | None = None,
) -> list[Experiment]:
    """Table 2's experiments: each target with the other languages as sources, on the whole data set
    (``domain`` None, as PAWS-X) or on one domain of a file that has several. With ``sources``, every
    target has those sources instead (SIB-200's protocol: four fixed high-resource sources). Codes are
    canonical language tags (:func:`mgl.data.languages.canonical_language`) whatever their spelling."""

    out = []
    if sources is not None:
        fixed = tuple(dict.fromkeys(canonical_language(s, what="source language") for s in sources))
        if not fixed:
            raise ConfigError("no source languages given")
        for target in dict.fromkeys(canonical_language(t, what="target language") for t in targets):
            if target in fixed:
                raise ConfigError(f"target {target!r} is also a source")
            out.append(Experiment(target, domain, fixed))
    else:
        languages = list(dict.fromkeys(canonical_language(lang) for lang in languages))
        for target in dict.fromkeys(canonical_language(t, what="target language") for t in targets):
            if target not in languages:
                raise ConfigError(f"target {target!r} is not one of the languages {', '.join(languages)}")
            others = tuple(lang for lang in languages if lang != target)
            if not others:
                raise ConfigError(f"target {target!r} has no source languages: give at least two languages")
            out.append(Experiment(target, domain, others))
    if not out:
        raise ConfigError("no targets given")
    return out


def make_cells(methods: Sequence[str], experiments: Sequence[Experiment], seeds: Sequence[int]) -> list[Cell]:
    """Every cell, grouped by (experiment, seed) so that each group's data is prepared once."""
    return [Cell(m, exp, seed) for exp in experiments for seed in seeds for m in methods]
