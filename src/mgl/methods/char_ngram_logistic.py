"""``logreg-chars``: a logistic regression on character n-gram TF-IDF features of the texts themselves.

The frozen encoder is the limit where it hardly knows a target's script or words (on SIB-200,
Tibetan and Acehnese in Arabic script stay near 30% for every method on its vectors). This method
reads the texts instead: ``char_wb`` n-grams (:func:`mgl.methods.heads.char_ngram.make_vectorizer`,
settings in :class:`mgl.config.CharNgramConfig`) of every language's labelled training rows, an L2
logistic regression on them, its C chosen on the target's validation rows that MGL validates on
(:func:`mgl.methods.validation_rows.validation_rows`; ties: the smaller C). Alone it is weak
(the sources share no script with most targets); as an ensemble member it adds what the encoder
misses (docs/results/sib200.md). The fitted head is a :class:`~mgl.methods.heads.char_ngram.CharNgramHead`.
"""

from __future__ import annotations

import time

import numpy as np

from mgl.errors import DataError
from mgl.methods.base import FitResult, Method, Training
from mgl.methods.inputs import row_texts
from mgl.methods.selection import require_finite, require_rows
from mgl.methods.validation_rows import validation_rows


class CharNgramLogistic(Method):
    """``logreg-chars``."""

    reads_features = False

    def _fit(self, data, features, run: Training) -> FitResult:
        from sklearn.linear_model import LogisticRegression

        from mgl.methods.heads.char_ngram import CharNgramHead, make_vectorizer

        cfg = self.config.chars
        t = data.table
        train = t.rows(languages=[*data.sources, data.target], split="train")
        val = validation_rows(t, data.sources, data.target, self.config.mgl, run.seed).target
        require_rows(self.name, [("the training rows", len(train)), ("the target's validation rows", len(val))])
        t0 = time.perf_counter()
        vectorizer = make_vectorizer(cfg.ngram_min, cfg.ngram_max, cfg.min_df, cfg.max_features)
        x_train = vectorizer.fit_transform(row_texts(data, train))
        x_val = vectorizer.transform(row_texts(data, val))
        y_train, y_val = t.labels[train], t.labels[val]
        scores: dict[float, float] = {}
        best = None
        if len(np.unique(y_train)) < 2:
            raise DataError(f"{self.name}: the training rows show one class only; a regression needs two")
        for C in sorted(float(c) for c in cfg.cs):
            lr = LogisticRegression(C=C, max_iter=cfg.max_iter, random_state=run.seed).fit(x_train, y_train)
            acc = float((lr.predict(x_val) == y_val).mean())
            require_finite(f"{self.name} (C={C:g})", "the target's validation rows", accuracy=acc)
            scores[C] = acc
            if best is None or acc > best[0]:
                best = (acc, C, lr)
        assert best is not None
        val_accuracy, C, lr = best
        head = CharNgramHead.from_fitted(vectorizer, lr, t.num_classes, C=C)
        seconds = time.perf_counter() - t0
        report = {
            "n_train": len(train),
            "n_features": len(vectorizer.vocabulary_),
            "C": C,
            "val_accuracy": val_accuracy,
            "val_scores": {str(k): v for k, v in scores.items()},
        }
        return FitResult(head, seconds, report)
