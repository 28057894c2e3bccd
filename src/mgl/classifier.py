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
* ``support_embeddings.safetensors`` — their embeddings, computed with the final encoder;
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
from mgl.evaluation import plan_episodes
from mgl.experiment import make_encoder, make_experiment_data, positive_index
from mgl.features import FrozenFeatures
from mgl.io import sha256_file, write_json_atomic
from mgl.training import build_model

FORMAT = "mgl-model"
FORMAT_VERSION = 1
FILES = ("mgl_model.json", "model.safetensors", "support.jsonl", "support_embeddings.safetensors")


@dataclass
class Prediction:
    label: str
    probabilities: dict[str, float]
    language_shares: dict[str, float]
    neighbours: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "probabilities": self.probabilities,
                "explanation": {"language_shares": self.language_shares, "neighbours": self.neighbours}}


class MGLClassifier:
    """Few-shot cross-lingual classifier trained by Meta Graph Learning.

    Args:
        config: a :class:`~mgl.config.RunConfig` (default: the ``amazon`` preset).
        device: where to run (default: CUDA when present).
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
        self.bank_embeddings: torch.Tensor | None = None
        self.encoder_state: dict[str, torch.Tensor] = {}
        self.report: dict[str, Any] = {}

    # ------------------------------------------------------------------ training

    def fit(self, examples: Sequence[Example], *, sources: Sequence[str] | None = None, target: str | None = None,
            progress: bool = True, checkpoint=None, resume=None) -> "MGLClassifier":
        """Train on labelled examples with splits (sources: ``train`` (+ ``validation`` for
        meta-train); target: ``train`` (its few labels) and ``validation``). A target ``test``
        split, if present, is scored into ``self.report``."""
        from mgl.experiment import build_features, run_mgl

        cfg = self.config
        sources = list(sources or cfg.data.sources)
        target = target or cfg.data.target
        examples = list(examples)
        has_test = any(ex.language == target and ex.split == "test" for ex in examples)
        data = make_experiment_data(examples, sources, target, domain=cfg.data.domain, seed=cfg.seed,
                                    max_per_class=cfg.data.max_per_class, require_test=False,
                                    positive_label=cfg.data.positive_label)
        check_episodes(data, cfg.mgl)  # fail before the (slow) embedding if an episode cannot be drawn
        self.encoder = make_encoder(cfg.encoder)
        t0 = time.perf_counter()
        features, _ = build_features(data, cfg.encoder, encoder=self.encoder, progress=progress)
        embed_seconds = time.perf_counter() - t0
        metrics, model, fit = run_mgl(data, features, cfg.mgl, seed=cfg.seed, device=self.encoder.device,
                                      progress=progress, checkpoint=checkpoint, resume=resume)
        self.model = model.eval()
        self.label_names = list(data.table.label_names)
        self.sources, self.target = sources, target
        bank_rows = data.table.rows(languages=sources, split="train")
        self.bank = [data.examples[i] for i in bank_rows]
        with torch.no_grad():
            features.eval()
            self.bank_embeddings = torch.cat([features(bank_rows[i:i + 256]) for i in range(0, len(bank_rows), 256)]).cpu()
        self.encoder_state = {k: v.cpu() for k, v in features.state_dict().items()}
        self.report = {**metrics, "embed_seconds": embed_seconds, "has_test": has_test}
        return self

    # ------------------------------------------------------------------ prediction

    def _require_fitted(self) -> None:
        if self.model is None or self.bank_embeddings is None:
            raise MGLError("this classifier is not trained: call fit() or MGLClassifier.load()")

    def _embed(self, texts: Sequence[str], pairs: Sequence[str | None] | None, progress: bool) -> torch.Tensor:
        if self.config.encoder.train == "none":
            from mgl.encoders import EmbeddingCache

            emb = self.encoder.embed(texts, pairs, batch_size=self.config.encoder.batch_size, cache=EmbeddingCache(),
                                     progress=progress)
            return torch.as_tensor(emb)
        with torch.no_grad():
            self.encoder.eval()
            out = [self.encoder(list(texts[i:i + 32]), list(pairs[i:i + 32]) if pairs is not None else None)
                   for i in range(0, len(texts), 32)]
            return torch.cat(out).cpu()

    def _run(self, texts: Sequence[str], pairs: Sequence[str | None] | None, *, seed: int | None, progress: bool,
             explain: bool) -> tuple[np.ndarray, list[dict[str, float]], list[list[dict[str, Any]]]]:
        self._require_fitted()
        texts = list(texts)
        if not texts:
            raise DataError("nothing to predict: the input is empty")
        for i, t in enumerate(texts, 1):
            if not isinstance(t, str) or not t.strip():
                raise DataError("empty text", source="input", record=i)
        queries = self._embed(texts, pairs, progress)
        n_bank = len(self.bank)
        table = FrozenFeatures(torch.cat([self.bank_embeddings, queries]), device=self.device)
        pool = Pool(range(n_bank), [ex.language for ex in self.bank],
                    [self.label_names.index(ex.label) for ex in self.bank], name="support bank")
        cfg = self.config.mgl
        sampler = EpisodeSampler(meta_test_pair(self.sources, self.target), pool, None,
                                 num_classes=len(self.label_names), n_support=cfg.n_support, n_query=cfg.n_query,
                                 label_names=self.label_names)
        rng = np.random.default_rng([self.config.seed if seed is None else seed, 4242])
        query_rows = np.arange(n_bank, n_bank + len(texts))
        plan = plan_episodes(sampler, query_rows, n_query=cfg.n_query, eval_times=cfg.eval_times, rng=rng)
        probs = np.zeros((len(texts), len(self.label_names)))
        shares: list[dict[str, float]] = [dict() for _ in texts]
        neighbours: list[dict[int, float]] = [dict() for _ in texts]
        from tqdm.auto import tqdm

        from mgl.training import small_graph_threads

        self.model.eval()
        with torch.no_grad(), small_graph_threads(table, self.device):
            for sl, episodes in tqdm(plan, desc="predicting", unit="batch", disable=not progress, leave=False):
                for ep in episodes:
                    h = table(ep.nodes)
                    adj = self.model.graph(h)
                    log_probs = self.model(h, torch.as_tensor(ep.support_labels, device=h.device), adj=adj)
                    n_s = len(ep.support)
                    probs[sl] += log_probs[n_s:].exp().double().cpu().numpy() / len(episodes)
                    if not explain:
                        continue
                    weights = adj[n_s:, :n_s].double().cpu().numpy()  # query rows, support columns
                    langs = np.asarray(ep.support_languages)
                    for qi, row in enumerate(weights):
                        total = row.sum()
                        k = sl.start + qi
                        for lang in dict.fromkeys(self.sources):
                            share = float(row[langs == lang].sum() / total) if total > 0 else 0.0
                            shares[k][lang] = shares[k].get(lang, 0.0) + share / len(episodes)
                        for j in np.argsort(-row)[:5]:
                            if row[j] > 0:
                                node = int(ep.support[j])
                                neighbours[k][node] = max(neighbours[k].get(node, 0.0), float(row[j]))
        top = []
        for nb in neighbours:
            best = sorted(nb.items(), key=lambda kv: -kv[1])[:5]
            top.append([{"id": self.bank[n].uid, "language": self.bank[n].language, "label": self.bank[n].label,
                         "weight": float(f"{w:.4g}")} for n, w in best])
        return probs, shares, top

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def predict_proba(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None, *,
                      seed: int | None = None, progress: bool = False) -> np.ndarray:
        """Class probabilities ``[n, |Y|]`` (columns in ``self.label_names`` order)."""
        return self._run(texts, pairs, seed=seed, progress=progress, explain=False)[0]

    def predict(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None, *,
                seed: int | None = None, progress: bool = False) -> list[str]:
        """The most probable label of each text."""
        probs = self.predict_proba(texts, pairs, seed=seed, progress=progress)
        return [self.label_names[i] for i in probs.argmax(1)]

    def explain(self, texts: Sequence[str], pairs: Sequence[str | None] | None = None, *,
                seed: int | None = None, progress: bool = False) -> list[Prediction]:
        """Labels, probabilities and the meta graph's explanation for each text."""
        probs, shares, top = self._run(texts, pairs, seed=seed, progress=progress, explain=True)
        return [
            Prediction(self.label_names[int(p.argmax())],
                       {name: round(float(v), 6) for name, v in zip(self.label_names, p)},
                       {lang: round(v, 6) for lang, v in s.items()}, t)
            for p, s, t in zip(probs, shares, top)
        ]

    # ------------------------------------------------------------------ persistence

    def save(self, directory: str | Path) -> Path:
        """Write the self-contained model directory (atomically: temp sibling, then rename)."""
        from safetensors.torch import save_file

        self._require_fitted()
        directory = Path(directory)
        directory.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
        try:
            save_file({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
                      str(tmp / "model.safetensors"))
            save_file({"embeddings": self.bank_embeddings.contiguous()}, str(tmp / "support_embeddings.safetensors"))
            files = list(FILES)
            if self.encoder_state:
                save_file({k: v.contiguous() for k, v in self.encoder_state.items()}, str(tmp / "encoder.safetensors"))
                files.append("encoder.safetensors")
            with open(tmp / "support.jsonl", "w", encoding="utf-8") as fh:
                for ex in self.bank:
                    fh.write(json.dumps({"id": ex.uid, "text": ex.text, "text_pair": ex.text_pair, "label": ex.label,
                                         "language": ex.language, "domain": ex.domain}, ensure_ascii=False) + "\n")
            meta = {
                "format": FORMAT, "version": FORMAT_VERSION, "config": self.config.to_dict(),
                "encoder": {"spec": self.encoder.spec.to_dict(), "identity": self.encoder.identity,
                            "dim": self.encoder.dim, "train": self.config.encoder.train},
                "labels": self.label_names, "sources": self.sources, "target": self.target,
                "positive_label": (self.label_names[positive_index(self.label_names, self.config.data.positive_label)]
                                   if len(self.label_names) == 2 else None),
                "report": self.report,
            }
            write_json_atomic(tmp / "mgl_model.json", meta)
            write_json_atomic(tmp / "checksums.json", {f: sha256_file(tmp / f) for f in files})
            for f in tmp.iterdir():
                os.chmod(f, 0o644)
            os.chmod(tmp, 0o755)
            if directory.exists():
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

    @classmethod
    def load(cls, directory: str | Path, *, device: str | None = None) -> "MGLClassifier":
        """Load a saved model; every file is checked against its checksum first."""
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
        # where it runs now, not where it was trained: a model trained on a GPU predicts on a CPU
        config.encoder.device = device
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
            clf.model = build_model(config.mgl, int(meta["encoder"]["dim"]), len(clf.label_names))
            clf.model.load_state_dict(load_file(str(directory / "model.safetensors")))
            clf.bank_embeddings = load_file(str(directory / "support_embeddings.safetensors"))["embeddings"]
        except (SafetensorError, RuntimeError, KeyError) as exc:
            raise MGLError(f"cannot load the model weights ({str(exc).splitlines()[0]})", source=directory) from None
        clf.model = clf.model.to(clf.encoder.device).eval()
        bank = []
        with open(directory / "support.jsonl", encoding="utf-8") as fh:
            for i, line in enumerate(fh, 1):
                try:
                    r = json.loads(line)
                except json.JSONDecodeError:
                    raise MGLError("malformed support record", source=directory / "support.jsonl", record=i) from None
                bank.append(Example(text=r["text"], label=r["label"], language=r["language"], text_pair=r.get("text_pair"),
                                    domain=r.get("domain"), split="train", uid=r.get("id")))
        if len(bank) != len(clf.bank_embeddings):
            raise MGLError("support.jsonl and support_embeddings.safetensors disagree in length", source=directory)
        bad = ~torch.isfinite(clf.bank_embeddings).all(dim=1)
        if bad.any():
            raise MGLError("embedding contains NaN or infinite values", source=directory / "support_embeddings.safetensors",
                           record=int(bad.nonzero()[0]) + 1)
        clf.bank = bank
        return clf


def check_episodes(data, cfg) -> None:
    """Build every sampler of both stages once: a language or class too small for N raises DataError."""
    from mgl.training import meta_test_tasks, meta_train_tasks

    rng = np.random.default_rng(0)
    if cfg.meta_train:
        meta_train_tasks(data.table, data.sources, cfg, rng)
    meta_test_tasks(data.table, data.sources, data.target, cfg, rng)


