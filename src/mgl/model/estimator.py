"""mgl as a scikit-learn estimator: :class:`MGLEstimator` fits and predicts on texts, so it works
inside ``Pipeline``, ``GridSearchCV``, ``cross_val_score`` and ``clone``.

::

    from sklearn.model_selection import GridSearchCV
    from mgl import MGLEstimator

    est = MGLEstimator(target="yo", method="logreg-pooled")
    est.fit(texts, labels, languages=langs)          # lists, arrays or pandas columns
    est.predict(["Ìjọba ti kéde ètò tuntun."])
    GridSearchCV(est, {"method": ["logreg-pooled", "ensemble"]}, cv=3).fit(texts, labels, languages=langs)

It is a thin face over :class:`~mgl.model.classifier.Classifier`: its parameters are plain values
(scikit-learn's rule: ``__init__`` stores them, nothing else), ``fit`` builds the configuration
from them, reads the rows through the one reader (:mod:`mgl.data.frames`: the same checks as a
file), and trains a :class:`Classifier`, kept as ``classifier_`` (save it with
``est.classifier_.save_pretrained(DIR)``). ``X`` may also be a pandas DataFrame or a
``datasets.Dataset`` holding texts, labels and languages in columns (``columns`` maps them as
``--columns`` does). Every language that is not the target is a source; the target's rows are
its few labels. A language without validation rows gets ``data.validation_fraction`` of its rows
carved out as validation, as everywhere in mgl.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from mgl.config import load_config
from mgl.data.frames import is_table, records_to_frame
from mgl.data.languages import canonical_language
from mgl.data.registry import load_dataset
from mgl.errors import ConfigError
from mgl.model.classifier import Classifier

__all__ = ["MGLEstimator"]


def _texts(X: Any, what: str = "X") -> list[str]:
    """A 1-D array-like of texts as a list (a list, a tuple, a NumPy array, a pandas Series)."""
    if isinstance(X, str) or is_table(X):
        raise ConfigError(f"{what} must be a list or 1-D array of texts")
    values = list(X.tolist() if hasattr(X, "tolist") else X)
    if np.ndim(np.asarray(values, dtype=object)) != 1:
        raise ConfigError(f"{what} must be a 1-D list or array of texts, got shape {np.shape(values)}")
    return values


class MGLEstimator(ClassifierMixin, BaseEstimator):
    """A scikit-learn classifier over raw texts in several languages (see the module docstring).

    Args:
        target: the language to classify (any spelling); required at ``fit``.
        sources: the source languages (default: every other language in the data).
        method: the method (default: the configuration's, the ensemble); ``logreg-pooled`` trains in seconds.
        members: an ensemble's members (default: the configuration's).
        preset: a named configuration (``amazon``, the paper's Table 4 settings).
        encoder: the encoder (a name or a folder; default: the embedded multilingual-e5-small).
        settings: ``key=value`` overrides, as ``--set`` takes them (``("mgl.max_rounds=3",)``).
        seed: the seed.
        device: ``cpu``, ``cuda``, ``cuda:N`` (default: CUDA when present).
        progress: show progress bars while fitting.

    After ``fit``, ``classifier_`` is the trained :class:`~mgl.model.classifier.Classifier` and
    ``classes_`` the class labels, in the order of ``predict_proba``'s columns.
    """

    def __init__(
        self,
        target: str | None = None,
        sources: Sequence[str] | None = None,
        method: str | None = None,
        members: Sequence[str] | None = None,
        preset: str | None = "amazon",
        encoder: str | None = None,
        settings: Sequence[str] = (),
        seed: int = 0,
        device: str | None = None,
        progress: bool = False,
    ):
        self.target = target
        self.sources = sources
        self.method = method
        self.members = members
        self.preset = preset
        self.encoder = encoder
        self.settings = settings
        self.seed = seed
        self.device = device
        self.progress = progress

    # ------------------------------------------------------------------ fitting

    def fit(
        self,
        X: Any,
        y: Any = None,
        *,
        languages: Any = None,
        text_pairs: Any = None,
        splits: Any = None,
        columns: str | Mapping[str, str] | None = None,
        labels: str | Mapping[str, str | None] | None = None,
    ) -> MGLEstimator:
        """Train on texts ``X`` with labels ``y`` and ``languages`` (one per text, or one code for all).

        ``X`` may instead be a DataFrame or a ``datasets.Dataset`` whose columns hold the texts,
        labels and languages (``columns`` and ``labels`` as ``--columns`` and ``--labels``; default
        columns ``text``, ``label``, ``language``, ``split``); ``y`` and ``languages`` are then
        not given. ``splits`` (optional, one per text): ``train``, ``validation`` or ``test``.
        """
        if self.target is None:
            raise ConfigError("MGLEstimator needs target= (the language to classify)")
        examples = self._examples(X, y, languages, text_pairs, splits, columns, labels)
        cfg = load_config(self.preset, None, [f"seed={self.seed}", *self.settings])
        if self.encoder is not None:
            cfg.encoder.model = self.encoder
        target = self.target
        sources = list(self.sources) if self.sources is not None else None
        if sources is None:
            tag = canonical_language(target, what="target language")
            sources = sorted({ex.language for ex in examples} - {tag})
            if not sources:
                raise ConfigError(f"the data holds no language besides the target {target!r}: give source rows")
        clf = Classifier(cfg, method=self.method, members=self.members, device=self.device)
        clf.fit(examples, sources=sources, target=target, progress=self.progress)
        self.classifier_ = clf
        self.classes_ = np.array(clf.label_names, dtype=object)
        return self

    def _examples(self, X, y, languages, text_pairs, splits, columns, labels) -> list:
        if is_table(X):
            if y is not None or languages is not None:
                raise ConfigError("a DataFrame or Dataset holds its labels and languages in columns: give columns=")
            return load_dataset(X, columns=columns, labels=labels)
        texts = _texts(X)
        if y is None:
            raise ConfigError("fit(X, y, languages=...) needs the labels y")
        ys = _texts(y, "y")
        if languages is None:
            raise ConfigError("fit(X, y, languages=...) needs each text's language (or one code for all)")
        langs = [languages] * len(texts) if isinstance(languages, str) else _texts(languages, "languages")
        lengths = {"X": len(texts), "y": len(ys), "languages": len(langs)}
        rows: dict[str, list] = {"text": texts, "label": [str(v) for v in ys], "language": langs}
        if text_pairs is not None:
            rows["text_pair"] = _texts(text_pairs, "text_pairs")
            lengths["text_pairs"] = len(rows["text_pair"])
        if splits is not None:
            rows["split"] = _texts(splits, "splits")
            lengths["splits"] = len(rows["split"])
        if len(set(lengths.values())) != 1:
            raise ConfigError(f"X, y and the per-text arguments differ in length: {lengths}")
        import pyarrow as pa

        mapping = {role: role for role in rows}
        return load_dataset(pa.table(rows), columns=mapping, labels=labels)

    # ------------------------------------------------------------------ predicting

    def predict_proba(self, X: Any, text_pairs: Any = None) -> np.ndarray:
        """Calibrated class probabilities ``[n, n_classes]``, columns in :attr:`classes_` order."""
        check_is_fitted(self, "classifier_")
        pairs = _texts(text_pairs, "text_pairs") if text_pairs is not None else None
        return self.classifier_.predict_proba(_texts(X), pairs)

    def predict(self, X: Any, text_pairs: Any = None) -> np.ndarray:
        """The most probable class of each text."""
        probs = self.predict_proba(X, text_pairs)
        return self.classes_[probs.argmax(axis=1)]

    def predict_frame(self, X: Any, text_pairs: Any = None):
        """A pandas DataFrame: each text, its label and one probability column per class."""
        probs = self.predict_proba(X, text_pairs)
        texts = _texts(X)
        rows = [
            {
                "text": t,
                "label": self.classes_[int(p.argmax())],
                **{f"p_{c}": float(v) for c, v in zip(self.classes_, p)},
            }
            for t, p in zip(texts, probs)
        ]
        return records_to_frame(rows, ["text", "label", *(f"p_{c}" for c in self.classes_)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True  # X is text
        tags.input_tags.two_d_array = False
        tags.non_deterministic = False
        return tags
