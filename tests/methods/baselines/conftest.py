"""Shared fixtures of the baseline tests: a small synthetic cross-lingual table, one torch thread."""

from __future__ import annotations

import pytest
import torch
from baseline_helpers import SMALL, synthetic

from mgl.config import MGLConfig


@pytest.fixture
def make_data():
    """The :func:`synthetic` factory: ``make_data(seed=0, d=24, n_target=10) -> (X, data)``."""
    return synthetic


@pytest.fixture
def small_cfg() -> MGLConfig:
    return MGLConfig(**SMALL)


@pytest.fixture(autouse=True)
def one_thread():
    """The classifiers are tiny: one thread is fast and does not stall on a shared machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
