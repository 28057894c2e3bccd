"""Episodic training: a few steps lower the loss (tiny random encoder), a frozen fit beats chance,
and a run resumed from a checkpoint ends exactly where an uninterrupted one does."""

import copy

import numpy as np
import pytest
import torch

from mgl.config import MGLConfig
from mgl.encoders.node_features import EncoderFeatures, FrozenFeatures
from mgl.methods.metrics import classification_metrics
from mgl.methods.mgl.meta_graph import query_loss
from mgl.methods.mgl.queries import predict_proba
from mgl.methods.mgl.training import ExampleTable, build_model, fit_mgl, meta_test_tasks, train_stage
from mgl.methods.validation_rows import validation_rows

pytestmark = pytest.mark.unit

POS = {"en": "great good love loved", "de": "sehr gut gut", "fr": "très bon bon", "ja": "great bon gut"}
NEG = {
    "en": "bad terrible hate boring",
    "de": "schlecht nicht gut",
    "fr": "mauvais pas bon",
    "ja": "bad mauvais schlecht",
}


def text_table(n_per_class=12):
    rng = np.random.default_rng(0)
    texts, langs, labels, splits = [], [], [], []
    filler = ["the", "a", "this", "that", "it", "and", "of", "to", "in"]
    for lang in ("en", "de", "fr", "ja"):
        for split, n in (("train", n_per_class), ("validation", 6), ("test", 6)):
            for c, words in ((0, NEG[lang]), (1, POS[lang])):
                for _ in range(n):
                    ws = words.split() + list(rng.choice(filler, size=3))
                    rng.shuffle(ws)
                    texts.append(" ".join(ws))
                    langs.append(lang)
                    labels.append(c)
                    splits.append(split)
    table = ExampleTable(np.array(langs), np.array(labels), np.array(splits), ["negative", "positive"])
    return texts, table


def test_few_steps_on_tiny_random_encoder_lower_the_loss(tiny_bert_dir):
    from mgl.encoders import EncoderSpec, TextEncoder

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest, and immune to a loaded machine
    torch.manual_seed(0)
    texts, table = text_table()
    encoder = TextEncoder(EncoderSpec(str(tiny_bert_dir), pooling="mean", prefix=""), device="cpu")
    encoder.set_trainable("all")
    features = EncoderFeatures(encoder, texts)
    cfg = MGLConfig(
        n_support=3,
        n_query=8,
        k_neighbours=6,
        hidden_dim=16,
        train_episodes=15,
        max_rounds=1,
        test_episodes=1,
        eval_times=1,
        lr=1e-2,
        encoder_lr=1e-3,
        dropout=0.0,
    )
    model = build_model(cfg, encoder.dim, 2)
    sampler, val_task, _ = meta_test_tasks(
        table, ["en", "de", "fr"], "ja", cfg, validation_rows(table, ["en", "de", "fr"], "ja", cfg, 0)
    )
    fixed = [sampler.sample(np.random.default_rng(100 + i)) for i in range(4)]

    def fixed_loss():
        model.eval()
        encoder.eval()
        with torch.no_grad():
            return sum(
                float(
                    query_loss(
                        model(features(ep.nodes), torch.as_tensor(ep.support_labels)), torch.as_tensor(ep.query_labels)
                    )
                )
                for ep in fixed
            )

    before = fixed_loss()
    enc_before = copy.deepcopy(features.state_dict())
    report = train_stage("meta-test", model, features, [sampler], [val_task], cfg, seed=0, progress=False)
    # restore the last weights, not only the best (with one round they are the same)
    assert report.steps == 15
    after = fixed_loss()
    assert after < before
    changed = [k for k, v in features.state_dict().items() if not torch.equal(v, enc_before[k])]
    torch.set_num_threads(threads)
    assert changed, "no encoder weight was updated"


def synthetic_table(seed=0, d=32):
    rng = np.random.default_rng(seed)
    langs_all = ["en", "fr", "de", "ja"]
    centers = rng.normal(size=(2, d))
    shift = {lang: rng.normal(size=d) * 0.5 for lang in langs_all}
    X, langs, labels, splits = [], [], [], []
    for lang in langs_all:
        for split, n in (("train", 60 if lang != "ja" else 10), ("validation", 30), ("test", 60)):
            for i in range(2 * n):
                c = i % 2
                X.append(3 + centers[c] + shift[lang] + rng.normal(size=d) * 1.5)
                langs.append(lang)
                labels.append(c)
                splits.append(split)
    table = ExampleTable(np.array(langs), np.array(labels), np.array(splits), ["negative", "positive"])
    return np.array(X, dtype=np.float32), table


SMALL = {
    "n_support": 3,
    "n_query": 8,
    "k_neighbours": 6,
    "hidden_dim": 32,
    "train_episodes": 10,
    "max_rounds": 6,
    "patience": 3,
    "test_episodes": 4,
    "eval_times": 2,
}


def test_frozen_fit_beats_chance():
    X, table = synthetic_table()
    cfg = MGLConfig(**SMALL)
    torch.manual_seed(0)
    model = build_model(cfg, X.shape[1], 2)
    features = FrozenFeatures(X)
    fit = fit_mgl(model, features, table, ["en", "fr", "de"], "ja", cfg, seed=0, progress=False)
    assert [s.name for s in fit.stages] == ["meta-train", "meta-test"]
    test = table.rows(languages="ja", split="test")
    probs = predict_proba(
        model, features, fit.test_sampler, test, n_query=8, eval_times=2, rng=np.random.default_rng(0)
    )
    assert np.allclose(probs.sum(1), 1.0)
    acc = classification_metrics(table.labels[test], probs.argmax(1), 2)["accuracy"]
    assert acc > 0.75


def test_no_meta_skips_stage_one():
    X, table = synthetic_table()
    cfg = MGLConfig(**SMALL, meta_train=False)
    model = build_model(cfg, X.shape[1], 2)
    fit = fit_mgl(model, FrozenFeatures(X), table, ["en", "fr", "de"], "ja", cfg, seed=0, progress=False)
    assert [s.name for s in fit.stages] == ["meta-test"]


def test_resume_from_checkpoint_matches_uninterrupted_run():
    X, table = synthetic_table()
    cfg = MGLConfig(**{**SMALL, "patience": 10})

    def run(checkpoint=None, resume=None):
        torch.manual_seed(0)
        model = build_model(cfg, X.shape[1], 2)
        fit = fit_mgl(
            model,
            FrozenFeatures(X),
            table,
            ["en", "fr", "de"],
            "ja",
            cfg,
            seed=1,
            progress=False,
            checkpoint=checkpoint,
            resume=resume,
        )
        return model, fit

    full_model, full_fit = run()

    saved = {}

    class Killed(Exception):
        pass

    def save_then_die(stage, state):
        saved[stage] = copy.deepcopy(state)
        if stage == "meta-test" and state.get("reports", [{}])[0].get("rounds") == 3:
            raise Killed

    with pytest.raises(Killed):
        run(checkpoint=save_then_die)
    assert saved["meta-train"]["done"] and not saved["meta-test"].get("done")
    resumed_model, resumed_fit = run(resume=saved)
    for k, v in full_model.state_dict().items():
        assert torch.equal(v, resumed_model.state_dict()[k]), k
    assert [s.best_accuracy for s in resumed_fit.stages] == [s.best_accuracy for s in full_fit.stages]
    assert resumed_fit.stages[-1].rounds == full_fit.stages[-1].rounds
