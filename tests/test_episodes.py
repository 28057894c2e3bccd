"""CLT pairs and the episode sampler: counts, language make-up, no repeats, seeding, errors."""

import numpy as np
import pytest

from mgl.errors import DataError
from mgl.methods.mgl.episodes import (
    CLTPair,
    EpisodeSampler,
    Pool,
    meta_test_pair,
    meta_train_pairs,
    within_language_pairs,
)

pytestmark = pytest.mark.unit


def make_pool(per_class: dict[str, int], num_classes: int = 2, offset: int = 0, name: str = "pool") -> Pool:
    idx, langs, labels = [], [], []
    i = offset
    for lang, n in per_class.items():
        for c in range(num_classes):
            for _ in range(n):
                idx.append(i)
                langs.append(lang)
                labels.append(c)
                i += 1
    return Pool(idx, langs, labels, name=name)


def test_leave_one_out_pairs_for_three_sources():
    pairs = meta_train_pairs(["en", "fr", "de"])
    assert pairs == [
        CLTPair(("fr", "de"), "en"),
        CLTPair(("en", "de"), "fr"),
        CLTPair(("en", "fr"), "de"),
    ]
    assert meta_test_pair(["en", "fr", "de"], "ja") == CLTPair(("en", "fr", "de"), "ja")
    assert str(pairs[0]) == "fr+de->en"
    with pytest.raises(DataError):
        meta_train_pairs(["en"])


def test_episode_counts_and_language_make_up():
    support = make_pool({"en": 20, "fr": 20, "de": 20})
    query = make_pool({"ja": 30}, offset=1000)
    sampler = EpisodeSampler(CLTPair(("en", "fr", "de"), "ja"), support, query, num_classes=2, n_support=5, n_query=32)
    ep = sampler.sample(np.random.default_rng(0))
    assert len(ep.support) == 2 * 3 * 5
    for lang in ("en", "fr", "de"):
        for c in (0, 1):
            n = sum(1 for la, lab in zip(ep.support_languages, ep.support_labels) if la == lang and lab == c)
            assert n == 5
    assert len(ep.query) == 32
    assert np.bincount(ep.query_labels).tolist() == [16, 16]  # R spread evenly over the classes
    assert len(set(ep.nodes.tolist())) == len(ep.nodes)  # no repeats
    assert all(i >= 1000 for i in ep.query)  # queries are target-language instances
    # the labels of the sampled instances are right
    lookup = {int(i): c for (lang, c), arr in {**support.groups, **query.groups}.items() for i in arr}
    assert all(lookup[int(i)] == c for i, c in zip(ep.support, ep.support_labels))
    assert all(lookup[int(i)] == c for i, c in zip(ep.query, ep.query_labels))


def test_odd_query_size_and_three_classes():
    support = make_pool({"en": 10, "de": 10}, num_classes=3)
    query = make_pool({"fr": 10}, num_classes=3, offset=500)
    sampler = EpisodeSampler(CLTPair(("en", "de"), "fr"), support, query, num_classes=3, n_support=2, n_query=10)
    ep = sampler.sample(np.random.default_rng(3))
    counts = np.bincount(ep.query_labels, minlength=3)
    assert counts.sum() == 10 and counts.max() - counts.min() <= 1
    assert len(ep.support) == 3 * 2 * 2


def test_sampler_is_seeded():
    support = make_pool({"en": 50, "fr": 50})
    query = make_pool({"ja": 50}, offset=1000)
    sampler = EpisodeSampler(CLTPair(("en", "fr"), "ja"), support, query, num_classes=2, n_support=5, n_query=16)
    a = sampler.sample(np.random.default_rng(7))
    b = sampler.sample(np.random.default_rng(7))
    c = sampler.sample(np.random.default_rng(8))
    assert np.array_equal(a.nodes, b.nodes)
    assert not np.array_equal(a.nodes, c.nodes)


def test_too_few_examples_is_a_clear_error():
    support = make_pool({"en": 10, "fr": 3})
    query = make_pool({"ja": 10}, offset=100)
    with pytest.raises(DataError, match=r"'fr' has 3 example\(s\) of class 0 \(negative\).*N = 5"):
        EpisodeSampler(
            CLTPair(("en", "fr"), "ja"),
            support,
            query,
            num_classes=2,
            n_support=5,
            n_query=8,
            label_names=["negative", "positive"],
        )
    with pytest.raises(DataError, match="the query language 'ja' has no example"):
        EpisodeSampler(
            CLTPair(("en",), "ja"), make_pool({"en": 10}), Pool([], [], []), num_classes=2, n_support=5, n_query=8
        )


def test_a_class_the_query_language_lacks_stays_in_the_support_sets():
    """A target whose few labels miss a class: queries come from the classes it has, while every
    support set still holds every class (from the sources), so the class stays predictable."""
    one_class = Pool([100, 101, 102], ["ja"] * 3, [0, 0, 0])
    sampler = EpisodeSampler(
        CLTPair(("en",), "ja"), make_pool({"en": 10}), one_class, num_classes=2, n_support=5, n_query=8
    )
    ep = sampler.sample(np.random.default_rng(0))
    assert set(ep.query_labels.tolist()) == {0} and len(ep.query_labels) == 3
    assert set(np.asarray(ep.support_labels).tolist()) == {0, 1}


def test_query_class_short_of_its_share_gives_places_to_others():
    support = make_pool({"en": 10})
    query = Pool(range(100, 115), ["ja"] * 15, [0] * 12 + [1] * 3)
    sampler = EpisodeSampler(CLTPair(("en",), "ja"), support, query, num_classes=2, n_support=2, n_query=10)
    ep = sampler.sample(np.random.default_rng(0))
    assert np.bincount(ep.query_labels).tolist() == [7, 3]


def test_within_language_pairs_for_the_l2clt_ablation():
    pairs = within_language_pairs(["en", "fr", "de"])
    assert pairs == [CLTPair(("en", "en"), "en"), CLTPair(("fr", "fr"), "fr"), CLTPair(("de", "de"), "de")]
    pool = make_pool({"en": 40, "fr": 40, "de": 40})
    sampler = EpisodeSampler(pairs[1], pool, pool, num_classes=2, n_support=5, n_query=16)
    ep = sampler.sample(np.random.default_rng(0))
    assert set(ep.support_languages) == {"fr"}
    assert len(ep.support) == 2 * 2 * 5  # the size of a leave-one-out support (M = 2)
    assert len(set(ep.nodes.tolist())) == len(ep.nodes)  # support and query disjoint
    fr = set(pool.get("fr", 0).tolist()) | set(pool.get("fr", 1).tolist())
    assert set(ep.query.tolist()) <= fr


def test_evaluation_episode_keeps_given_queries():
    support = make_pool({"en": 10})
    sampler = EpisodeSampler(CLTPair(("en",), "ja"), support, None, num_classes=2, n_support=3, n_query=4)
    ep = sampler.with_queries(np.random.default_rng(0), np.array([500, 501, 502]))
    assert ep.query.tolist() == [500, 501, 502] and ep.query_labels is None
    assert len(ep.support) == 6
