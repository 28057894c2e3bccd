"""The Python API: fit, predict, explain, save and load give the same answers."""

import json

import numpy as np
import pytest
from cli_helpers import write_reviews_csv

from mgl.config import load_config
from mgl.data.user_files import load_table
from mgl.errors import MGLError
from mgl.model.classifier import MGLClassifier

pytestmark = pytest.mark.unit

TINY_RUN = [
    "encoder.max_length=32",
    "mgl.n_support=2",
    "mgl.n_query=6",
    "mgl.k_neighbours=4",
    "mgl.train_episodes=8",
    "mgl.max_rounds=2",
    "mgl.test_episodes=2",
    "mgl.eval_times=2",
    "mgl.hidden_dim=16",
    "data.sources=en,de",
    "data.target=fr",
    "method=mgl",
]
"""Small settings for a model fitted in a few seconds with the tiny encoder (EN+DE -> FR)."""


def three_class_examples(path):
    """The reviews CSV's examples, star ratings mapped to negative / neutral / positive."""
    return load_table(
        path,
        text="text",
        label="stars",
        language="lang",
        split="split",
        label_map={"1": "negative", "2": "negative", "3": "neutral", "4": "positive", "5": "positive"},
    )


@pytest.fixture(scope="module")
def fitted(tmp_path_factory, tiny_bert_dir):
    path = write_reviews_csv(tmp_path_factory.mktemp("api") / "reviews.csv")
    examples = three_class_examples(path)
    cfg = load_config("amazon", None, [f"encoder.model={tiny_bert_dir}", *TINY_RUN])
    return MGLClassifier(cfg).fit(examples, progress=False)


def test_fit_reports_and_predicts(fitted):
    assert fitted.label_names == ["negative", "neutral", "positive"]
    assert fitted.report["has_test"] and 0.0 <= fitted.report["accuracy"] <= 1.0
    texts = ["very good book", "bad terrible book", "the book"]
    probs = fitted.predict_proba(texts)
    assert probs.shape == (3, 3) and np.allclose(probs.sum(1), 1.0)
    assert fitted.predict(texts) == [fitted.label_names[i] for i in probs.argmax(1)]
    explained = fitted.explain(texts)
    for p in explained:
        assert set(p.graph["language_shares"]) == {"en", "de"}  # the graph reaches the sources' support nodes
        assert sum(p.graph["language_shares"].values()) == pytest.approx(1.0, abs=1e-4)
        assert p.graph["neighbours"] and all(n["id"] and n["language"] in ("en", "de") for n in p.graph["neighbours"])
        # the nearest labelled examples: any language's, with their text and similarity, best first
        assert len(p.neighbours) == 5 and all(
            n["id"] and n["language"] in ("en", "de", "fr") and n["text"] for n in p.neighbours
        )
        sims = [n["similarity"] for n in p.neighbours]
        assert sims == sorted(sims, reverse=True)
        assert sum(p.language_shares.values()) == pytest.approx(1.0, abs=1e-3)
        agree = sum(n["label"] == p.label for n in p.neighbours) / len(p.neighbours)
        assert p.agreement == pytest.approx(agree, abs=1e-4)


def test_save_load_same_probabilities(fitted, tmp_path):
    texts = ["very good book", "bad terrible book"]
    before = fitted.predict_proba(texts)
    fitted.save(tmp_path / "model")
    fitted.save(tmp_path / "model")  # overwriting an existing model directory is atomic too
    again = MGLClassifier.load(tmp_path / "model")
    assert np.allclose(again.predict_proba(texts), before, atol=1e-6)
    assert again.label_names == fitted.label_names and again.sources == fitted.sources
    assert len(again.bank.examples) == len(fitted.bank.examples)
    assert json.loads((tmp_path / "model" / "mgl_model.json").read_text())["method"] == "mgl"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary leftovers


def test_no_answer_ever_holds_a_nan(fitted, monkeypatch):
    """A non-finite probability (a NaN from a head, an infinite input embedding) is an error naming
    the input, on the one path every answer takes (CLI, bulk and the service call it)."""
    import mgl.model.classifier as classifier_module

    clf = fitted
    texts = ["very good book", "bad book", "a book"]
    ok = clf.predict_proba(texts)
    assert np.isfinite(ok).all()

    def nan_second(head, queries, texts=None):
        probs = np.full((len(queries), len(clf.label_names)), 1.0 / len(clf.label_names))
        probs[1, 0] = np.nan
        return probs

    monkeypatch.setattr(classifier_module, "head_probabilities", nan_second)
    with pytest.raises(MGLError, match=r"input 2 \('bad book'\): the model gave a non-finite probability"):
        clf.predict_proba(texts)
    with pytest.raises(MGLError, match="input 2"):
        clf.explain(texts)


def test_unfitted_classifier_is_a_clear_error():
    from mgl.errors import MGLError

    with pytest.raises(MGLError, match="not trained"):
        MGLClassifier().predict(["x"])


@pytest.fixture(scope="module")
def fitted_top_k(tmp_path_factory, tiny_bert_dir):
    """A model whose encoder's top layer was trained over cached lower-layer states."""
    base = tmp_path_factory.mktemp("api-top-k")
    path = write_reviews_csv(base / "reviews.csv")
    examples = three_class_examples(path)
    cfg = load_config(
        "amazon",
        None,
        [
            f"encoder.model={tiny_bert_dir}",
            *TINY_RUN,
            "encoder.train=top-k",
            "encoder.top_layers=1",
            "mgl.encoder_lr=1e-3",
        ],
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MGL_HOME", str(base / "home"))
        clf = MGLClassifier(cfg).fit(examples, progress=False)
        assert list((base / "home" / "prefix-states").glob("*/shard-*.f16"))  # trained over cached states
    return clf


def test_adapted_top_layers_save_load_and_predict_the_same(fitted_top_k, tiny_bert_dir, tmp_path):
    import torch
    from safetensors.torch import load_file
    from transformers import AutoModel

    state = fitted_top_k.encoder_state
    assert state and all(".layer.1." in name for name in state)  # the top layer only
    original = AutoModel.from_pretrained(tiny_bert_dir).state_dict()
    changed = [n for n, v in state.items() if not torch.allclose(v, original[n.removeprefix("model.")])]
    assert changed  # training moved the top layer
    texts = ["very good book", "bad terrible book", "the book"]
    before = fitted_top_k.predict_proba(texts)
    fitted_top_k.save(tmp_path / "model")
    saved = load_file(str(tmp_path / "model" / "encoder.safetensors"))
    assert set(saved) == set(state)
    again = MGLClassifier.load(tmp_path / "model")
    assert np.allclose(again.predict_proba(texts), before, atol=1e-6)
    loaded = dict(again.encoder.named_parameters())
    assert all(torch.equal(loaded[n], v) for n, v in state.items())


@pytest.fixture(scope="module")
def fitted_head(tmp_path_factory, tiny_bert_dir):
    """A model with a trained attention-pooling head over the frozen encoder's cached final states."""
    base = tmp_path_factory.mktemp("api-head")
    path = write_reviews_csv(base / "reviews.csv")
    examples = three_class_examples(path)
    cfg = load_config(
        "amazon",
        None,
        [
            f"encoder.model={tiny_bert_dir}",
            *TINY_RUN,
            "encoder.precision=fp32",
            "encoder.pooling_head=attention",
            "encoder.pooling_queries=2",
            "encoder.pooling_lr=1e-2",
        ],
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MGL_HOME", str(base / "home"))
        clf = MGLClassifier(cfg).fit(examples, progress=False)
        assert list((base / "home" / "prefix-states").glob("*/shard-*.f16"))  # trained over cached final states
    return clf


def test_pooling_head_trains_saves_loads_and_predicts_the_same(fitted_head, tmp_path):
    import torch
    from safetensors.torch import load_file

    head = fitted_head.pooling_head
    assert head is not None and not fitted_head.encoder_state  # the encoder stayed frozen: nothing of it is saved
    assert head.queries.abs().sum() > 0  # training moved the head away from mean pooling
    texts = ["very good book", "bad terrible book", "the book"]
    # new inputs are pooled by the trained head, not by the encoder's mean pooling
    mean_pooled = torch.as_tensor(fitted_head.encoder.embed(texts, progress=False))
    assert not torch.allclose(fitted_head.embed(texts), mean_pooled, atol=1e-4)
    before = fitted_head.predict_proba(texts)
    fitted_head.save(tmp_path / "model")
    assert not (tmp_path / "model" / "encoder.safetensors").exists()
    saved = load_file(str(tmp_path / "model" / "pooling_head.safetensors"))
    assert set(saved) == {"queries", "mix.weight", "mix.bias"}
    assert "pooling: a trained `attention` head" in (tmp_path / "model" / "README.md").read_text()
    again = MGLClassifier.load(tmp_path / "model")
    assert np.allclose(again.predict_proba(texts), before, atol=1e-6)
    assert all(torch.equal(again.pooling_head.state_dict()[k], v) for k, v in head.state_dict().items())


def test_a_saved_head_must_load_whole(fitted_head, tmp_path):
    import json

    from safetensors.torch import load_file, save_file

    from mgl.errors import MGLError
    from mgl.io import sha256_file

    fitted_head.save(tmp_path / "model")
    path = tmp_path / "model" / "pooling_head.safetensors"
    state = load_file(str(path))
    del state["mix.bias"]
    save_file(state, str(path))
    sums = json.loads((tmp_path / "model" / "checksums.json").read_text())
    sums["pooling_head.safetensors"] = sha256_file(path)
    (tmp_path / "model" / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(MGLError, match="cannot load the model weights"):
        MGLClassifier.load(tmp_path / "model")


# ------------------------------------------------------------------ one graph per input


def test_a_prediction_does_not_depend_on_its_batch_mates(fitted):
    """Each input is the only query of its own graph: alone, duplicated, reversed or among others,
    its probabilities are the same (they once moved by up to 1.3e-4 with the batch)."""
    texts = ["very good book", "bad terrible book", "the book", "das buch ist gut", "le livre est mauvais"]
    together = fitted.predict_proba(texts)
    alone = np.vstack([fitted.predict_proba([t]) for t in texts])
    reversed_ = fitted.predict_proba(texts[::-1])[::-1]
    duplicated = fitted.predict_proba([texts[0]] * 4 + texts)
    np.testing.assert_allclose(together, alone, atol=1e-6)
    np.testing.assert_allclose(together, reversed_, atol=1e-6)
    np.testing.assert_allclose(duplicated[:4], np.repeat(together[:1], 4, axis=0), atol=1e-6)
    np.testing.assert_allclose(duplicated[4:], together, atol=1e-6)


def test_batched_graphs_equal_one_graph_at_a_time(fitted):
    """Two implementations of one thing: the batched [B, |S|+1, d] graphs of the meta-graph head against
    a loop that builds each input's graph alone with the unbatched model."""
    import torch

    queries = fitted.embed(["very good book", "bad terrible book", "the book"])
    head = fitted.head
    batched = head.explain_graph(queries)
    probs = np.zeros_like(batched[0])
    self_weight = np.zeros(len(queries))
    supports = head.support_sets()
    with torch.no_grad():
        for i, q in enumerate(queries):
            for rows, labels, _ in supports:
                h = torch.cat([head.support[torch.as_tensor(rows)], q[None]])
                adj = head.model.graph(h)
                probs[i] += head.model(h, torch.as_tensor(labels), adj=adj)[-1].exp().double().numpy() / len(supports)
                self_weight[i] += float(adj[-1, -1] / adj[-1].sum()) / len(supports)
    np.testing.assert_allclose(batched[0], probs, atol=1e-6)
    np.testing.assert_allclose(batched[1], self_weight, atol=1e-6)


def test_explanations_report_the_self_weight(fitted):
    for p in fitted.explain(["very good book", "bad terrible book"]):
        assert 0.0 < p.self_weight <= 1.0
        assert p.graph_active == (p.self_weight < 0.99)
        d = p.to_dict()["explanation"]["graph"]
        assert d["self_weight"] == p.self_weight and d["graph_active"] == p.graph_active
        assert sum(d["language_shares"].values()) == pytest.approx(1.0, abs=1e-4)


def test_predictions_write_nothing_to_the_embedding_cache_by_default(fitted, tmp_path, monkeypatch):
    from mgl.encoders import EmbeddingCache

    cache = EmbeddingCache(tmp_path / "cache")
    before = len(cache)
    fitted.predict(["a text nobody embedded before"])
    assert len(cache) == before and fitted.embedding_cache is None
    fitted.embedding_cache = cache
    try:
        fitted.predict(["a text nobody embedded before"])
        assert len(cache) == before + 1
    finally:
        fitted.embedding_cache = None


# ------------------------------------------------------------------ Hugging Face conventions


def test_save_pretrained_writes_a_model_card_and_from_pretrained_loads_it(fitted, tmp_path):
    texts = ["very good book", "bad terrible book"]
    fitted.save_pretrained(tmp_path / "model")
    card = (tmp_path / "model" / "README.md").read_text(encoding="utf-8")
    for needle in (
        "en+de -> fr",
        "negative, neutral, positive",
        "| en |",
        "| fr |",
        "meta-test",
        fitted.encoder.identity,
        "mgl.n_support | 2",
    ):
        assert needle in card, needle
    counts = fitted.report["counts"]
    assert f"| fr | {counts['fr']['train']} | {counts['fr']['validation']} | {counts['fr']['test']} |" in card
    again = MGLClassifier.from_pretrained(tmp_path / "model")
    assert np.allclose(again.predict_proba(texts), fitted.predict_proba(texts), atol=1e-6)
    assert MGLClassifier.load is not None and MGLClassifier.save is MGLClassifier.save_pretrained


def test_loading_with_another_encoder_is_refused(fitted, tmp_path, tiny_bert_dir):
    """A model whose encoder here is not the one it was trained with (other weights) is refused."""
    import importlib.util
    import json
    import shutil
    from pathlib import Path

    from mgl.errors import MGLError

    spec = importlib.util.spec_from_file_location("tests_conftest", Path(__file__).parent / "conftest.py")
    tests_conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tests_conftest)
    build_tiny_bert = tests_conftest.build_tiny_bert
    from mgl.io import sha256_file

    other = build_tiny_bert(tmp_path / "other-bert")
    fitted.save_pretrained(tmp_path / "model")
    meta_path = tmp_path / "model" / "mgl_model.json"
    meta = json.loads(meta_path.read_text())
    meta["config"]["encoder"]["model"] = str(other)  # the same reference, other weights
    meta_path.write_text(json.dumps(meta))
    sums = json.loads((tmp_path / "model" / "checksums.json").read_text())
    sums["mgl_model.json"] = sha256_file(meta_path)
    (tmp_path / "model" / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(MGLError, match="not the one this model was trained with"):
        MGLClassifier.from_pretrained(tmp_path / "model")
    shutil.rmtree(other)


def test_from_pretrained_can_embed_inputs_in_bf16(fitted, tmp_path):
    """Serving faster: inputs embedded in bf16 against supports embedded in fp32 at training; the
    identity check then ignores the precision only, and the classifier says what differs."""
    texts = ["very good book", "bad terrible book", "the book"]
    fitted.save_pretrained(tmp_path / "model")
    fast = MGLClassifier.from_pretrained(tmp_path / "model", precision="bf16")
    assert fast.encoder.precision == "bf16" and "bf16" in fast.precision_note
    assert MGLClassifier.from_pretrained(tmp_path / "model").precision_note is None
    np.testing.assert_allclose(fast.predict_proba(texts), fitted.predict_proba(texts), atol=2e-2)


def test_saving_never_deletes_what_mgl_did_not_write(fitted, tmp_path, monkeypatch):
    from mgl.errors import MGLError

    project = tmp_path / "proj"
    project.mkdir()
    (project / "thesis.txt").write_text("x")
    with pytest.raises(MGLError, match="not empty and holds no mgl model"):
        fitted.save_pretrained(project)
    assert (project / "thesis.txt").read_text() == "x" and sorted(p.name for p in project.iterdir()) == ["thesis.txt"]

    model = tmp_path / "model"
    fitted.save_pretrained(model)
    with pytest.raises(MGLError, match="--overwrite"):
        fitted.save_pretrained(model, overwrite=False)
    (model / "notes.md").write_text("mine")  # a user's file inside a model folder: the model is not replaced
    with pytest.raises(MGLError, match=r"files mgl did not write.*notes\.md"):
        fitted.save_pretrained(model)
    assert (model / "notes.md").read_text() == "mine"
    (model / "notes.md").unlink()
    fitted.save_pretrained(model)  # a model folder holding only model files is replaced

    monkeypatch.chdir(project)
    with pytest.raises(MGLError, match="current folder"):
        fitted.save_pretrained(".")
    (tmp_path / "empty").mkdir()
    monkeypatch.chdir(tmp_path / "empty")
    with pytest.raises(MGLError, match="current folder"):
        fitted.save_pretrained(".")
    with pytest.raises(MGLError, match="current folder"):
        fitted.save_pretrained("..")
    assert (project / "thesis.txt").exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]
    file_parent = tmp_path / "a-file"
    file_parent.write_text("")
    with pytest.raises(MGLError, match="a-file"):
        fitted.save_pretrained(file_parent / "model")


def test_a_model_saved_without_support_texts_predicts_the_same(fitted, tmp_path):
    texts = ["very good book", "bad terrible book"]
    fitted.save_pretrained(tmp_path / "with")
    fitted.save_pretrained(tmp_path / "without", support_texts=False)
    rows = [json.loads(line) for line in (tmp_path / "without" / "examples.jsonl").read_text().splitlines()]
    assert rows and all(r["text"] is None and r["id"] and r["label"] for r in rows)
    assert "Training texts inside:** no" in (tmp_path / "without" / "README.md").read_text()
    assert "Training texts inside:** yes" in (tmp_path / "with" / "README.md").read_text()
    a, b = MGLClassifier.load(tmp_path / "with"), MGLClassifier.load(tmp_path / "without")
    assert not b.support_texts and a.support_texts
    np.testing.assert_allclose(b.predict_proba(texts), a.predict_proba(texts), atol=1e-7)
    assert [n["id"] for n in b.explain(texts[:1])[0].neighbours] == [
        n["id"] for n in a.explain(texts[:1])[0].neighbours
    ]
    assert all(n["text"] is None for n in b.explain(texts[:1])[0].neighbours)


def test_a_small_validation_set_is_named_in_the_model_card(fitted, tmp_path):
    """Under 30 target validation rows decide the temperature, the settings and early stopping: the
    card says so (and training said so in a notice); a larger set gets no such line."""
    from mgl.data.preparation import SMALL_VALIDATION
    from mgl.model.card import render_model_card

    n = fitted.report["counts"][fitted.target]["validation"]
    assert n < SMALL_VALIDATION  # the tiny fixture's target
    fitted.save_pretrained(tmp_path / "m")
    card = (tmp_path / "m" / "README.md").read_text(encoding="utf-8")
    assert f"the target has {n} validation rows" in card
    meta = json.loads((tmp_path / "m" / "mgl_model.json").read_text(encoding="utf-8"))
    meta["report"]["counts"][fitted.target]["validation"] = SMALL_VALIDATION
    assert "A small validation set" not in render_model_card(meta)


def test_fit_reads_a_generator_of_examples_once(tmp_path, tiny_bert_dir):
    """An iterable of examples is read once: a generator trains the same model as its list."""
    examples = three_class_examples(write_reviews_csv(tmp_path / "reviews.csv"))
    cfg = load_config("amazon", None, [f"encoder.model={tiny_bert_dir}", *TINY_RUN])
    from_list = MGLClassifier(cfg, method="logreg-pooled").fit(examples, progress=False)
    from_generator = MGLClassifier(cfg, method="logreg-pooled").fit((ex for ex in examples), progress=False)
    texts = ["very good book", "bad book"]
    np.testing.assert_array_equal(from_list.predict_proba(texts), from_generator.predict_proba(texts))
