"""Models saved by earlier versions of mgl load and predict as they did.

tests/fixtures/saved_models/e5-passage was saved when an unset ``encoder.prefix`` meant the embedded
e5's ``"passage: "`` (its configuration says None; see make_e5_passage.py there). The prefix
is part of the encoder's identity: it must keep embedding new inputs with ``"passage: "``
whatever today's default, and give the probabilities it gave then.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from mgl import MGLClassifier
from mgl.config import RunConfig, load_config
from mgl.encoders.embedded_e5 import EMBEDDED_E5_PREFIX, LEGACY_EMBEDDED_E5_PREFIX
from mgl.grid import config_fingerprint

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "saved_models" / "e5-passage"


def test_a_model_saved_with_the_former_default_prefix_predicts_as_before(tmp_path):
    model = tmp_path / "model"
    shutil.copytree(FIXTURE, model)
    expected = json.loads((model / "expected.json").read_text(encoding="utf-8"))
    meta = json.loads((model / "mgl_model.json").read_text(encoding="utf-8"))
    assert meta["config"]["encoder"]["prefix"] is None and expected["prefix"] == "passage: "
    clf = MGLClassifier.from_pretrained(model)
    assert clf.encoder.spec.prefix == "passage: "
    assert '|prefix="passage: "|' in clf.encoder.identity
    probs = clf.predict_proba(expected["texts"])
    np.testing.assert_allclose(probs, np.array(expected["probabilities"]), atol=1e-6, rtol=0)


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
