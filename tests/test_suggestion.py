"""Which texts to label next (:mod:`mgl.model.suggestion`): each strategy's order, diversity, seeds."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mgl.errors import ConfigError, DataError
from mgl.model.suggestion import STRATEGIES, choose, entropies, margins
from tiers import property_examples

pytestmark = pytest.mark.unit


def test_margin_and_entropy_order_the_torn_texts_first():
    probs = np.array([[0.9, 0.1, 0.0], [0.5, 0.45, 0.05], [0.34, 0.33, 0.33], [0.6, 0.4, 0.0]])
    x = np.eye(4, 3)
    np.testing.assert_allclose(margins(probs), [0.8, 0.05, 0.01, 0.2])
    assert choose(probs, x, 2, strategy="margin") == [2, 1]
    assert choose(probs, x, 1, strategy="entropy") == [2]
    assert entropies(probs)[2] > entropies(probs)[0]


def test_diverse_does_not_suggest_near_copies():
    """Ten near-copies of one torn text and ten other, a little less torn, texts spread apart: margin
    alone suggests copies; diverse spreads its picks over the groups."""
    rng = np.random.default_rng(0)
    copies = np.tile(rng.normal(size=(1, 16)), (10, 1)) + 1e-4 * rng.normal(size=(10, 16))
    spread = rng.normal(size=(10, 16))
    x = np.vstack([copies, spread])
    probs = np.vstack([np.tile([0.5, 0.5], (10, 1)), np.tile([0.55, 0.45], (10, 1))])
    assert set(choose(probs, x, 5, strategy="margin")) <= set(range(10))
    picked = choose(probs, x, 5, strategy="diverse")
    assert len(set(picked)) == 5
    assert sum(i < 10 for i in picked) <= 1  # at most one of the copies


def test_random_is_seeded_and_every_strategy_checks_its_input():
    probs = np.full((30, 2), 0.5)
    x = np.random.default_rng(1).normal(size=(30, 4))
    assert choose(probs, x, 5, strategy="random", seed=3) == choose(probs, x, 5, strategy="random", seed=3)
    assert choose(probs, x, 5, strategy="random", seed=3) != choose(probs, x, 5, strategy="random", seed=4)
    with pytest.raises(ConfigError, match="unknown strategy"):
        choose(probs, x, 5, strategy="best")
    with pytest.raises(ConfigError, match=">= 1"):
        choose(probs, x, 0)
    with pytest.raises(DataError, match="no unlabelled text"):
        choose(probs[:0], x[:0], 5)


@settings(max_examples=property_examples(40), deadline=None)
@given(n_texts=st.integers(1, 40), n=st.integers(1, 50), strategy=st.sampled_from(STRATEGIES), seed=st.integers(0, 9))
def test_every_strategy_suggests_distinct_texts_of_the_pool(n_texts, n, strategy, seed):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(3), size=n_texts)
    x = rng.normal(size=(n_texts, 8))
    picked = choose(probs, x, n, strategy=strategy, seed=seed)
    assert len(picked) == min(n, n_texts)
    assert len(set(picked)) == len(picked)
    assert all(0 <= i < n_texts for i in picked)
