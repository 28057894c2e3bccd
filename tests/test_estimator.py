"""mgl in the shapes people pass around: a scikit-learn estimator (``clone``, ``Pipeline``,
``GridSearchCV``, ``cross_val_score`` and scikit-learn's own checks that apply to a text
classifier), and pandas DataFrames and Hugging Face ``datasets`` in and out."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from cli_helpers import write_reviews_csv
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from mgl import Classifier, MGLEstimator, load_dataset
from mgl.errors import MGLError

pytestmark = pytest.mark.unit

STARS = {"1": "negative", "2": "negative", "4": "positive", "5": "positive"}


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    """Texts, labels, languages and splits of the synthetic reviews (neutral reviews left out)."""
    path = write_reviews_csv(tmp_path_factory.mktemp("est") / "reviews.csv")
    kept = [r for r in csv.DictReader(path.open(encoding="utf-8")) if r["stars"] in STARS]
    return {
        "text": [r["text"] for r in kept],
        "label": [STARS[r["stars"]] for r in kept],
        "language": [r["lang"] for r in kept],
        "split": [r["split"] for r in kept],
    }


def estimator(tiny_bert_dir, **params) -> MGLEstimator:
    return MGLEstimator(
        target="fr",
        method="logreg-pooled",
        encoder=str(tiny_bert_dir),
        settings=("encoder.precision=fp32", "mgl.n_support=2", "mgl.n_query=4"),
        **params,
    )


def test_fit_predict_score_on_lists_arrays_and_pandas_columns(rows, tiny_bert_dir):
    import pandas as pd

    train = [i for i, s in enumerate(rows["split"]) if s != "test"]
    test = [i for i, s in enumerate(rows["split"]) if s == "test" and rows["language"][i] == "fr"]
    texts, labels, langs = (np.array(rows[k], dtype=object) for k in ("text", "label", "language"))
    a = estimator(tiny_bert_dir).fit(list(texts[train]), list(labels[train]), languages=list(langs[train]))
    frame = pd.DataFrame({k: np.array(v, dtype=object)[train] for k, v in rows.items()})
    b = estimator(tiny_bert_dir).fit(frame["text"], frame["label"], languages=frame["language"])
    assert list(a.classes_) == ["negative", "positive"] == list(b.classes_)
    pa, pb = a.predict_proba(texts[test]), b.predict_proba(pd.Series(texts[test]))
    np.testing.assert_allclose(pa, pb, atol=1e-6)
    assert pa.shape == (len(test), 2) and np.allclose(pa.sum(1), 1)
    assert set(a.predict(texts[test])) <= set(a.classes_)
    assert 0.5 <= a.score(texts[test], labels[test]) <= 1.0  # ClassifierMixin's accuracy, above chance
    out = a.predict_frame(texts[test][:3])
    assert list(out.columns) == ["text", "label", "p_negative", "p_positive"] and len(out) == 3


def test_clone_pipeline_grid_search_and_cross_validation(rows, tiny_bert_dir):
    est = estimator(tiny_bert_dir)
    twin = clone(est)
    assert twin.get_params() == est.get_params() and twin is not est
    assert est.set_params(seed=3).seed == 3
    train = [i for i, s in enumerate(rows["split"]) if s != "test"]
    texts = [rows["text"][i] for i in train]
    labels = [rows["label"][i] for i in train]
    langs = [rows["language"][i] for i in train]
    pipe = Pipeline([("lower", FunctionTransformer(lambda xs: [x.lower() for x in xs])), ("clf", clone(est))])
    pipe.fit(texts, labels, clf__languages=langs)
    assert len(pipe.predict(texts[:4])) == 4
    folds = StratifiedKFold(n_splits=2, shuffle=True, random_state=0)  # rows come language by language
    search = GridSearchCV(clone(est), {"method": ["logreg-pooled", "logreg-target"]}, cv=folds)
    search.fit(texts, labels, languages=langs)
    assert search.best_params_["method"] in ("logreg-pooled", "logreg-target")
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    scores = cross_val_score(clone(est), texts, labels, cv=folds, params={"languages": langs})
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_the_scikit_learn_checks_that_apply_to_a_text_classifier():
    """scikit-learn's estimator checks that do not feed numeric matrices: the parameter contract
    (what ``clone`` and the searches rely on) and the unfitted error. The rest of ``check_estimator``
    builds numeric X (a text classifier refuses it by design) and is not run."""
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.estimator_checks import (
        check_get_params_invariance,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_set_params,
    )

    est = MGLEstimator()
    for check in (
        check_no_attributes_set_in_init,
        check_get_params_invariance,
        check_set_params,
        check_parameters_default_constructible,
    ):
        check(type(est).__name__, est)
    with pytest.raises(NotFittedError):
        est.predict(["a text"])


def test_dataframes_and_datasets_train_and_predict(rows, tiny_bert_dir):
    """A DataFrame and a datasets.Dataset read as a file is read (the same column options as the
    CLI's --columns / --labels), train a Classifier and an estimator, and examples come back as either."""
    import datasets
    import pandas as pd

    frame = pd.DataFrame(
        {
            "review": rows["text"],
            "stars": [{"negative": 1, "positive": 5}[x] for x in rows["label"]],
            "lang": rows["language"],
            "split": rows["split"],
        }
    )
    spec = {"columns": "text=review,label=stars,language=lang,split=split", "labels": "1=negative,5=positive"}
    from_frame = load_dataset(frame, **spec)
    from_dataset = load_dataset(datasets.Dataset.from_pandas(frame), **spec)
    assert [(e.text, e.label, e.language, e.split) for e in from_frame] == [
        (e.text, e.label, e.language, e.split) for e in from_dataset
    ]
    assert from_frame[0].uid == "<DataFrame>#1" and from_dataset[0].uid == "<Dataset>#1"
    back = load_dataset(frame, as_frame=True, **spec)
    assert list(back.columns)[:3] == ["text", "label", "language"] and len(back) == len(frame)
    from mgl.config import load_config

    cfg = load_config("amazon", None, ["encoder.precision=fp32", f"encoder.model={tiny_bert_dir}"])
    clf = Classifier(cfg, method="logreg-pooled").fit(
        frame, columns=spec["columns"], labels=spec["labels"], sources=["en", "de"], target="fr", progress=False
    )
    est = estimator(tiny_bert_dir).fit(
        datasets.Dataset.from_pandas(frame), columns=spec["columns"], labels=spec["labels"]
    )
    texts = ["very good book", "bad terrible book"]
    np.testing.assert_allclose(clf.predict_proba(texts), est.predict_proba(texts), atol=1e-6)
    with pytest.raises(MGLError, match=r"mgl\.MGLEstimator"):
        Classifier(cfg).fit(["a text"], sources=["en"], target="fr")


def test_bad_rows_in_a_dataframe_name_the_row(tiny_bert_dir):
    import pandas as pd

    frame = pd.DataFrame({"text": ["good", "   ", "bad"], "label": ["p", "n", "n"], "language": ["en", "en", "fr"]})
    with pytest.raises(MGLError, match=r"<DataFrame>, record 2: empty text"):
        load_dataset(frame)
    with pytest.raises(MGLError, match="differ in length"):
        estimator(tiny_bert_dir).fit(["a", "b"], ["x"], languages="en")
