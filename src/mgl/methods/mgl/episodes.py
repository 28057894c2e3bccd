"""Cross-lingual transfer (CLT) pairs and the episode sampler (MGL, Sec. 4.3.1).

Small composable pieces, in the manner of learn2learn's task transforms:

* :class:`CLTPair` — ``{l_1..l_M} -> l_tst``;
  :func:`meta_train_pairs` (leave-one-out over the sources, M = T - 1),
  :func:`meta_test_pair` (sources -> target, M = T),
  :func:`within_language_pairs` (the "w/o L2CLT" ablation: support and query in one language).
* :class:`Pool` — the indices of the instances available for sampling, grouped by
  (language, class). Indices point into one feature table shared by every pool.
* :class:`EpisodeSampler` — draws an :class:`Episode`: a support set of
  ``|Y| x M x N`` instances (N per class per source language) and a query set of R
  target-language instances, without repeats inside an episode.

How the query set is spread over classes: R is divided evenly over the ``|Y|`` classes;
the ``R mod |Y|`` remaining places go to distinct classes drawn at random. So each
class gets ``floor(R/|Y|)`` or ``ceil(R/|Y|)`` queries. At evaluation the queries are
given (a batch of test instances, labels unknown) and only the support is sampled.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mgl.errors import DataError


@dataclass(frozen=True)
class CLTPair:
    """A cross-lingual transfer pair: support languages -> the query (test) language."""

    sources: tuple[str, ...]
    target: str

    def __str__(self) -> str:
        return f"{'+'.join(self.sources)}->{self.target}"


def meta_train_pairs(sources: Sequence[str]) -> list[CLTPair]:
    """Leave-one-out over the T sources: T pairs ``sources minus {l} -> l`` (M = T - 1)."""
    sources = list(sources)
    if len(sources) < 2:
        raise DataError(f"meta-train needs at least 2 source languages for leave-one-out pairs, got {sources}")
    return [CLTPair(tuple(s for s in sources if s != held_out), held_out) for held_out in sources]


def meta_test_pair(sources: Sequence[str], target: str) -> CLTPair:
    """The meta-test pair ``sources -> target`` (M = T)."""
    return CLTPair(tuple(sources), target)


def within_language_pairs(sources: Sequence[str], m: int | None = None) -> list[CLTPair]:
    """The "w/o L2CLT" ablation: each source language is its own support and query.

    The support keeps the size of a leave-one-out episode: ``m`` (default T - 1) groups of
    N instances per class, all drawn from the same language as the queries.
    """
    sources = list(sources)
    m = max(len(sources) - 1, 1) if m is None else m
    return [CLTPair((lang,) * m, lang) for lang in sources]


class Pool:
    """Instance indices grouped by (language, class id).

    Args:
        indices: positions in the shared feature table.
        languages: the language of each of those instances.
        labels: the class id (0..``|Y|``-1) of each.
        name: used in error messages (e.g. ``"training data"``).
    """

    def __init__(self, indices: Iterable[int], languages: Sequence[str], labels: Sequence[int], *, name: str = "pool"):
        self.name = name
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for idx, lang, lab in zip(indices, languages, labels, strict=True):
            groups[(lang, int(lab))].append(int(idx))
        self.groups = {key: np.asarray(sorted(v), dtype=np.int64) for key, v in groups.items()}

    def get(self, language: str, label: int) -> np.ndarray:
        return self.groups.get((language, label), np.empty(0, dtype=np.int64))

    def count(self, language: str, label: int) -> int:
        return len(self.get(language, label))

    @property
    def languages(self) -> list[str]:
        return sorted({lang for lang, _ in self.groups})

    def __len__(self) -> int:
        return sum(len(v) for v in self.groups.values())


@dataclass
class Episode:
    """One sampled task: support first, then queries (the node order of the meta graph)."""

    support: np.ndarray
    support_labels: np.ndarray
    support_languages: list[str]
    query: np.ndarray
    query_labels: np.ndarray | None
    pair: CLTPair

    @property
    def nodes(self) -> np.ndarray:
        return np.concatenate([self.support, self.query])


class EpisodeSampler:
    """Samples episodes of one CLT pair.

    Args:
        pair: the CLT pair.
        support_pool: where support instances come from (the support languages' data).
        query_pool: where query instances come from (the query language's data); may be
            None for a sampler used only to draw supports at evaluation.
        num_classes: ``|Y|``.
        n_support: N, instances per class and per support language.
        n_query: R, query instances per episode.
        label_names: class names, for error messages.
    """

    def __init__(
        self,
        pair: CLTPair,
        support_pool: Pool,
        query_pool: Pool | None,
        *,
        num_classes: int,
        n_support: int,
        n_query: int,
        label_names: Sequence[str] | None = None,
    ):
        self.pair = pair
        self.label_names = label_names
        self.support_pool = support_pool
        self.query_pool = query_pool
        self.num_classes = num_classes
        self.n_support = n_support
        self.n_query = n_query
        self._check()

    def _check(self) -> None:
        multiplicity: dict[str, int] = defaultdict(int)
        for lang in self.pair.sources:
            multiplicity[lang] += 1
        for lang, times in multiplicity.items():
            need = self.n_support * times
            if lang == self.pair.target and self.query_pool is self.support_pool:
                need += -(-self.n_query // self.num_classes)
            for c in range(self.num_classes):
                have = self.support_pool.count(lang, c)
                if have < need:
                    raise DataError(
                        f"{self.support_pool.name}: language {lang!r} has {have} example(s) of class {c}"
                        f" ({self._label_name(c)}), fewer than the {need} an episode of {self.pair} needs"
                        f" (N = {self.n_support}); give {lang!r} more examples of it, lower --n-support, drop"
                        " the class (--labels RAW=), or train a method without episodes (--method logreg-pooled)"
                    )
        # a class the target never showed (a rare class at a few labels) stays in every support set,
        # from the sources, so it stays predictable; queries come from the classes the target has
        if (
            self.query_pool is not None
            and sum(self.query_pool.count(self.pair.target, c) for c in range(self.num_classes)) < 1
        ):
            raise DataError(f"{self.query_pool.name}: the query language {self.pair.target!r} has no example")

    def _label_name(self, c: int) -> str:
        return self.label_names[c] if self.label_names is not None else str(c)

    def query_counts(self, rng: np.random.Generator) -> np.ndarray:
        """Queries per class: R split evenly, the remainder to distinct random classes."""
        counts = np.full(self.num_classes, self.n_query // self.num_classes, dtype=np.int64)
        extra = self.n_query % self.num_classes
        if extra:
            counts[rng.choice(self.num_classes, size=extra, replace=False)] += 1
        if self.query_pool is not None:
            have = np.array([self.query_pool.count(self.pair.target, c) for c in range(self.num_classes)])
            # a class short of its share gives its places to the others (R stays as large as possible)
            while np.any(counts > have) and np.any(counts < have):
                short = int(np.argmax(counts - have))
                spare = int(np.argmax(have - counts))
                counts[short] -= 1
                counts[spare] += 1
            counts = np.minimum(counts, have)
        return counts

    def sample_support(
        self, rng: np.random.Generator, exclude: set[int] | None = None
    ) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """``|Y|`` x M x N support indices, ordered by class, then language, then draw."""
        multiplicity: dict[str, int] = defaultdict(int)
        for lang in self.pair.sources:
            multiplicity[lang] += 1
        idx, labs, langs = [], [], []
        for c in range(self.num_classes):
            for lang in dict.fromkeys(self.pair.sources):
                pool = self.support_pool.get(lang, c)
                if exclude:
                    pool = pool[~np.isin(pool, list(exclude))]
                k = self.n_support * multiplicity[lang]
                chosen = rng.choice(pool, size=k, replace=False)
                idx.extend(chosen.tolist())
                labs.extend([c] * k)
                langs.extend([lang] * k)
        return np.asarray(idx, dtype=np.int64), np.asarray(labs, dtype=np.int64), langs

    def sample(self, rng: np.random.Generator) -> Episode:
        """A training episode: queries drawn first, then the support (never the same instance twice)."""
        if self.query_pool is None:
            raise ValueError("this sampler has no query pool; use sample_support")
        q_idx, q_lab = [], []
        for c, k in enumerate(self.query_counts(rng)):
            if k:
                chosen = rng.choice(self.query_pool.get(self.pair.target, c), size=int(k), replace=False)
                q_idx.extend(chosen.tolist())
                q_lab.extend([c] * int(k))
        order = rng.permutation(len(q_idx))
        query = np.asarray(q_idx, dtype=np.int64)[order]
        query_labels = np.asarray(q_lab, dtype=np.int64)[order]
        exclude = set(query.tolist()) if self.pair.target in self.pair.sources else None
        s_idx, s_lab, s_lang = self.sample_support(rng, exclude)
        return Episode(s_idx, s_lab, s_lang, query, query_labels, self.pair)

    def with_queries(self, rng: np.random.Generator, query: np.ndarray) -> Episode:
        """An evaluation episode: the given queries (labels unknown) beside a sampled support."""
        s_idx, s_lab, s_lang = self.sample_support(rng)
        return Episode(s_idx, s_lab, s_lang, np.asarray(query, dtype=np.int64), None, self.pair)
