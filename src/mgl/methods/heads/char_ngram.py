r"""A head that reads the texts themselves: character n-gram TF-IDF, then a linear map.

.. math::

    v = \mathrm{tfidf}(\text{text}) \in \mathbb{R}^{V}, \qquad
    z = v W^\top + b, \qquad p = \mathrm{softmax}(z)

with :math:`\mathrm{tfidf}` scikit-learn's :class:`~sklearn.feature_extraction.text.TfidfVectorizer`
(``char_wb`` n-grams, sublinear tf, l2 norm) over the fitted vocabulary of :math:`V` n-grams and
its idf weights, and :math:`W, b` the fitted logistic regression's ``coef_`` and ``intercept_``
(a class the regression never saw has probability 0: :func:`~mgl.methods.heads.logistic.every_class`).
It ignores the encoder's features: :attr:`Head.reads_texts` tells every caller to pass the texts
(a text pair is read as the text, a newline and its pair: :func:`~mgl.methods.inputs.head_texts`).

Saved as tensors, never pickled: the vocabulary as its UTF-8 bytes and their offsets, the idf
weights, ``coef`` and ``intercept``; the vectoriser's settings as JSON. A test checks that the
saved head gives the scikit-learn pipeline's probabilities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mgl.methods.heads.base import Head, LabelledBank
from mgl.methods.heads.logistic import every_class

VECTORIZER_SETTINGS = ("ngram_range", "min_df", "max_features", "sublinear_tf", "analyzer", "lowercase")
"""The :class:`~sklearn.feature_extraction.text.TfidfVectorizer` settings a saved head keeps."""


def make_vectorizer(ngram_min: int, ngram_max: int, min_df: int, max_features: int):
    """The one vectoriser of ``logreg-chars`` (fitted by the method, rebuilt by the head)."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(ngram_min, ngram_max),
        sublinear_tf=True,
        min_df=min_df,
        max_features=max_features,
        lowercase=True,
    )


class CharNgramHead(Head):
    kind = "char-ngram"
    reads_texts = True

    def __init__(
        self, vectorizer, coef: np.ndarray, intercept: np.ndarray, num_classes: int, *, C: float | None = None
    ):
        self.vectorizer = vectorizer
        self.coef = np.asarray(coef, dtype=np.float64)
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.num_classes = int(num_classes)
        self.C = C
        if self.coef.shape != (self.num_classes, len(vectorizer.vocabulary_)):
            raise ValueError(
                f"a char n-gram head needs coef [{self.num_classes}, {len(vectorizer.vocabulary_)}], got {self.coef.shape}"
            )

    @classmethod
    def from_fitted(cls, vectorizer, lr, num_classes: int, *, C: float | None = None) -> CharNgramHead:
        """From a fitted vectoriser and :class:`~sklearn.linear_model.LogisticRegression`."""
        coef, intercept = every_class(lr.coef_, lr.intercept_, [int(c) for c in lr.classes_], num_classes)
        if hasattr(vectorizer, "stop_words_"):  # the pruned n-grams, kept by scikit-learn for inspection only
            vectorizer.stop_words_ = None
        return cls(vectorizer, coef, intercept, num_classes, C=C)

    def predict_proba(self, x: torch.Tensor | None, texts: Sequence[str] | None = None) -> np.ndarray:
        if texts is None:
            raise ValueError("the char n-gram head reads the texts themselves: pass texts= beside the features")
        z = np.asarray(self.vectorizer.transform(list(texts)) @ self.coef.T) + self.intercept
        z = z - z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def tensors(self) -> dict[str, torch.Tensor]:
        vocab = sorted(self.vectorizer.vocabulary_.items(), key=lambda kv: kv[1])
        encoded = [gram.encode("utf-8") for gram, _ in vocab]
        offsets = np.zeros(len(encoded) + 1, dtype=np.int64)
        offsets[1:] = np.cumsum([len(b) for b in encoded])
        return {
            "vocab_bytes": torch.from_numpy(np.frombuffer(b"".join(encoded) or b"\0", dtype=np.uint8).copy()),
            "vocab_offsets": torch.from_numpy(offsets),
            "idf": torch.from_numpy(np.ascontiguousarray(self.vectorizer.idf_, dtype=np.float64)),
            "coef": torch.from_numpy(np.ascontiguousarray(self.coef)),
            "intercept": torch.from_numpy(np.ascontiguousarray(self.intercept)),
        }

    def settings(self) -> dict[str, Any]:
        params = self.vectorizer.get_params()
        vec = {k: list(params[k]) if k == "ngram_range" else params[k] for k in VECTORIZER_SETTINGS}
        return {"num_classes": self.num_classes, "C": self.C, "vectorizer": vec}

    @classmethod
    def from_saved(cls, settings, tensors, bank: LabelledBank, device="cpu") -> CharNgramHead:
        from sklearn.feature_extraction.text import TfidfVectorizer

        raw, offsets = tensors["vocab_bytes"].numpy().tobytes(), tensors["vocab_offsets"].numpy()
        grams = [raw[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(len(offsets) - 1)]
        vec = dict(settings["vectorizer"])
        vec["ngram_range"] = tuple(vec["ngram_range"])
        vectorizer = TfidfVectorizer(**vec, vocabulary={g: i for i, g in enumerate(grams)})
        vectorizer.idf_ = tensors["idf"].numpy()
        return cls(
            vectorizer,
            tensors["coef"].numpy(),
            tensors["intercept"].numpy(),
            int(settings["num_classes"]),
            C=settings.get("C"),
        )
