"""Deterministic stratified splitting and low-resource subsampling.

Everything here is a pure function of its inputs and its ``seed``: the same examples in the same
order and the same seed give the same result on every machine and Python version (the random
generators are seeded with strings, which :mod:`random` hashes with SHA-512, so ``PYTHONHASHSEED``
plays no part).

Sizes are shared out by the largest-remainder method: over parts and labels for
:func:`stratified_split` (each part gets ``fraction * n`` examples, each label ``fraction * n_label``
of them, both rounded so that everything adds up), and over labels for :func:`subsample` (each
label gets a share of the requested total proportional to its size).

Kept rather than scikit-learn's ``StratifiedShuffleSplit`` / ``train_test_split(stratify=)``: those
draw from NumPy's generator and round sizes otherwise, so every committed split (Table 1's
1600/400, the target's 10%), and with it every grid's fingerprint and result, would change.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence

from mgl.data.examples import SPLITS, Example
from mgl.errors import ConfigError, DataError

Seed = int | str


def largest_remainder(total: int, weights: Sequence[float]) -> list[int]:
    """Share the integer ``total`` out in proportion to ``weights`` (Hamilton's method).

    Each share is the floor of its exact quota; the units left over go to the largest fractional
    parts, ties to the earlier weight. The shares always add up to ``total``.

    >>> largest_remainder(10, [0.6, 0.2, 0.2])
    [6, 2, 2]
    >>> largest_remainder(1169, [0.6, 0.2, 0.2])
    [701, 234, 234]
    """
    if total < 0:
        raise ValueError(f"total must be >= 0, got {total}")
    weight_sum = float(sum(weights))
    if weight_sum <= 0 or any(w < 0 for w in weights):
        raise ValueError(f"weights must be non-negative with a positive sum, got {list(weights)}")
    quotas = [total * w / weight_sum for w in weights]
    shares = [math.floor(q) for q in quotas]
    left = total - sum(shares)
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - shares[i]), i))
    for i in order[:left]:
        shares[i] += 1
    return shares


def stratified_sizes(label_sizes: Sequence[int], weights: Sequence[float]) -> list[list[int]]:
    """Per-label, per-part sizes for a stratified split (controlled rounding).

    The parts' totals are ``largest_remainder(sum(label_sizes), weights)``, and each label's
    sizes add up to its own size and round its exact quotas up or down (they differ from them by
    less than 1). Each label first gets the floors of its quotas; its left-over units then go to
    the parts whose totals are furthest from being met (ties: the larger fractional part, then the
    earlier part), labels with more left-over units first.

    >>> stratified_sizes([1137, 863], [0.6, 0.2, 0.2])
    [[682, 227, 228], [518, 173, 172]]
    """
    n_parts = len(weights)
    weight_sum = float(sum(weights))
    totals = largest_remainder(sum(label_sizes), weights)
    quotas = [[n * w / weight_sum for w in weights] for n in label_sizes]
    shares = [[math.floor(q) for q in row] for row in quotas]
    need = [totals[p] - sum(row[p] for row in shares) for p in range(n_parts)]
    left = [n - sum(row) for n, row in zip(label_sizes, shares)]
    for i in sorted(range(len(label_sizes)), key=lambda i: (-left[i], i)):
        order = sorted(range(n_parts), key=lambda p: (-need[p], -(quotas[i][p] - shares[i][p]), p))
        for p in order[: left[i]]:
            shares[i][p] += 1
            need[p] -= 1
    return shares


def _group_by_label(examples: Sequence[Example]) -> dict[str, list[int]]:
    """Indices of the examples of each label, labels sorted, indices in input order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[ex.label].append(i)
    return {label: groups[label] for label in sorted(groups)}


def _permuted(indices: list[int], seed: Seed, salt: str) -> list[int]:
    """A seeded permutation of ``indices``; ``salt`` keeps the labels' permutations independent."""
    order = list(indices)
    random.Random(f"{seed}\x1f{salt}").shuffle(order)
    return order


def _check_fractions(fractions: Mapping[str, float]) -> tuple[list[str], list[float]]:
    names = list(fractions)
    unknown = [name for name in names if name not in SPLITS]
    if unknown:
        raise ConfigError(f"unknown split name(s) {unknown}; expected some of {list(SPLITS)}")
    weights = [float(fractions[name]) for name in names]
    if not names or any(not (w > 0) for w in weights) or abs(sum(weights) - 1.0) > 1e-6:
        raise ConfigError(f"split fractions must be positive and add up to 1, got {dict(fractions)}")
    return names, weights


def stratified_assignment(labels: Sequence[str], fractions: Mapping[str, float], *, seed: Seed) -> list[str]:
    """The split name of each position for :func:`stratified_split` of examples with these labels."""
    names, weights = _check_fractions(fractions)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, label in enumerate(labels):
        groups[label].append(i)
    ordered = sorted(groups)
    sizes = stratified_sizes([len(groups[label]) for label in ordered], weights)
    assignment = [""] * len(labels)
    for label, label_sizes in zip(ordered, sizes):
        order = _permuted(groups[label], seed, label)
        start = 0
        for name, size in zip(names, label_sizes):
            for i in order[start : start + size]:
                assignment[i] = name
            start += size
    return assignment


def stratified_split(
    examples: Sequence[Example], fractions: Mapping[str, float], *, seed: Seed
) -> dict[str, list[Example]]:
    """Split ``examples`` into named parts, keeping each label's share the same in every part.

    ``fractions`` maps a split name (one of ``train``, ``validation``, ``test``) to its fraction;
    the fractions must be positive and add up to 1. Within each label the examples are shuffled
    with a generator seeded by ``seed`` and the label, and cut into consecutive runs whose sizes
    are given by :func:`stratified_sizes`: the parts' totals are the whole count shared out by
    :func:`largest_remainder`, and each label's sizes round its exact quotas (so 1000 examples of
    a label split 0.8/0.2 give exactly 800/200, and 2000 pairs split 0.6/0.2/0.2 give
    1200/400/400). Each returned list keeps the input order, and its examples carry the split's
    name in ``Example.split``.
    """
    assignment = stratified_assignment([ex.label for ex in examples], fractions, seed=seed)
    parts: dict[str, list[Example]] = {name: [] for name in fractions}
    for ex, name in zip(examples, assignment):
        parts[name].append(ex.with_split(name))
    return parts


def _subsample_sizes(sizes: Sequence[int], total: int) -> list[int]:
    """Per-label counts for a subsample of ``total``: proportional, and at least one per label
    whenever ``total`` is at least the number of labels (a class absent from a few-shot training
    set could never be learned)."""
    shares = largest_remainder(total, [float(s) for s in sizes])
    if total >= len(sizes):
        for i in range(len(shares)):
            if shares[i] == 0:
                donor = max(range(len(shares)), key=lambda j: (shares[j], -j))
                shares[donor] -= 1
                shares[i] = 1
    return shares


def _subsample_positions(
    examples: Sequence[Example], fraction: float | None, count: int | None, seed: Seed
) -> set[int]:
    """Positions in ``examples`` of the subsample described by :func:`subsample`."""
    n = len(examples)
    if (fraction is None) == (count is None):
        raise ConfigError("give exactly one of fraction and count for subsampling")
    if fraction is not None:
        if not (0.0 < fraction <= 1.0):
            raise ConfigError(f"subsample fraction must be in (0, 1], got {fraction}")
        total = max(1, round(fraction * n))
    else:
        assert count is not None
        if count < 1:
            raise ConfigError(f"subsample count must be at least 1, got {count}")
        total = count
    if n == 0:
        raise DataError("cannot subsample: there are no examples")
    if total > n:
        raise DataError(f"cannot subsample {total} examples from {n}")
    groups = _group_by_label(examples)
    sizes = _subsample_sizes([len(ix) for ix in groups.values()], total)
    keep: set[int] = set()
    for (label, indices), size in zip(groups.items(), sizes):
        keep.update(_permuted(indices, seed, label)[:size])
    return keep


def subsample(
    examples: Sequence[Example], *, fraction: float | None = None, count: int | None = None, seed: Seed
) -> list[Example]:
    """A seeded, label-stratified subsample of ``examples`` (low-resource training data).

    Give exactly one of ``fraction`` (in (0, 1]: ``round(fraction * len(examples))`` examples,
    at least 1) or ``count`` (the total number wanted). The total is shared over the labels in
    proportion to their sizes by :func:`largest_remainder`, with at least one example per label
    when the total allows; e.g. ``fraction=0.1`` of 1600 examples, 800 per label, gives 160 with
    80/80. Within a label the examples are drawn from a permutation seeded by ``seed`` and the
    label, so for a fixed seed a smaller subsample is contained in a larger one. The result keeps
    the input order. Different seeds give (almost surely) different subsamples.
    """
    keep = _subsample_positions(examples, fraction, count, seed)
    return [ex for i, ex in enumerate(examples) if i in keep]


def subsample_language(
    examples: Iterable[Example],
    language: str,
    *,
    split: str = "train",
    fraction: float | None = None,
    count: int | None = None,
    seed: Seed,
) -> list[Example]:
    """All of ``examples``, except that ``language``'s ``split`` part is replaced by a
    :func:`subsample` of it (everything keeps its order). Raises :class:`DataError` if that
    language has no such examples."""
    examples = list(examples)
    positions = [i for i, ex in enumerate(examples) if ex.language == language and ex.split == split]
    if not positions:
        raise DataError(f"language {language!r} has no {split!r} examples to subsample")
    kept = _subsample_positions([examples[i] for i in positions], fraction, count, seed)
    dropped = {positions[j] for j in range(len(positions)) if j not in kept}
    return [ex for i, ex in enumerate(examples) if i not in dropped]


#: The seed of :func:`carve_validation`: fixed, so the carved rows do not move with the run seed
#: (as Webis-CLS-10's 1600/400 split of its training reviews does not).
CARVE_SEED = "validation-carve"


def carve_validation(
    examples: Iterable[Example], languages: Sequence[str], fraction: float
) -> tuple[list[Example], dict[str, dict[str, int]]]:
    """Give every language of ``languages`` that has ``train`` rows but no ``validation`` rows a
    validation split carved from its training rows.

    Per such language, a :func:`stratified_split` of its training rows into ``1 - fraction``
    train and ``fraction`` validation (each class keeps its share; the seed is
    :data:`CARVE_SEED`, the same for every run seed). Returns all examples, in their order, with
    the carved ones re-labelled ``validation``, and ``{language: {"validation": n, "train": m}}``
    for the languages carved (empty when none was). ``fraction`` 0 carves nothing.
    """
    examples = list(examples)
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"data.validation_fraction must be in [0, 1), got {fraction}")
    carved: dict[str, dict[str, int]] = {}
    if fraction == 0.0:
        return examples, carved
    for language in languages:
        has_validation = any(ex.language == language and ex.split == "validation" for ex in examples)
        positions = [i for i, ex in enumerate(examples) if ex.language == language and ex.split == "train"]
        if has_validation or not positions:
            continue
        labels = [examples[i].label for i in positions]
        assignment = stratified_assignment(
            labels, {"train": 1.0 - fraction, "validation": fraction}, seed=f"{CARVE_SEED}\x1f{language}"
        )
        for i, name in zip(positions, assignment):
            if name == "validation":
                examples[i] = examples[i].with_split("validation")
        n_val = assignment.count("validation")
        carved[language] = {"validation": n_val, "train": len(positions) - n_val}
    return examples, carved
