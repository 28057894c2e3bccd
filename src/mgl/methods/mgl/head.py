r"""MGL's fitted model as a head: each input is the query node of its own meta graph.

For an input :math:`x` and each of ``eval_times`` support sets :math:`S_t` (``n_support``
labelled examples per class and source language, drawn once from the sources' training rows
with the seed ``[seed, 4242]`` and then fixed),

.. math::

    p(y \mid x) = \frac{1}{T} \sum_{t=1}^{T} z_{x}\big(H = [h_{S_t}; h_x]\big)_y

where :math:`z_x` is the GCN's output row of the query node (eq. 5 of
:mod:`mgl.methods.mgl.meta_graph`) on the graph of the support set and the input alone. So an input's
probabilities never depend on the inputs scored with it (graphs are batched, not merged).
This is the one scoring protocol of MGL: the product, the grids and the model card.

``explain_graph`` also returns, per input, the share of its row of the normalised adjacency
that stays on itself (the self-weight), how the rest is shared among the source languages,
and its strongest support neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from mgl.config import MGLConfig, RunConfig
from mgl.methods.heads.base import Head, LabelledBank
from mgl.methods.mgl.episodes import EpisodeSampler, Pool, meta_test_pair

SUPPORT_SEED = 4242


class MetaGraphHead(Head):
    kind = "meta-graph"

    def __init__(
        self,
        model,
        cfg: MGLConfig,
        support: torch.Tensor,
        support_labels: np.ndarray,
        support_languages: Sequence[str],
        support_rows: np.ndarray,
        *,
        sources: Sequence[str],
        target: str,
        seed: int,
    ):
        self.model = model.eval()
        self.cfg = cfg
        self.support = support.float()
        self.support_labels = np.asarray(support_labels, dtype=np.int64)
        self.support_languages = np.asarray(list(support_languages))
        self.support_rows = np.asarray(support_rows, dtype=np.int64)  # rows of the model's labelled bank
        self.sources = list(sources)
        self.target = target
        self.seed = int(seed)
        self.num_classes = int(model.num_classes)
        self._sets: list[tuple[np.ndarray, np.ndarray, list[str]]] | None = None

    @classmethod
    def from_bank(cls, model, cfg: MGLConfig, bank: LabelledBank, *, sources, target, seed) -> MetaGraphHead:
        rows = bank.rows(sources)
        return cls(
            model,
            cfg,
            bank.embeddings[torch.as_tensor(rows)],
            bank.labels[rows],
            bank.languages[rows],
            rows,
            sources=sources,
            target=target,
            seed=seed,
        )

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def support_sets(self) -> list[tuple[np.ndarray, np.ndarray, list[str]]]:
        """The ``eval_times`` support sets every input is scored against: ``(support indices, class
        ids, languages)`` each, drawn once (the same for every input and every call)."""
        if self._sets is None:
            pool = Pool(
                range(len(self.support)),
                self.support_languages.tolist(),
                self.support_labels.tolist(),
                name="support bank",
            )
            sampler = EpisodeSampler(
                meta_test_pair(self.sources, self.target),
                pool,
                None,
                num_classes=self.num_classes,
                n_support=self.cfg.n_support,
                n_query=self.cfg.n_query,
            )
            rng = np.random.default_rng([self.seed, SUPPORT_SEED])
            self._sets = [sampler.sample_support(rng) for _ in range(self.cfg.eval_times)]
        return self._sets

    def predict_proba(self, x: torch.Tensor, texts=None) -> np.ndarray:
        return self.explain_graph(x, explain=False)[0]

    @torch.no_grad()
    def explain_graph(self, queries: torch.Tensor, *, explain: bool = True, batch_size: int = 256):
        """``(probabilities [n, |Y|], self-weights [n], language shares, neighbours)``; the
        neighbours are ``(support index, weight)`` lists, strongest first (at most 5)."""
        device = self.device
        queries = queries.to(device=device, dtype=torch.float32)
        n = len(queries)
        probs = torch.zeros(n, self.num_classes, dtype=torch.float64)
        self_weight = np.zeros(n)
        shares = [dict.fromkeys(self.sources, 0.0) for _ in range(n)]
        strongest: list[dict[int, float]] = [{} for _ in range(n)]
        sets = self.support_sets()
        self.model.eval()
        for rows, labels, langs in sets:
            h_s = self.support[torch.as_tensor(rows)].to(device)
            y_s = torch.as_tensor(labels, device=device)
            n_s = len(rows)
            langs_arr = np.asarray(langs)
            for start in range(0, n, batch_size):
                q = queries[start : start + batch_size]
                h = torch.cat([h_s.unsqueeze(0).expand(len(q), -1, -1), q.unsqueeze(1)], dim=1)
                adj = self.model.graph(h)
                log_probs = self.model(h, y_s, adj=adj)
                probs[start : start + len(q)] += log_probs[:, -1].double().exp().cpu() / len(sets)
                if not explain:
                    continue
                row = adj[:, -1, :].double().cpu().numpy()  # each query's row: support columns, then itself
                total = row.sum(axis=1)
                for b in range(len(q)):
                    k = start + b
                    self_weight[k] += row[b, -1] / total[b] / len(sets) if total[b] > 0 else 1.0 / len(sets)
                    to_support = row[b, :n_s]
                    rest = to_support.sum()
                    for lang in shares[k]:
                        share = float(to_support[langs_arr == lang].sum() / rest) if rest > 0 else 0.0
                        shares[k][lang] += share / len(sets)
                    for j in np.argsort(-to_support)[:5]:
                        if to_support[j] > 0:
                            node = int(rows[j])
                            strongest[k][node] = max(strongest[k].get(node, 0.0), float(to_support[j]))
        top = [sorted(nb.items(), key=lambda kv: -kv[1])[:5] for nb in strongest]
        return probs.numpy(), self_weight, shares, top

    def tensors(self) -> dict[str, torch.Tensor]:
        out = {f"model.{k}": v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()}
        out["support_rows"] = torch.from_numpy(np.ascontiguousarray(self.support_rows))
        return out

    def settings(self) -> dict[str, Any]:
        from dataclasses import asdict

        return {
            "num_classes": self.num_classes,
            "mgl": asdict(self.cfg),
            "sources": self.sources,
            "target": self.target,
            "seed": self.seed,
            "dim": int(self.support.shape[1]),
        }

    @classmethod
    def from_saved(cls, settings, tensors, bank: LabelledBank, device="cpu") -> MetaGraphHead:
        from mgl.methods.mgl.training import build_model

        cfg = RunConfig.from_dict({"mgl": settings["mgl"]}, source="mgl_model.json").mgl
        model = build_model(cfg, int(settings["dim"]), int(settings["num_classes"]))
        model.load_state_dict(
            {k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}, strict=True
        )
        rows = tensors["support_rows"].numpy().astype(np.int64)
        if len(rows) and (rows.min() < 0 or rows.max() >= len(bank.examples)):
            raise ValueError("support rows outside the labelled bank")
        return cls(
            model.to(device),
            cfg,
            bank.embeddings[torch.as_tensor(rows)],
            bank.labels[rows],
            bank.languages[rows],
            rows,
            sources=settings["sources"],
            target=settings["target"],
            seed=int(settings["seed"]),
        )

    def to(self, device) -> MetaGraphHead:
        self.model = self.model.to(device)
        return self
