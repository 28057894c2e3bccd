"""Models saved by earlier versions of mgl load and predict as they did.

While an unset ``encoder.prefix`` meant the embedded e5's ``"passage: "``, a saved model's
configuration said ``prefix: null`` (the resolved prefix stood only in its encoder spec and
identity). The ``e5_passage_model`` fixture (tests/conftest.py) builds such a directory. The
prefix is part of the encoder's identity: the model must keep embedding new inputs with
``"passage: "`` whatever today's default, and give the probabilities it gave before saving.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from mgl import MGLClassifier
from mgl.config import RunConfig, load_config
from mgl.encoders.embedded_e5 import EMBEDDED_E5_PREFIX, LEGACY_EMBEDDED_E5_PREFIX
from mgl.grid import config_fingerprint

pytestmark = pytest.mark.unit


@pytest.mark.encoder
def test_a_model_saved_with_the_former_default_prefix_predicts_as_before(e5_passage_model):
    model, texts, before = e5_passage_model
    meta = json.loads((model / "mgl_model.json").read_text(encoding="utf-8"))
    assert meta["config"]["encoder"]["prefix"] is None and meta["encoder"]["spec"]["prefix"] == "passage: "
    clf = MGLClassifier.from_pretrained(model)
    assert clf.encoder.spec.prefix == "passage: "
    assert '|prefix="passage: "|' in clf.encoder.identity
    np.testing.assert_allclose(clf.predict_proba(texts), before, atol=1e-6, rtol=0)


def test_a_run_with_the_former_default_keeps_old_grid_fingerprints():
    """Grid cells store the configuration's fingerprint: an unset prefix counts as the prefix it
    resolves to, so cells of two prefixes never mix, and cells computed when unset meant
    ``passage: `` are found again by an explicit ``passage: ``."""
    unset = RunConfig()
    passage = load_config(None, None, ["encoder.prefix='passage: '"])
    query = load_config(None, None, ["encoder.prefix='query: '"])
    assert config_fingerprint(passage) != config_fingerprint(query)
    default = passage if EMBEDDED_E5_PREFIX == LEGACY_EMBEDDED_E5_PREFIX else query
    assert config_fingerprint(unset) == config_fingerprint(default)
    other = load_config(None, None, ["encoder.model=/some/dir"])  # another model: no default prefix to resolve
    assert config_fingerprint(other) != config_fingerprint(unset)
