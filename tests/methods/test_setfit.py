"""SetFit through its own library, as a method: trained from the run's encoder weights, saved, loaded
and predicting the same, its pooled variant held to the target variant's step budget, and a grid cell."""

from __future__ import annotations

import numpy as np
import pytest
from cli_helpers import write_reviews_csv

from mgl.config import SetFitConfig, load_config
from mgl.data.user_files import load_table
from mgl.model.classifier import MGLClassifier

pytestmark = pytest.mark.unit

SMALL = [
    "encoder.max_length=32",
    "encoder.precision=fp32",
    "data.sources=en,de",
    "data.target=fr",
    "setfit.max_steps=4",
    "setfit.batch_size=8",
]


def examples(folder):
    return load_table(
        write_reviews_csv(folder / "reviews.csv"),
        text="text",
        label="stars",
        language="lang",
        split="split",
        label_map={"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"},
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tiny_bert_dir):
    cfg = load_config("amazon", None, [f"encoder.model={tiny_bert_dir}", *SMALL, "method=setfit"])
    return MGLClassifier(cfg).fit(examples(tmp_path_factory.mktemp("setfit")), progress=False)


def test_setfit_adapts_the_encoder_and_predicts_from_texts(fitted):
    from mgl.encoders.text_encoder import TextEncoder

    texts = ["very good book", "bad terrible book", "le livre"]
    probs = fitted.predict_proba(texts)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1.0)
    assert fitted.report["contrastive_steps"] in (4, -1) and fitted.report["n_train"] > 0
    base = TextEncoder(fitted.head.encoder.spec)  # the weights it started from
    adapted = fitted.head.encoder.model.state_dict()
    moved = [k for k, v in base.model.state_dict().items() if not np.allclose(v.numpy(), adapted[k].numpy())]
    assert moved, "the contrastive stage changed no weight of the encoder"


def test_a_saved_setfit_model_loads_and_predicts_the_same(fitted, tmp_path):
    texts = ["very good book", "bad terrible book", "das buch", "le livre est mauvais"]
    fitted.save_pretrained(tmp_path / "model")
    loaded = MGLClassifier.load(tmp_path / "model")
    np.testing.assert_allclose(loaded.predict_proba(texts), fitted.predict_proba(texts), atol=1e-5)


def test_the_pooled_variant_takes_the_target_variants_steps():
    from mgl.methods.setfit_training import default_steps

    # SetFit's positive pairs include a text with itself: 21 + 10 = 31, against 24 negative pairs;
    # oversampling draws both to 31: 62 pairs, 4 batches of 16
    labels = [0] * 6 + [1] * 4
    assert default_steps(labels, SetFitConfig(batch_size=16)) == 4
    assert default_steps(labels, SetFitConfig(batch_size=16, num_iterations=2)) == 3  # 2 x 2 x 10 = 40 pairs
    assert default_steps(labels, SetFitConfig(batch_size=16, num_epochs=2)) == 8


def test_setfit_refuses_zero_shot():
    from types import SimpleNamespace

    from mgl.config import RunConfig
    from mgl.errors import DataError
    from mgl.methods import make_method

    for name in ("setfit", "setfit-pooled"):
        with pytest.raises(DataError, match=f"{name} trains on the target's labels"):
            make_method(name, RunConfig()).check_data(SimpleNamespace(zero_shot=True, target="fr"))


def test_a_grid_cell_of_setfit_embeds_nothing_for_it(tiny_bert_dir):
    from mgl.methods.registry import needs_features

    assert not needs_features("setfit") and not needs_features("setfit-pooled") and needs_features("mix")


def test_mgl_experiment_compare_runs_setfit_beside_mgls_methods(reviews_csv, tiny_bert_dir, tmp_path):
    import json

    from cli_helpers import THREE_CLASS, run_mgl

    code, _, err = run_mgl(
        "experiment",
        "compare",
        "--data",
        reviews_csv,
        *THREE_CLASS,
        "--languages",
        "en,de,fr",
        "--targets",
        "fr",
        "--quick",
        "--seeds",
        "1",
        "--methods",
        "setfit,setfit-pooled,mix",
        "--out",
        tmp_path / "grid",
        "--set",
        f"encoder.model={tiny_bert_dir}",
        *(
            x
            for item in ("encoder.precision=fp32", "setfit.max_steps=3", "setfit.batch_size=8")
            for x in ("--set", item)
        ),
        "--quiet",
    )
    assert code == 0, err
    table = (tmp_path / "grid" / "compare.md").read_text(encoding="utf-8")
    assert "SetFit (target only)" in table and "SetFit (pooled)" in table and "Mix" in table
    cells = {
        c["method"]: c
        for c in (json.loads(p.read_text(encoding="utf-8")) for p in (tmp_path / "grid" / "cells").glob("*.json"))
    }
    assert {"setfit", "setfit-pooled", "mix", "logreg-pooled"} <= set(cells)
    for name in ("setfit", "setfit-pooled"):
        assert 0.0 <= cells[name]["accuracy"] <= 1.0 and cells[name]["val_accuracy"] is not None
        assert cells[name]["train_seconds"] > 0
