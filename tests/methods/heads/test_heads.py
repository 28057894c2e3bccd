"""The heads: two implementations of one thing where there are two, and save/load through the registry."""

import json

import numpy as np
import pytest
import torch

from mgl.methods.heads import HEAD_KINDS, EnsembleHead, LabelledBank, LogisticHead, MLPHead, mean_probabilities

pytestmark = pytest.mark.unit


def _bank(n=12, dim=6, seed=0):
    from mgl.data.examples import Example

    rng = np.random.default_rng(seed)
    examples = [
        Example(text=f"t{i}", label=["a", "b", "c"][i % 3], language=["en", "de"][i % 2], uid=f"r{i}") for i in range(n)
    ]
    return LabelledBank(
        examples,
        torch.as_tensor(rng.normal(size=(n, dim)), dtype=torch.float32),
        [i % 3 for i in range(n)],
        ["a", "b", "c"],
    )


@pytest.mark.parametrize("classes", [2, 3])
def test_logreg_head_equals_the_scikit_learn_pipeline(classes):
    """Arrays in, the pipeline's own predict_proba out (binary: sigmoid of one score; else softmax)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(classes)
    x = rng.normal(size=(200, 8)) * rng.uniform(0.1, 5, size=8) + rng.normal(size=8)
    y = rng.integers(0, classes, size=200)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.3, max_iter=5000)).fit(x, y)
    head = LogisticHead.from_pipeline(pipe, classes, C=0.3)
    queries = rng.normal(size=(50, 8))
    np.testing.assert_allclose(
        head.predict_proba(torch.as_tensor(queries, dtype=torch.float32)),
        pipe.predict_proba(queries.astype(np.float32)),
        atol=1e-6,
    )
    again = LogisticHead.from_saved(head.settings(), head.tensors(), _bank())
    np.testing.assert_array_equal(
        again.predict_proba(torch.as_tensor(queries)), head.predict_proba(torch.as_tensor(queries))
    )
    assert all(t.dtype == torch.float64 for t in head.tensors().values())  # arrays, no pickle


def test_mlp_head_round_trips_and_predicts_in_eval_mode():
    from mgl.methods.baselines.common import MLPClassifier

    torch.manual_seed(0)
    model = MLPClassifier(6, 3, hidden_dim=5, dropout=0.5, heads=["en", "fr"])
    head = MLPHead(model, "fr")
    x = torch.randn(7, 6)
    p = head.predict_proba(x)
    np.testing.assert_allclose(p, head.predict_proba(x))  # no dropout at prediction
    np.testing.assert_allclose(p, torch.softmax(model.eval()(x, "fr").double(), 1).detach().numpy(), atol=1e-7)
    again = HEAD_KINDS["mlp"].from_saved(head.settings(), head.tensors(), _bank())
    np.testing.assert_array_equal(again.predict_proba(x), p)
    with pytest.raises(RuntimeError):  # strict: a missing tensor is an error
        HEAD_KINDS["mlp"].from_saved(
            head.settings(), {k: v for k, v in head.tensors().items() if "fr" not in k}, _bank()
        )


def test_ensemble_is_the_mean_of_its_members():
    from mgl.methods.baselines.common import MLPClassifier

    torch.manual_seed(1)
    members = {
        "a": MLPHead(MLPClassifier(6, 3, hidden_dim=4), "shared"),
        "b": MLPHead(MLPClassifier(6, 3, hidden_dim=4), "shared"),
    }
    ens = EnsembleHead(members)
    x = torch.randn(5, 6)
    np.testing.assert_allclose(
        ens.predict_proba(x), (members["a"].predict_proba(x) + members["b"].predict_proba(x)) / 2
    )
    assert np.allclose(ens.predict_proba(x).sum(1), 1.0)
    with pytest.raises(ValueError):
        mean_probabilities([np.zeros((2, 3)), np.zeros((2, 2))])
    with pytest.raises(ValueError):
        EnsembleHead({})


def test_nearest_neighbours_equal_a_brute_force_search():
    from mgl.model.neighbours import explain_by_neighbours, nearest

    bank = _bank(n=40, dim=5)
    q = torch.randn(9, 5)
    idx, sims = nearest(q, bank, k=4, chunk=4)  # chunked
    b = bank.embeddings.numpy()
    cos = (q.numpy() / np.linalg.norm(q.numpy(), axis=1, keepdims=True)) @ (
        b / np.linalg.norm(b, axis=1, keepdims=True)
    ).T
    np.testing.assert_array_equal(idx, np.argsort(-cos, axis=1)[:, :4])
    np.testing.assert_allclose(sims, np.sort(cos, axis=1)[:, ::-1][:, :4], atol=1e-5)
    why = explain_by_neighbours(idx[0], sims[0], predicted=1, bank=bank, languages=["en", "de", "fr"])
    assert [n["id"] for n in why["neighbours"]] == [bank.examples[i].uid for i in idx[0]]
    assert why["agreement"] == pytest.approx(np.mean(bank.labels[idx[0]] == 1))
    assert sum(why["language_shares"].values()) == pytest.approx(1.0) and why["language_shares"]["fr"] == 0.0


def test_temperature_scaling_lowers_the_nll_and_keeps_every_label():
    from mgl.model.calibration import apply_temperature, expected_calibration_error, fit_temperature, nll

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=2000)
    # an overconfident model: right 75% of the time, always 99% sure
    right = rng.random(2000) < 0.75
    pred = np.where(right, y, 1 - y)
    probs = np.where(pred[:, None] == np.arange(2)[None], 0.99, 0.01)
    t = fit_temperature(probs, y)
    assert t > 1.5
    cal = apply_temperature(probs, t)
    assert nll(cal, y) < nll(probs, y)
    assert (cal.argmax(1) == probs.argmax(1)).all()
    assert expected_calibration_error(cal, y) < 0.02 < expected_calibration_error(probs, y)
    assert expected_calibration_error(probs, y) == pytest.approx(abs(0.99 - right.mean()), abs=1e-9)
    with pytest.raises(ValueError):
        fit_temperature(np.zeros((0, 2)), [])


def test_a_logistic_regression_fitted_on_some_classes_gives_the_others_probability_zero():
    """A target's few labels may miss a class: the regression still answers over every class, the
    unseen ones with probability 0, the seen ones with scikit-learn's own probabilities."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from mgl.methods.heads.logistic import LogisticHead

    rng = np.random.default_rng(0)
    for seen in ([1, 4], [0, 2, 5]):
        x = rng.normal(size=(40, 6))
        y = np.array(seen * 20)[:40]
        x[np.arange(40), y % 6] += 3.0
        pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)).fit(x, y)
        head = LogisticHead.from_pipeline(pipe, 7)
        probs = head.predict_proba(x)
        assert probs.shape == (40, 7)
        np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-9)
        assert np.all(probs[:, [c for c in range(7) if c not in seen]] == 0.0)
        np.testing.assert_allclose(probs[:, seen], pipe.predict_proba(x), atol=1e-9)


@pytest.mark.parametrize("classes", [2, 3])
def test_char_ngram_head_equals_the_scikit_learn_pipeline_and_round_trips_as_tensors(classes):
    """The texts in, the vectoriser + regression's own predict_proba out; saved as arrays (the vocabulary
    as UTF-8 bytes, scripts the encoder hardly knows included) and rebuilt to the same probabilities."""
    from sklearn.linear_model import LogisticRegression

    from mgl.methods.heads import CharNgramHead
    from mgl.methods.heads.char_ngram import make_vectorizer

    rng = np.random.default_rng(classes)
    alphabet = list("abcdefghij") + list("ཀཁགངཅ") + list("ሀለሐመሠ") + [" "]
    texts = ["".join(rng.choice(alphabet, size=int(rng.integers(5, 30)))) for _ in range(120)]
    y = rng.integers(0, classes, size=120)
    vec = make_vectorizer(1, 3, 2, 500)
    x = vec.fit_transform(texts)
    lr = LogisticRegression(C=3.0, max_iter=3000).fit(x, y)
    head = CharNgramHead.from_fitted(vec, lr, classes, C=3.0)
    queries = ["".join(rng.choice(alphabet, size=12)) for _ in range(20)] + ["ཀཁ ሀለ ab"]
    np.testing.assert_allclose(
        head.predict_proba(None, texts=queries), lr.predict_proba(vec.transform(queries)), atol=1e-9
    )
    tensors = head.tensors()
    assert set(tensors) == {"vocab_bytes", "vocab_offsets", "idf", "coef", "intercept"}
    json.dumps(head.settings())  # plain JSON, nothing pickled
    again = HEAD_KINDS["char-ngram"].from_saved(head.settings(), tensors, _bank())
    np.testing.assert_array_equal(again.predict_proba(None, texts=queries), head.predict_proba(None, texts=queries))
    assert again.vectorizer.vocabulary_ == vec.vocabulary_
    with pytest.raises(ValueError, match="pass texts="):
        head.predict_proba(torch.zeros(2, 4))


def test_a_class_the_char_regression_never_saw_gets_probability_zero():
    from sklearn.linear_model import LogisticRegression

    from mgl.methods.heads import CharNgramHead
    from mgl.methods.heads.char_ngram import make_vectorizer

    texts = ["aa bb", "aa cc", "bb dd", "dd ee", "ee aa", "cc dd"] * 3
    y = np.array([0, 2, 0, 2, 0, 2] * 3)
    vec = make_vectorizer(1, 2, 1, 100)
    head = CharNgramHead.from_fitted(vec, LogisticRegression().fit(vec.fit_transform(texts), y), 3)
    p = head.predict_proba(None, texts=["aa", "dd"])
    assert p[:, 1].max() < 1e-300 and np.allclose(p.sum(1), 1)


def test_an_ensemble_reads_texts_where_a_member_does():
    from sklearn.linear_model import LogisticRegression

    from mgl.methods.heads import CharNgramHead
    from mgl.methods.heads.char_ngram import make_vectorizer
    from mgl.methods.inputs import head_texts

    texts = ["aa bb", "cc dd", "aa cc", "bb dd"] * 4
    y = np.array([0, 1, 0, 1] * 4)
    vec = make_vectorizer(1, 2, 1, 100)
    chars = CharNgramHead.from_fitted(vec, LogisticRegression().fit(vec.fit_transform(texts), y), 2)
    logreg = LogisticHead(np.zeros(3), np.ones(3), np.zeros((2, 3)), np.zeros(2), 2)
    assert not EnsembleHead({"logreg": logreg}).reads_texts
    both = EnsembleHead({"logreg": logreg, "chars": chars})
    assert both.reads_texts
    q = head_texts(["aa", "cc"], ["bb", None])
    assert q == ["aa\nbb", "cc"]
    p = both.predict_proba(torch.zeros(2, 3), texts=q)
    np.testing.assert_allclose(p, (chars.predict_proba(None, texts=q) + 0.5) / 2)
