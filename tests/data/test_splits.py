"""Stratified splitting and low-resource subsampling: sizes, stratification, determinism."""

from __future__ import annotations

from collections import Counter

import pytest

from mgl.data.examples import Example
from mgl.data.splits import (
    largest_remainder,
    stratified_sizes,
    stratified_split,
    subsample,
    subsample_language,
)
from mgl.errors import ConfigError, DataError

pytestmark = pytest.mark.unit


def make(n_per_label: dict[str, int], *, language: str = "en", split: str = "train") -> list[Example]:
    examples = []
    for label, n in n_per_label.items():
        for i in range(n):
            examples.append(
                Example(
                    text=f"{label} {i}",
                    label=label,
                    language=language,
                    split=split,
                    uid=f"{language}/{split}/{label}#{i + 1}",
                )
            )
    # interleave the labels so that the input order is not sorted by label
    return sorted(examples, key=lambda ex: (int(ex.uid.rsplit("#", 1)[1]), ex.label))


def labels(examples: list[Example]) -> Counter:
    return Counter(ex.label for ex in examples)


def test_largest_remainder() -> None:
    assert largest_remainder(10, [0.6, 0.2, 0.2]) == [6, 2, 2]
    assert largest_remainder(7, [1, 1]) == [4, 3]
    assert largest_remainder(5, [0.5, 0.25, 0.25]) == [3, 1, 1]
    assert sum(largest_remainder(1169, [0.6, 0.2, 0.2])) == 1169


def test_stratified_sizes_meet_totals_and_quotas() -> None:
    sizes = stratified_sizes([1137, 863], [0.6, 0.2, 0.2])
    assert [sum(col) for col in zip(*sizes)] == [1200, 400, 400]
    for n, row in zip([1137, 863], sizes):
        assert sum(row) == n
        assert all(abs(size - n * w) < 1 for size, w in zip(row, [0.6, 0.2, 0.2]))


def test_stratified_split_exact_per_label() -> None:
    examples = make({"negative": 1000, "positive": 1000})
    parts = stratified_split(examples, {"train": 0.8, "validation": 0.2}, seed="x")
    assert labels(parts["train"]) == {"negative": 800, "positive": 800}
    assert labels(parts["validation"]) == {"negative": 200, "positive": 200}
    assert {ex.split for ex in parts["validation"]} == {"validation"}
    # a partition of the input, each part in input order
    uids = [ex.uid for part in parts.values() for ex in part]
    assert sorted(uids) == sorted(ex.uid for ex in examples)
    position = {ex.uid: i for i, ex in enumerate(examples)}
    for part in parts.values():
        assert [position[ex.uid] for ex in part] == sorted(position[ex.uid] for ex in part)


def test_stratified_split_three_way_totals() -> None:
    examples = make({"not_paraphrase": 1137, "paraphrase": 863})
    parts = stratified_split(examples, {"train": 0.6, "validation": 0.2, "test": 0.2}, seed=3)
    assert [len(parts[s]) for s in ("train", "validation", "test")] == [1200, 400, 400]


def test_stratified_split_deterministic_and_seeded() -> None:
    examples = make({"a": 30, "b": 20})
    fractions = {"train": 0.5, "test": 0.5}
    one = stratified_split(examples, fractions, seed=7)
    assert one == stratified_split(list(examples), fractions, seed=7)
    assert one["test"] != stratified_split(examples, fractions, seed=8)["test"]


def test_stratified_split_rejects_bad_fractions() -> None:
    examples = make({"a": 4})
    with pytest.raises(ConfigError, match="add up to 1"):
        stratified_split(examples, {"train": 0.5, "test": 0.4}, seed=0)
    with pytest.raises(ConfigError, match="unknown split"):
        stratified_split(examples, {"train": 0.5, "dev": 0.5}, seed=0)


def test_subsample_fraction_is_stratified() -> None:
    examples = make({"negative": 800, "positive": 800})
    sample = subsample(examples, fraction=0.1, seed=0)
    assert len(sample) == 160
    assert labels(sample) == {"negative": 80, "positive": 80}
    position = {ex.uid: i for i, ex in enumerate(examples)}
    assert [position[ex.uid] for ex in sample] == sorted(position[ex.uid] for ex in sample)


def test_subsample_count_is_proportional() -> None:
    examples = make({"a": 600, "b": 300, "c": 100})
    sample = subsample(examples, count=50, seed=1)
    assert labels(sample) == {"a": 30, "b": 15, "c": 5}
    # every class keeps at least one example when the total allows
    tiny = subsample(examples, count=3, seed=1)
    assert labels(tiny) == {"a": 1, "b": 1, "c": 1}


def test_subsample_seeded_determinism_and_nesting() -> None:
    examples = make({"negative": 800, "positive": 800})
    a = subsample(examples, count=32, seed=5)
    assert a == subsample(examples, count=32, seed=5)
    b = subsample(examples, count=32, seed=6)
    assert {ex.uid for ex in a} != {ex.uid for ex in b}
    # for one seed, a smaller sample lies inside a larger one
    assert {ex.uid for ex in a} <= {ex.uid for ex in subsample(examples, count=160, seed=5)}


def test_subsample_errors() -> None:
    examples = make({"a": 5, "b": 5})
    with pytest.raises(ConfigError, match="exactly one"):
        subsample(examples, seed=0)
    with pytest.raises(ConfigError, match="exactly one"):
        subsample(examples, fraction=0.5, count=3, seed=0)
    with pytest.raises(ConfigError, match=r"\(0, 1\]"):
        subsample(examples, fraction=1.5, seed=0)
    with pytest.raises(DataError, match="cannot subsample 11 examples from 10"):
        subsample(examples, count=11, seed=0)


def test_subsample_language_touches_only_that_part() -> None:
    en_train = make({"negative": 100, "positive": 100}, language="en")
    ja_train = make({"negative": 100, "positive": 100}, language="ja")
    ja_test = make({"negative": 50, "positive": 50}, language="ja", split="test")
    examples = en_train + ja_train + ja_test
    result = subsample_language(examples, "ja", count=20, seed=0)
    kept_ja_train = [ex for ex in result if ex.language == "ja" and ex.split == "train"]
    assert labels(kept_ja_train) == {"negative": 10, "positive": 10}
    assert [ex for ex in result if ex.language == "en"] == en_train
    assert [ex for ex in result if ex.split == "test"] == ja_test
    assert kept_ja_train == subsample(ja_train, count=20, seed=0)
    with pytest.raises(DataError, match="language 'fr' has no 'train' examples"):
        subsample_language(examples, "fr", fraction=0.5, seed=0)


# ------------------------------------------------------------------ carved validation rows


def test_carve_validation_is_stratified_fixed_and_only_where_needed():
    from mgl.data.splits import carve_validation

    examples = (
        make({"neg": 100, "pos": 60}, language="en")
        + make({"neg": 10, "pos": 10}, language="fr")
        + make({"neg": 3, "pos": 3}, language="fr", split="validation")
        + make({"neg": 40, "pos": 40}, language="ja")
        + make({"neg": 5, "pos": 5}, language="ja", split="test")
    )
    out, carved = carve_validation(examples, ["en", "fr", "ja"], 0.2)
    assert carved == {"en": {"validation": 32, "train": 128}, "ja": {"validation": 16, "train": 64}}  # fr had some
    counts = Counter((e.language, e.split, e.label) for e in out)
    assert counts[("en", "validation", "neg")] == 20 and counts[("en", "validation", "pos")] == 12
    assert counts[("fr", "validation", "neg")] == 3 and counts[("fr", "train", "neg")] == 10
    assert counts[("ja", "test", "pos")] == 5  # test rows never move
    assert [e.uid for e in out] == [e.uid for e in examples]  # order kept
    again, _ = carve_validation(examples, ["en", "fr", "ja"], 0.2)
    assert [e.split for e in again] == [e.split for e in out]  # the same file gives the same rows
    assert carve_validation(examples, ["en"], 0.0) == (examples, {})
    with pytest.raises(ConfigError, match="validation_fraction"):
        carve_validation(examples, ["en"], 1.0)


def test_the_target_is_carved_before_its_few_shot_subsample_and_not_per_seed():
    from mgl.data.preparation import make_experiment_data

    examples = (
        make({"neg": 30, "pos": 30}, language="en")
        + make({"neg": 50, "pos": 50}, language="ja")
        + make({"neg": 5, "pos": 5}, language="ja", split="test")
    )
    runs = [make_experiment_data(examples, ["en"], "ja", target_fraction=0.1, seed=seed) for seed in (0, 1)]
    for data in runs:
        assert data.carved == {"en": {"validation": 12, "train": 48}, "ja": {"validation": 20, "train": 80}}
        t = data.table
        assert int(((t.languages == "ja") & (t.splits == "train")).sum()) == 8  # 10% of the 80 left after carving
    val = [{e.uid for e in d.examples if e.language == "ja" and e.split == "validation"} for d in runs]
    assert val[0] == val[1]  # the same validation rows whatever the seed
