"""A trained MGL model as a product: fit, predict (with explanations), save and load.

>>> clf = MGLClassifier(load_config("amazon"))
>>> clf.fit(examples, sources=["en", "fr", "de"], target="ja")     # doctest: +SKIP
>>> clf.predict(["とても良い本でした"])                              # doctest: +SKIP
['positive']
>>> clf.save("models/ja-books"); MGLClassifier.load("models/ja-books")  # doctest: +SKIP

A saved model is a self-contained directory:

* ``mgl_model.json`` — format version, the run configuration, the encoder reference (hub
  name, local path, or the embedded default), the label vocabulary, sources and target;
* ``model.safetensors`` — the meta graph and GCN weights;
* ``encoder.safetensors`` — the encoder weights that were trained (only when the encoder was
  trained; a frozen encoder is re-created from its reference);
* ``support.jsonl`` — the support bank: the labelled source-language examples that supports
  are drawn from at prediction time (text, pair, label, language, record id);
* ``pooling_head.safetensors`` — the trained pooling head (``encoder.pooling_head``), whole:
  it loads strictly;
* ``support_embeddings.safetensors`` — their embeddings, computed with the final encoder (and head);
* ``checksums.json`` — SHA-256 of every file above, checked on load.

The directory is written into a temporary sibling and renamed into place, so a crash never
leaves a half-written model that looks complete.

Predictions come with an explanation from the meta graph: for each input, the share of the
first-order graph weight (the row of the normalised adjacency A~ restricted to support nodes)
received from each source language, and its strongest support neighbours with their record
ids, averaged over the ``eval_times`` sampled support sets.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from mgl.config import RunConfig, load_config
from mgl.data.examples import Example
from mgl.episodes import EpisodeSampler, Pool, meta_test_pair
from mgl.errors import DataError, MGLError
from mgl.pipeline import build_features, check_episodes, make_encoder, make_experiment_data, positive_index, run_mgl
from mgl.io import sha256_file, write_json_atomic
from mgl.training import build_model

FORMAT = "mgl-model"
FORMAT_VERSION = 1
FILES = ("mgl_model.json", "model.safetensors", "support.jsonl", "support_embeddings.safetensors")


@dataclass
class Prediction:
    """One input's label, class probabilities and the meta graph's explanation.

    ``self_weight``: the share of the input's row of the normalised adjacency that stays on the
    input itself (its self-loop), averaged over the support sets; ``language_shares``: how the
    rest is shared among the source languages' support nodes (they add up to 1 where anything
    reached the input). ``graph_active`` is False when ``self_weight >= 0.99``: the graph passed
    on almost nothing, and the prediction is the GCN's read-out of the input alone.
    """

    label: str
    probabilities: dict[str, float]
    language_shares: dict[str, float]
    neighbours: list[dict[str, Any]]
    self_weight: float = 0.0

    @property
    def graph_active(self) -> bool:
        return self.self_weight < GRAPH_ACTIVE_BELOW

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "probabilities": self.probabilities,
                "explanation": {"self_weight": self.self_weight, "graph_active": self.graph_active,
                                "language_shares": self.language_shares, "neighbours": self.neighbours}}


GRAPH_ACTIVE_BELOW = 0.99
"""An input whose self-weight is at least this received almost nothing through the graph."""


class MGLClassifier:
    """Few-shot cross-lingual classifier trained by Meta Graph Learning.

    Args:
        config: a :class:`~mgl.config.RunConfig` (default: the ``amazon`` preset).
        device: where to run (default: CUDA when present).

    Attributes:
        embedding_cache: where :meth:`predict` and friends look up and store the inputs'
            embeddings (an :class:`~mgl.encoders.EmbeddingCache`); None (default): inputs are
            embedded and forgotten, nothing is written to disk.
    """

    def __init__(self, config: RunConfig | None = None, *, device: str | None = None):
        self.config = config if config is not None else load_config("amazon")
        if device is not None:
            self.config.encoder.device = device
        self.config.validate()
        self.encoder = None
        self.model = None
        self.label_names: list[str] = []
        self.sources: list[str] = []
        self.target: str | None = None
        self.bank: list[Example] = []
        self.support_texts = True
        """Whether the support bank holds its texts (False for a model saved with ``support_texts=False``)."""
        self.bank_embeddings: torch.Tensor | None = None
        self.encoder_state: dict[str, torch.Tensor] = {}
        self.pooling_head: torch.nn.Module | None = None
        self.report: dict[str, Any] = {}
        self.embedding_cache = None
        self.precision_note: str | None = None
        self._supports: dict[int, list[tuple[np.ndarray, np.ndarray, list[str]]]] = {}

    # ------------------------------------------------------------------ training

    def fit(self, examples: Sequence[Example], *, sources: Sequence[str] | None = None, target: str | None = None,
            progress: bool = True, checkpoint=None, resume=None) -> "MGLClassifier":
        """Train on labelled examples with splits (sources: ``train`` (+ ``validation`` for
        meta-train); target: ``train`` (its few labels) and ``validation``). A language without
        validation rows gets ``data.validation_fraction`` of its training rows carved out as
        validation. A target ``test`` split, if present, is scored into ``self.report``."""
        cfg = self.config
        data = make_experiment_data(list(examples), list(sources or cfg.data.sources), target or cfg.data.target,
                                    domain=cfg.data.domain, seed=cfg.seed, max_per_class=cfg.data.max_per_class,
                                    require_test=False, positive_label=cfg.data.positive_label,
                                    validation_fraction=cfg.data.validation_fraction)
        return self.fit_data(data, progress=progress, checkpoint=checkpoint, resume=resume)

    def fit_data(self, data, *, progress: bool = True, checkpoint=None, resume=None) -> "MGLClassifier":
        """Train on prepared :class:`~mgl.pipeline.ExperimentData` (its splits and subsample as they are)."""
        cfg = self.config
        check_episodes(data, cfg.mgl)  # fail before the (slow) embedding if an episode cannot be drawn
        self.encoder = make_encoder(cfg.encoder)
        t0 = time.perf_counter()
        from mgl import distributed

        with distributed.main_process_first():  # several processes: the main one fills the cache, the others read it
            features, _ = build_features(data, cfg.encoder, encoder=self.encoder, progress=progress)
        embed_seconds = time.perf_counter() - t0
        metrics, model, fit = run_mgl(data, features, cfg.mgl, seed=cfg.seed, device=self.encoder.device,
                                      progress=progress, checkpoint=checkpoint, resume=resume)
        self.model = model.eval()
        self.label_names = list(data.table.label_names)
        self.sources, self.target = list(data.sources), data.target
        bank_rows = data.table.rows(languages=data.sources, split="train")
        self.bank = [data.examples[i] for i in bank_rows]
        with torch.no_grad():
            features.eval()
            self.bank_embeddings = torch.cat([features(bank_rows[i:i + 256]) for i in range(0, len(bank_rows), 256)]).cpu()
        from mgl.features import PooledStateFeatures

        if isinstance(features, PooledStateFeatures):  # the head is saved on its own; the encoder stayed frozen
            self.pooling_head, self.encoder_state = features.head.eval(), {}
        else:
            self.pooling_head, self.encoder_state = None, {k: v.cpu() for k, v in features.state_dict().items()}
        has_test = bool(metrics["n_test"])
        self.report = {**metrics, "embed_seconds": embed_seconds, "has_test": has_test}
        same = distributed.check_same_weights(model)
        if same is not None:
            self.report["distributed"] = same
        t = data.table
        self.report["counts"] = {lang: {split: int(((t.languages == lang) & (t.splits == split)).sum())
                                        for split in ("train", "validation", "test")}
                                 for lang in [*data.sources, data.target]}
        self.report["validation_carved"] = data.carved or {}
        self._supports = {}
        return self

    # ------------------------------------------------------------------ prediction

    def _require_fitted(self) -> None:
        if self.model is None or self.bank_embeddings is None:
            raise MGLError("this classifier is not trained: call fit() or MGLClassifier.from_pretrained()")

    def embed(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None, *,
              progress: bool = False, batch_size: int | None = None) -> torch.Tensor:
        """The inputs' node features ``[n, dim]`` (float32, CPU), through :attr:`embedding_cache` if set
        (``batch_size``: see :meth:`mgl.encoders.TextEncoder.embed`). Each input's features depend on
        that input alone, never on the others it is embedded with (:mod:`mgl.encoders.batching`)."""
        self._require_fitted()
        texts = list(texts)
        if not texts:
            raise DataError("nothing to predict: the input is empty")
        for i, t in enumerate(texts, 1):
            if not isinstance(t, str) or not t.strip():
                raise DataError("empty text", source="input", record=i)
        if self.pooling_head is not None:  # frozen encoder, trained pooling: not the encoder's own vectors, no cache
            emb = self.encoder.embed(texts, pairs, batch_size=batch_size or self.config.encoder.batch_size,
                                     progress=progress, pooler=self.pooling_head)
            return torch.as_tensor(emb)
        if self.config.encoder.train == "none":
            emb = self.encoder.embed(texts, pairs, batch_size=batch_size or self.config.encoder.batch_size,
                                     cache=self.embedding_cache, progress=progress)
            return torch.as_tensor(emb)
        # a trained encoder: its own weights, so no cache; the same bucketed batches as the frozen path
        return torch.as_tensor(self.encoder.embed(texts, pairs, batch_size=batch_size or self.config.encoder.batch_size,
                                                  progress=progress))

    def support_sets(self, seed: int | None = None) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
        """The ``eval_times`` support sets every input is scored against: ``(bank rows, class ids,
        languages)`` each, drawn once per seed (the same for every input and every call)."""
        seed = self.config.seed if seed is None else seed
        if seed not in self._supports:
            pool = Pool(range(len(self.bank)), [ex.language for ex in self.bank],
                        [self.label_names.index(ex.label) for ex in self.bank], name="support bank")
            cfg = self.config.mgl
            sampler = EpisodeSampler(meta_test_pair(self.sources, self.target), pool, None,
                                     num_classes=len(self.label_names), n_support=cfg.n_support,
                                     n_query=cfg.n_query, label_names=self.label_names)
            rng = np.random.default_rng([seed, 4242])
            self._supports[seed] = [sampler.sample_support(rng) for _ in range(cfg.eval_times)]
        return self._supports[seed]

    @torch.no_grad()
    def score_embeddings(self, queries: torch.Tensor, *, seed: int | None = None, explain: bool = False,
                         batch_size: int = 256) -> tuple[np.ndarray, np.ndarray, list[dict[str, float]], list[list]]:
        """Probabilities (and explanations) of already embedded inputs ``[n, dim]``.

        Each input is the single query node of its own graph, beside each support set of
        :meth:`support_sets`: so its prediction does not depend on which other inputs are
        scored with it (their graphs are batched, ``[B, |S| + 1, dim]``, not merged).
        Returns ``(probabilities [n, |Y|], self-weights [n], language shares, neighbours)``.
        """
        self._require_fitted()
        device = self.device
        queries = queries.to(device=device, dtype=torch.float32)
        n = len(queries)
        probs = torch.zeros(n, len(self.label_names), dtype=torch.float64)
        self_weight = np.zeros(n)
        shares: list[dict[str, float]] = [dict.fromkeys(dict.fromkeys(self.sources), 0.0) for _ in range(n)]
        neighbours: list[dict[int, float]] = [dict() for _ in range(n)]
        supports = self.support_sets(seed)
        self.model.eval()
        for rows, labels, langs in supports:
            h_s = self.bank_embeddings[torch.as_tensor(rows)].to(device)
            y_s = torch.as_tensor(labels, device=device)
            n_s = len(rows)
            langs_arr = np.asarray(langs)
            for start in range(0, n, batch_size):
                q = queries[start:start + batch_size]
                h = torch.cat([h_s.unsqueeze(0).expand(len(q), -1, -1), q.unsqueeze(1)], dim=1)
                adj = self.model.graph(h)
                log_probs = self.model(h, y_s, adj=adj)
                probs[start:start + len(q)] += log_probs[:, -1].double().exp().cpu() / len(supports)
                if not explain:
                    continue
                row = adj[:, -1, :].double().cpu().numpy()  # each query's row: support columns, then itself
                total = row.sum(axis=1)
                for b in range(len(q)):
                    k = start + b
                    self_weight[k] += row[b, -1] / total[b] / len(supports) if total[b] > 0 else 1.0 / len(supports)
                    to_support = row[b, :n_s]
                    rest = to_support.sum()
                    for lang in shares[k]:
                        share = float(to_support[langs_arr == lang].sum() / rest) if rest > 0 else 0.0
                        shares[k][lang] += share / len(supports)
                    for j in np.argsort(-to_support)[:5]:
                        if to_support[j] > 0:
                            node = int(rows[j])
                            neighbours[k][node] = max(neighbours[k].get(node, 0.0), float(to_support[j]))
        top = []
        for nb in neighbours:
            best = sorted(nb.items(), key=lambda kv: -kv[1])[:5]
            top.append([{"id": self.bank[i].uid, "language": self.bank[i].language, "label": self.bank[i].label,
                         "weight": float(f"{w:.4g}")} for i, w in best])
        return probs.numpy(), self_weight, shares, top

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None, *,
                      seed: int | None = None, progress: bool = False) -> np.ndarray:
        """Class probabilities ``[n, |Y|]`` (columns in ``self.label_names`` order)."""
        return self.score_embeddings(self.embed(texts, pairs, progress=progress), seed=seed)[0]

    def predict(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None, *,
                seed: int | None = None, progress: bool = False) -> list[str]:
        """The most probable label of each text."""
        probs = self.predict_proba(texts, pairs, seed=seed, progress=progress)
        return [self.label_names[i] for i in probs.argmax(1)]

    def explain(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None, *,
                seed: int | None = None, progress: bool = False) -> list[Prediction]:
        """Labels, probabilities and the meta graph's explanation for each text."""
        return self.explain_embeddings(self.embed(texts, pairs, progress=progress), seed=seed)

    def explain_embeddings(self, queries: torch.Tensor, *, seed: int | None = None) -> list[Prediction]:
        """:meth:`explain` for already embedded inputs."""
        probs, self_weight, shares, top = self.score_embeddings(queries, seed=seed, explain=True)
        return [
            Prediction(self.label_names[int(p.argmax())],
                       {name: round(float(v), 6) for name, v in zip(self.label_names, p)},
                       {lang: round(v, 6) for lang, v in s.items()}, t, round(float(w), 6))
            for p, w, s, t in zip(probs, self_weight, shares, top)
        ]

    # ------------------------------------------------------------------ persistence

    def save_pretrained(self, directory: str | Path, *, overwrite: bool = True, support_texts: bool = True) -> Path:
        """Write the self-contained model directory (atomically: temp sibling, then rename), with
        a model card ``README.md`` (languages, labels, data counts, settings, metrics, encoder, date).

        The directory must be missing or empty, or (with ``overwrite``, the default here as in
        Hugging Face's ``save_pretrained``; ``mgl train --save`` asks for ``--overwrite``) an mgl
        model holding only model files, which is replaced as a whole. A folder holding anything
        else is refused before anything is written: mgl never deletes what it did not write
        (:func:`mgl.outputs.check_model_destination`).

        ``support_texts=False`` keeps the support examples' ids, languages and labels but not their
        texts (predictions do not need them; explanations name neighbours by id), and the model
        card says so."""
        from safetensors.torch import save_file

        from mgl.outputs import check_model_destination

        self._require_fitted()
        directory = check_model_destination(directory, overwrite=overwrite)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            save_file({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
                      str(tmp / "model.safetensors"))
            save_file({"embeddings": self.bank_embeddings.contiguous()}, str(tmp / "support_embeddings.safetensors"))
            files = list(FILES)
            if self.encoder_state:
                save_file({k: v.contiguous() for k, v in self.encoder_state.items()}, str(tmp / "encoder.safetensors"))
                files.append("encoder.safetensors")
            if self.pooling_head is not None:
                save_file({k: v.detach().cpu().contiguous() for k, v in self.pooling_head.state_dict().items()},
                          str(tmp / "pooling_head.safetensors"))
                files.append("pooling_head.safetensors")
            with open(tmp / "support.jsonl", "w", encoding="utf-8") as fh:
                for ex in self.bank:
                    text, pair = ((ex.text, ex.text_pair) if support_texts  # a pair model stays one without texts
                                  else (None, None if ex.text_pair is None else ""))
                    fh.write(json.dumps({"id": ex.uid, "text": text, "text_pair": pair, "label": ex.label,
                                         "language": ex.language, "domain": ex.domain}, ensure_ascii=False) + "\n")
            meta = {
                "format": FORMAT, "version": FORMAT_VERSION, "config": self.config.to_dict(),
                "encoder": {"spec": self.encoder.spec.to_dict(), "identity": self.encoder.identity,
                            "dim": self.encoder.dim, "train": self.config.encoder.train},
                "labels": self.label_names, "sources": self.sources, "target": self.target,
                "positive_label": (self.label_names[positive_index(self.label_names, self.config.data.positive_label)]
                                   if len(self.label_names) == 2 else None),
                "report": self.report, "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "support_texts": bool(support_texts and getattr(self, "support_texts", True)),
            }
            write_json_atomic(tmp / "mgl_model.json", meta)
            from mgl.model_card import render_model_card

            (tmp / "README.md").write_text(render_model_card(meta), encoding="utf-8")
            files.append("README.md")
            write_json_atomic(tmp / "checksums.json", {f: sha256_file(tmp / f) for f in files})
            for f in tmp.iterdir():
                os.chmod(f, 0o644)
            os.chmod(tmp, 0o755)
            if directory.exists():
                check_model_destination(directory, overwrite=overwrite)  # unchanged since the first check
                old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
                os.replace(directory, old / "model")
                os.replace(tmp, directory)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, directory)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return directory

    save = save_pretrained
    """Alias of :meth:`save_pretrained`."""

    @classmethod
    def from_pretrained(cls, directory: str | Path, *, device: str | None = None,
                        precision: str | None = None) -> "MGLClassifier":
        """Load a saved model; every file is checked against its checksum first, and the encoder
        built here must have the identity the model was trained with (else a clear error).

        ``precision`` (``fp32``, ``bf16``, ``auto``) embeds new inputs at another precision than the
        model was trained with (e.g. bf16 to serve faster); the identity check then ignores the
        precision only, and :attr:`precision_note` says what differs."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        directory = Path(directory)
        if not directory.is_dir():
            raise MGLError("no such model directory", source=directory)
        sums_path = directory / "checksums.json"
        try:
            sums = json.loads(sums_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise MGLError("missing checksums.json: not a complete mgl model directory", source=directory) from None
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MGLError("checksums.json is corrupted", source=sums_path) from None
        for name in FILES:
            if name not in sums:
                raise MGLError(f"checksums.json does not list {name}", source=sums_path)
        for name, digest in sums.items():
            path = directory / name
            if not path.is_file():
                raise MGLError("missing model file", source=path)
            if sha256_file(path) != digest:
                raise MGLError("model file is corrupted (checksum mismatch)", source=path)
        try:
            meta = json.loads((directory / "mgl_model.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise MGLError("mgl_model.json is not valid JSON", source=directory / "mgl_model.json") from None
        if meta.get("format") != FORMAT or meta.get("version") != FORMAT_VERSION:
            raise MGLError(f"unsupported model format {meta.get('format')!r} v{meta.get('version')!r}",
                           source=directory / "mgl_model.json")
        config = RunConfig.from_dict(meta["config"], source=str(directory / "mgl_model.json"))
        # an unset prefix meant the model's default *when it was saved*: take what ran then (a model
        # saved with e5's former default prefix keeps embedding new inputs with it)
        saved_prefix = meta.get("encoder", {}).get("spec", {}).get("prefix")
        if config.encoder.prefix is None and isinstance(saved_prefix, str):
            config.encoder.prefix = saved_prefix
        # where it runs now, not where it was trained: a model trained on a GPU predicts on a CPU
        config.encoder.device = device
        trained_precision = config.encoder.precision
        if precision is not None:
            config.encoder.precision = precision
        clf = cls(config)
        clf.label_names = list(meta["labels"])
        clf.sources = list(meta["sources"])
        clf.target = meta["target"]
        clf.report = meta.get("report", {})
        clf.encoder = make_encoder(config.encoder)
        try:
            if "encoder.safetensors" in sums:
                clf.encoder_state = load_file(str(directory / "encoder.safetensors"))
                clf.encoder.load_state_dict(clf.encoder_state, strict=False)
            if config.encoder.pooling_head != "none":
                from mgl.encoders.pooling_head import make_pooling_head

                if "pooling_head.safetensors" not in sums:
                    raise MGLError(f"the model uses encoder.pooling_head={config.encoder.pooling_head} but has no "
                                   "pooling_head.safetensors", source=directory)
                clf.pooling_head = make_pooling_head(config.encoder.pooling_head, clf.encoder.dim,
                                                     config.encoder.pooling_queries)
                clf.pooling_head.load_state_dict(load_file(str(directory / "pooling_head.safetensors")), strict=True)
                clf.pooling_head = clf.pooling_head.to(clf.encoder.device).eval()
            clf.model = build_model(config.mgl, int(meta["encoder"]["dim"]), len(clf.label_names))
            clf.model.load_state_dict(load_file(str(directory / "model.safetensors")))
            clf.bank_embeddings = load_file(str(directory / "support_embeddings.safetensors"))["embeddings"]
        except (SafetensorError, RuntimeError, KeyError) as exc:
            raise MGLError(f"cannot load the model weights ({str(exc).splitlines()[0]})", source=directory) from None
        saved_identity = meta.get("encoder", {}).get("identity")
        here = clf.encoder.identity
        if precision is not None and clf.encoder.precision != trained_precision:
            saved_identity, here = _without_precision(saved_identity), _without_precision(here)
            clf.precision_note = (f"inputs are embedded in {clf.encoder.precision}, the support examples were "
                                  f"embedded in {trained_precision} at training")
        if saved_identity is not None and saved_identity != here:
            raise MGLError(
                f"the encoder here is not the one this model was trained with (saved: {saved_identity}; "
                f"here: {clf.encoder.identity}); its support embeddings would not match new inputs' "
                "(install the same encoder, or train the model again)", source=directory / "mgl_model.json")
        clf.model = clf.model.to(clf.encoder.device).eval()
        bank = []
        with open(directory / "support.jsonl", encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    raise MGLError("malformed support record", source=directory / "support.jsonl", record=i) from None
                bank.append(Example(text=r["text"] or "", label=r["label"], language=r["language"], text_pair=r.get("text_pair"),
                                    domain=r.get("domain"), split="train", uid=r.get("id")))
        if len(bank) != len(clf.bank_embeddings):
            raise MGLError("support.jsonl and support_embeddings.safetensors disagree in length", source=directory)
        bad = ~torch.isfinite(clf.bank_embeddings).all(dim=1)
        if bad.any():
            raise MGLError("embedding contains NaN or infinite values", source=directory / "support_embeddings.safetensors",
                           record=int(bad.nonzero()[0]) + 1)
        clf.bank = bank
        clf.support_texts = bool(meta.get("support_texts", True))
        return clf

    load = from_pretrained


def _without_precision(identity: str | None) -> str | None:
    """An encoder identity without its ``|precision=...`` part."""
    if identity is None:
        return None
    return "|".join(part for part in identity.split("|") if not part.startswith("precision="))
