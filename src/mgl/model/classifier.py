"""A trained classifier as a product: any method of :mod:`mgl.methods`, fit, predict (with explanations), save and load.

>>> clf = Classifier(load_config("amazon"), method="ensemble")
>>> clf.fit(examples, sources=["en", "fr", "de"], target="ja")     # doctest: +SKIP
>>> clf.predict(["とても良い本でした"])                              # doctest: +SKIP
['positive']
>>> clf.save_pretrained("models/ja-books"); Classifier.from_pretrained("models/ja-books")  # doctest: +SKIP

One body, interchangeable heads (as SetFit keeps them): the encoder turns texts into features,
and the method's fitted head (:mod:`mgl.methods.heads`) turns features into class probabilities, then a
temperature fitted on the target's validation rows calibrates them (:mod:`mgl.model.calibration`).
``MGLClassifier`` is the same class under its former name. The directory format is in
:mod:`mgl.model.saving`.

Every prediction comes with the input's nearest labelled training examples (:mod:`mgl.model.neighbours`),
and for MGL (alone or in an ensemble) also the meta graph's own explanation: the share of the
input's row of the normalised adjacency that stays on itself, how the rest is shared among the
source languages, and its strongest support neighbours, averaged over the support sets.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from mgl.config import RunConfig, load_config
from mgl.data.examples import UNLABELLED, Example
from mgl.data.frames import is_table
from mgl.data.preparation import make_experiment_data, small_validation_notice
from mgl.data.registry import load_dataset
from mgl.encoders.featurizer import Featurizer
from mgl.encoders.node_features import trained_state
from mgl.errors import DataError, MGLError
from mgl.methods import fit_and_score, make_method
from mgl.methods.heads import EnsembleHead, Head, LabelledBank, MetaGraphHead
from mgl.methods.heads.base import head_probabilities
from mgl.methods.inputs import head_texts
from mgl.methods.registry import check_run_config
from mgl.model.calibration import apply_temperature, calibration_report
from mgl.model.suggestion import DEFAULT_STRATEGY, DEFAULT_SUGGESTIONS, choose, entropies, margins

if TYPE_CHECKING:
    from mgl.encoders.cache import EmbeddingCache

GRAPH_ACTIVE_BELOW = 0.99
"""An input whose self-weight is at least this received almost nothing through the graph."""


@dataclass
class Prediction:
    """One input's label, class probabilities and explanation.

    ``neighbours``: the nearest labelled training examples (id, language, label, similarity, text);
    ``language_shares`` and ``agreement``: the share of each language among them and the share whose
    label is the predicted one. ``graph`` (MGL): ``self_weight``, the share of the input's row of the
    normalised adjacency that stays on the input itself, averaged over the support sets;
    ``language_shares``, how the rest is shared among the source languages' support nodes; its
    strongest support ``neighbours``. ``graph_active`` is False when ``self_weight >= 0.99``.
    """

    label: str
    probabilities: dict[str, float]
    neighbours: list[dict[str, Any]] = field(default_factory=list)
    language_shares: dict[str, float] = field(default_factory=dict)
    agreement: float = 0.0
    method: str = ""
    graph: dict[str, Any] | None = None

    @property
    def self_weight(self) -> float | None:
        return None if self.graph is None else self.graph["self_weight"]

    @property
    def graph_active(self) -> bool | None:
        return None if self.graph is None else self.graph["graph_active"]

    def to_dict(self) -> dict[str, Any]:
        explanation = {
            "method": self.method,
            "neighbours": self.neighbours,
            "language_shares": self.language_shares,
            "agreement": self.agreement,
        }
        if self.graph is not None:
            explanation["graph"] = self.graph
        return {"label": self.label, "probabilities": self.probabilities, "explanation": explanation}


def graph_heads(head: Head) -> list[MetaGraphHead]:
    """The meta-graph heads inside ``head`` (itself, or an ensemble's MGL members)."""
    if isinstance(head, MetaGraphHead):
        return [head]
    if isinstance(head, EnsembleHead):
        return [h for m in head.members.values() for h in graph_heads(m)]
    return []


class Classifier:
    """Few-shot cross-lingual classifier: an encoder and the fitted head of one method.

    Args:
        config: a :class:`~mgl.config.RunConfig` (default: the ``amazon`` preset).
        method: the method to train (default ``config.method``, and where that is None the ensemble
            on a frozen encoder, see :meth:`mgl.config.RunConfig.resolved_method`): ``mgl`` (and its
            variants), a baseline (``mix``, ``reptile`` ...), ``logreg-pooled`` / ``logreg-target``, or
            ``ensemble``.
        members: the ensemble's members (default ``config.members``).
        device: where to run (default: CUDA when present).

    Attributes:
        embedding_cache: where :meth:`predict` and friends look up and store the inputs'
            embeddings (an :class:`~mgl.encoders.EmbeddingCache`); None (default): inputs are
            embedded and forgotten, nothing is written to disk.
        temperature: the calibration temperature applied to the head's probabilities (1: none).
    """

    def __init__(
        self,
        config: RunConfig | None = None,
        *,
        method: str | None = None,
        members: Sequence[str] | None = None,
        device: str | None = None,
    ):
        # the caller's configuration is never changed: the arguments apply to a copy, checked by fit()
        self.config = copy.deepcopy(config) if config is not None else load_config("amazon")
        if method is not None:
            self.config.method = method
        if members is not None:
            self.config.members = list(members)
        if device is not None:
            self.config.encoder.device = device
        self.featurizer: Featurizer | None = None
        self.head: Head | None = None
        self.bank: LabelledBank | None = None
        self.label_names: list[str] = []
        self.sources: list[str] = []
        self.target: str | None = None
        self.support_texts = True
        """Whether the labelled bank holds its texts (False for a model saved with ``support_texts=False``)."""
        self.encoder_state: dict[str, torch.Tensor] = {}
        self.temperature = 1.0
        self._checked = False
        self.report: dict[str, Any] = {}
        self.embedding_cache: EmbeddingCache | None = None
        self.precision_note: str | None = None

    @property
    def method(self) -> str:
        """The method this classifier trains or holds."""
        return self.config.resolved_method()

    @property
    def encoder(self):
        """The text encoder of :attr:`featurizer` (None before training or loading)."""
        return None if self.featurizer is None else self.featurizer.encoder

    @property
    def pooling_head(self) -> torch.nn.Module | None:
        """A trained pooling head over the frozen encoder's token states, if the model has one."""
        return None if self.featurizer is None else self.featurizer.pooling_head

    # ------------------------------------------------------------------ training

    def fit(
        self,
        examples: Any,
        *,
        sources: Sequence[str] | None = None,
        target: str | None = None,
        progress: bool = True,
        checkpoint=None,
        resume=None,
        columns: str | Mapping[str, str] | None = None,
        labels: str | Mapping[str, str | None] | None = None,
        unlabelled: Sequence[str] | None = None,
    ) -> Classifier:
        """Train on labelled examples with splits (sources: ``train`` (+ ``validation`` for
        meta-train); target: ``train`` (its few labels) and ``validation``). A language without
        validation rows gets ``data.validation_fraction`` of its training rows carved out as
        validation. A target ``test`` split, if present, is scored into ``self.report``.

        ``examples`` may be a list of :class:`~mgl.data.examples.Example` or a table in memory (a
        pandas DataFrame, a ``datasets.Dataset``) read as :func:`mgl.data.registry.load_dataset`
        reads it, with ``columns`` and ``labels`` as ``--columns`` and ``--labels`` (default
        columns ``text``, ``label``, ``language``, ``split``). For scikit-learn's ``fit(X, y)``,
        see :class:`mgl.model.estimator.MGLEstimator`.

        A target without a labelled training row is zero-shot (trained from the sources alone). Its
        unlabelled texts (``unlabelled``, or examples with an empty label and split ``unlabelled``)
        give its mean with ``encoder.centring=language`` (:mod:`mgl.encoders.centring`)."""
        cfg = self.config
        if is_table(examples):
            examples = load_dataset(examples, columns=columns, labels=labels)
        elif columns is not None or labels is not None:
            raise MGLError("columns= and labels= apply to a DataFrame or a Dataset, not to a list of examples")
        else:
            examples = list(examples)  # read once: a generator would be spent by the check below
        if not all(isinstance(ex, Example) for ex in examples):
            raise MGLError(
                "fit takes a list of mgl Examples (mgl.load_dataset) or a DataFrame/Dataset; for fit(X, y) "
                "on texts and labels use mgl.MGLEstimator"
            )
        data = make_experiment_data(
            list(examples),
            list(sources or cfg.data.sources),
            target or cfg.data.target,
            domain=cfg.data.domain,
            seed=cfg.seed,
            max_per_class=cfg.data.max_per_class,
            require_test=False,
            positive_label=cfg.data.positive_label,
            validation_fraction=cfg.data.validation_fraction,
            keep_regions=cfg.data.keep_regions,
            unlabelled=[
                Example(text, "", target or cfg.data.target, split=UNLABELLED, uid=f"unlabelled#{i}")
                for i, text in enumerate(unlabelled or (), 1)
            ],
        )
        return self.fit_data(data, progress=progress, checkpoint=checkpoint, resume=resume)

    def checked_config(self) -> RunConfig:
        """The classifier's configuration, validated with its method and members (ConfigError
        otherwise): the one validation of a run, done once (``mgl run`` asks before it reads the data)."""
        if not self._checked:
            self.config.validate()
            check_run_config(self.config)
            self._checked = True
        return self.config

    def fit_data(self, data, *, progress: bool = True, checkpoint=None, resume=None) -> Classifier:
        """Train on prepared :class:`~mgl.data.preparation.ExperimentData` (its splits and subsample as they are).

        ``checkpoint`` / ``resume`` act on MGL, alone or as an ensemble's member (the other methods
        train in seconds to minutes on frozen features, and train again, seeded, to the same result)."""
        from mgl import distributed

        cfg = self.checked_config()
        method = make_method(self.method, cfg, members=cfg.members)
        method.check_data(data)  # fail before the (slow) embedding if the method cannot train on the data
        self.featurizer = Featurizer(cfg.encoder)
        t0 = time.perf_counter()
        with distributed.main_process_first():  # several processes: the main one fills the cache, the others read it
            features = self.featurizer.features(data, progress=progress)
        embed_seconds = time.perf_counter() - t0
        scored = fit_and_score(
            method,
            data,
            features,
            cfg,
            seed=cfg.seed,
            device=self.encoder.device,
            progress=progress,
            checkpoint=checkpoint,
            resume=resume,
            keep_bank=True,
        )
        fitted = scored.method
        if fitted.head_ is None:  # a method given recorded members: nothing to save or serve
            raise MGLError(f"{fitted.name} was built from recorded probabilities: it has no model to keep")
        self.head, self.bank = fitted.head_.to(self.encoder.device), fitted.bank_
        self.label_names = list(data.table.label_names)
        self.sources, self.target = list(data.sources), data.target
        self.encoder_state, self.featurizer.pooling_head = trained_state(features)
        t = data.table
        rows = {split: t.rows(languages=data.target, split=split) for split in ("validation", "test")}
        # the temperature fitted on the target's validation rows; ECE and reliability before and after
        self.temperature, calibration = calibration_report(
            scored.own, t.labels, rows, where=f"{data.target} validation"
        )
        if data.zero_shot:
            calibration["fitted_on"] = "nothing: zero-shot, the model sees no target label (temperature 1)"
        notice = small_validation_notice(data, self.temperature)
        if notice:  # said once the choices are made, with what they were
            logging.getLogger("mgl").warning("%s", notice)
        if data.zero_shot and len(data.unlabelled_rows) and cfg.encoder.centring == "none":
            logging.getLogger("mgl").warning(
                "zero-shot with %d unlabelled %s text(s) read but not used: --set encoder.centring=language centres "
                "every language on its own mean, the target's from these texts (zero-shot it added 2 to 4 points "
                "on SIB-200 and Webis-CLS-10, docs/results/few-labels.md)",
                len(data.unlabelled_rows),
                data.target,
            )
        self.report = {
            **fitted.report_,
            "method": fitted.name,
            "has_test": bool(len(rows["test"])),
            **scored.metrics[fitted.name],  # mgl.methods.scoring.split_metrics
            "calibration": calibration,
            "embed_seconds": embed_seconds,
        }
        if fitted.fitted_members:
            accuracy = scored.member_accuracy()
            self.report["members"] = {
                name: {
                    "validation_accuracy": accuracy[name]["validation"],
                    "test_accuracy": accuracy[name]["test"],
                    "train_seconds": member.report_.get("train_seconds"),
                    "stages": member.report_.get("stages", []),
                }
                for name, member in fitted.fitted_members.items()
            }
        self.report.setdefault("stages", [])
        for head in graph_heads(self.head):
            same = distributed.check_same_weights(head.model)
            if same is not None:
                self.report["distributed"] = same
        self.report["counts"] = {
            lang: {
                split: int(((t.languages == lang) & (t.splits == split)).sum())
                for split in ("train", "validation", "test")
            }
            for lang in [*data.sources, data.target]
        }
        self.report["validation_carved"] = data.carved or {}
        self.report["zero_shot"] = data.zero_shot
        self.report["target_labels"] = {
            "train": len(t.rows(languages=data.target, split="train")),
            "validation": len(rows["validation"]),
        }
        self.report["unlabelled_texts"] = len(data.unlabelled_rows)
        return self

    # ------------------------------------------------------------------ prediction

    def _require_fitted(self) -> tuple[Featurizer, Head, LabelledBank]:
        """The fitted parts (featurizer, head, labelled bank); :class:`MGLError` before :meth:`fit`."""
        if self.featurizer is None or self.head is None or self.bank is None:
            raise MGLError("this classifier is not trained: call fit() or Classifier.from_pretrained()")
        return self.featurizer, self.head, self.bank

    def embed(
        self,
        texts: Sequence[str],
        pairs: Sequence[str | None] | None = None,
        *,
        progress: bool = False,
        batch_size: int | None = None,
    ) -> torch.Tensor:
        """The inputs' features ``[n, dim]`` (float32, CPU), through :attr:`embedding_cache` if set
        (``batch_size``: see :meth:`mgl.encoders.TextEncoder.embed`). Each input's features depend on
        that input alone, never on the others it is embedded with (:mod:`mgl.encoders.batching`)."""
        featurizer, _, _ = self._require_fitted()
        texts = list(texts)
        if not texts:
            raise DataError("nothing to predict: the input is empty")
        for i, t in enumerate(texts, 1):
            if not isinstance(t, str) or not t.strip():
                raise DataError("empty text", source="input", record=i)
        return featurizer.embed(texts, pairs, cache=self.embedding_cache, batch_size=batch_size, progress=progress)

    def reseed(self, seed: int) -> None:
        """MGL: draw the support sets with another seed (the default is the training seed)."""
        for head in graph_heads(self._require_fitted()[1]):
            head.seed, head._sets = int(seed), None

    def warm_up(self) -> None:
        """Draw MGL's support sets now (they are drawn once, on first use, then fixed)."""
        for head in graph_heads(self._require_fitted()[1]):
            head.support_sets()

    @property
    def device(self) -> torch.device:
        return self.featurizer.device if self.featurizer is not None else torch.device("cpu")

    @property
    def reads_texts(self) -> bool:
        """Whether the model reads the inputs' texts beside their embeddings (a ``logreg-chars`` member)."""
        return self.head is not None and self.head.reads_texts

    def predict_proba_embeddings(
        self,
        queries: torch.Tensor,
        texts: Sequence[str] | None = None,
        pairs: Sequence[str | None] | None = None,
        *,
        calibrated: bool = True,
    ) -> np.ndarray:
        """Class probabilities ``[n, |Y|]`` of already embedded inputs (calibrated unless told not);
        ``texts`` (and ``pairs``), the inputs themselves, are needed where the model :attr:`reads_texts`."""
        _, head, _ = self._require_fitted()
        if head.reads_texts:
            if texts is None:
                raise MGLError("this model reads the texts themselves (char n-grams): pass texts beside the embeddings")
            if len(texts) != len(queries):
                raise MGLError(f"{len(queries)} embeddings but {len(texts)} texts")
        probs = head_probabilities(head, queries, head_texts(texts, pairs) if texts is not None else None)
        probs = apply_temperature(probs, self.temperature) if calibrated else probs
        finite = np.isfinite(probs).all(axis=1)
        if not finite.all():  # never a NaN or an infinity in an answer: every output path comes here
            i = int(np.flatnonzero(~finite)[0])
            shown = f" ({texts[i][:60]!r})" if texts is not None else ""
            raise MGLError(
                f"input {i + 1}{shown}: the model gave a non-finite probability (NaN or infinity); "
                "its weights or this input's embedding are not finite, so no answer is given"
            )
        return probs

    def predict_proba(
        self,
        texts: Sequence[str],
        pairs: Sequence[str | None] | None = None,
        *,
        progress: bool = False,
        calibrated: bool = True,
    ) -> np.ndarray:
        """Class probabilities ``[n, |Y|]`` (columns in ``self.label_names`` order)."""
        return self.predict_proba_embeddings(
            self.embed(texts, pairs, progress=progress), texts, pairs, calibrated=calibrated
        )

    def predict(
        self, texts: Sequence[str], pairs: Sequence[str | None] | None = None, *, progress: bool = False
    ) -> list[str]:
        """The most probable label of each text."""
        probs = self.predict_proba(texts, pairs, progress=progress)
        return [self.label_names[i] for i in probs.argmax(1)]

    def explain(
        self, texts: Sequence[str], pairs: Sequence[str | None] | None = None, *, progress: bool = False
    ) -> list[Prediction]:
        """Labels, probabilities and explanations for each text."""
        return self.explain_embeddings(self.embed(texts, pairs, progress=progress), texts, pairs)

    def explain_embeddings(
        self,
        queries: torch.Tensor,
        texts: Sequence[str] | None = None,
        pairs: Sequence[str | None] | None = None,
    ) -> list[Prediction]:
        """:meth:`explain` for already embedded inputs (``texts``: see :meth:`predict_proba_embeddings`)."""
        from mgl.model.neighbours import explain_by_neighbours, nearest

        _, head, bank = self._require_fitted()
        probs = self.predict_proba_embeddings(queries, texts, pairs)
        idx, sims = nearest(queries, bank)
        languages = list(dict.fromkeys([*self.sources, *([self.target] if self.target else [])]))
        graphs = graph_heads(head)
        graph = graphs[0].explain_graph(queries) if graphs else None
        out = []
        for i, p in enumerate(probs):
            predicted = int(p.argmax())
            why = explain_by_neighbours(idx[i], sims[i], predicted, bank, languages)
            g = None
            if graph is not None:
                _, weights, shares, top = graph
                support = graphs[0].support_rows
                g = {
                    "self_weight": round(float(weights[i]), 6),
                    "graph_active": bool(weights[i] < GRAPH_ACTIVE_BELOW),
                    "language_shares": {lang: round(v, 6) for lang, v in shares[i].items()},
                    "neighbours": [
                        {
                            "id": bank.examples[int(support[j])].uid,
                            "language": bank.examples[int(support[j])].language,
                            "label": bank.examples[int(support[j])].label,
                            "weight": float(f"{w:.4g}"),
                        }
                        for j, w in top[i]
                    ],
                }
            out.append(
                Prediction(
                    self.label_names[predicted],
                    {name: round(float(v), 6) for name, v in zip(self.label_names, p)},
                    why["neighbours"],
                    why["language_shares"],
                    why["agreement"],
                    self.method,
                    g,
                )
            )
        return out

    def suggest(
        self,
        texts: Sequence[str],
        n: int = DEFAULT_SUGGESTIONS,
        *,
        pairs: Sequence[str | None] | None = None,
        strategy: str = DEFAULT_STRATEGY,
        seed: int = 0,
        progress: bool = False,
    ) -> list[dict]:
        """The ``n`` unlabelled ``texts`` whose labels would help most, best first
        (:func:`mgl.model.suggestion.choose`; ``diverse``: the most uncertain, spread over the
        embedding space). Each suggestion says why: its position in ``texts``, the predicted label and
        probabilities, the margin between the two most probable classes, the entropy, and the
        nearest labelled example (id, language, label, cosine similarity)."""
        from mgl.model.neighbours import nearest

        texts = list(texts)
        queries = self.embed(texts, pairs, progress=progress)
        probs = self.predict_proba_embeddings(queries, texts, pairs)
        picked = choose(probs, queries.numpy(), n, strategy=strategy, seed=seed)
        _, _, bank = self._require_fitted()
        idx, sims = nearest(queries[picked], bank, k=1)
        margin, entropy = margins(probs), entropies(probs)
        out = []
        for rank, (i, j, sim) in enumerate(zip(picked, idx[:, 0], sims[:, 0]), 1):
            neighbour = bank.examples[int(j)]
            out.append(
                {
                    "rank": rank,
                    "position": i,
                    "text": texts[i],
                    "predicted": self.label_names[int(probs[i].argmax())],
                    "probabilities": {name: round(float(v), 6) for name, v in zip(self.label_names, probs[i])},
                    "margin": round(float(margin[i]), 6),
                    "entropy": round(float(entropy[i]), 6),
                    "nearest_labelled": {
                        "id": neighbour.uid,
                        "language": neighbour.language,
                        "label": neighbour.label,
                        "similarity": round(float(sim), 4),
                    },
                    "strategy": strategy,
                }
            )
        return out

    # ------------------------------------------------------------------ persistence

    def save_pretrained(
        self, directory: str | Path, *, overwrite: bool = True, support_texts: bool = True, discard_edits: bool = False
    ) -> Path:
        """Write the self-contained model directory (atomically), with a model card; see
        :func:`mgl.model.saving.save_model` (a folder holding anything but an mgl model is refused)."""
        from mgl.model.saving import save_model

        self._require_fitted()
        return save_model(
            self, directory, overwrite=overwrite, support_texts=support_texts, discard_edits=discard_edits
        )

    save = save_pretrained
    """Alias of :meth:`save_pretrained`."""

    @classmethod
    def from_pretrained(
        cls, directory: str | Path, *, device: str | None = None, precision: str | None = None
    ) -> Classifier:
        """Load a saved model of any method (and the former MGL-only format); see :func:`mgl.model.saving.load_model`."""
        from mgl.model.saving import load_model

        return load_model(cls, directory, device=device, precision=precision)

    load = from_pretrained


MGLClassifier = Classifier
"""The former name of :class:`Classifier` (which then held MGL only)."""
