"""The meta-graph map (the paper's Fig. 4): the average normalised adjacency between languages and classes.

At the meta-test stage, one instance is drawn per (language, class) — with 4 languages and
2 classes that is 8 nodes — the trained meta graph builds their normalised adjacency
:math:`\\tilde A` (eq. 1, 2, 4, keeping the K largest entries per row; the paper draws its map
with K = 2), and the matrices of ``samples`` such draws are averaged. :func:`meta_graph_map`
returns the mean (and spread) of :math:`\\tilde A`, node by node, and the *language x language*
matrix: the mean weight between the nodes of two languages, self-loops left out (for one
language: the weight between its own classes' nodes).

The computation is kept apart from the drawing (:mod:`mgl.plots`) so it can be tested on a
hand-made graph. Its summary states how much of the weight sits on the diagonal (the
self-loops): a graph whose learned sigma shrank the kernel to its self-similarities has
:math:`\\tilde A \\approx I` and a diagonal share near 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from mgl.data.preparation import positive_index
from mgl.errors import ConfigError, DataError


@dataclass
class GraphMap:
    """The averaged meta graph over one node per (language, class).

    ``mean`` / ``std`` are ``[V, V]`` (node order ``nodes``: language by language, classes
    inside); ``language_matrix`` is ``[L, L]`` over ``languages``.
    """

    nodes: list[str]
    node_languages: list[str]
    node_labels: list[str]
    languages: list[str]
    mean: np.ndarray
    std: np.ndarray
    language_matrix: np.ndarray
    k: int
    samples: int
    sigma_mean: list[float] = field(default_factory=list)
    """The mean learned sigma_j of each node over the samples (all 1 without the sigma head)."""

    @property
    def diagonal_share(self) -> float:
        """Share of the total weight of the mean A~ on its diagonal (1.0: only self-loops)."""
        total = float(self.mean.sum())
        return float(np.trace(self.mean) / total) if total > 0 else float("nan")

    def summary(self) -> dict[str, float]:
        """Diagonal and off-diagonal means, the diagonal share and the largest off-diagonal weight."""
        v = len(self.nodes)
        off = self.mean[~np.eye(v, dtype=bool)]
        return {
            "diagonal_mean": float(np.diag(self.mean).mean()),
            "off_diagonal_mean": float(off.mean()) if off.size else float("nan"),
            "off_diagonal_max": float(off.max()) if off.size else float("nan"),
            "diagonal_share": self.diagonal_share,
            "near_identity": bool(self.diagonal_share > 0.95),
        }

    def to_dict(self) -> dict[str, Any]:
        def sig(
            a: np.ndarray,
        ) -> list:  # 6 significant digits (tiny weights of a collapsed graph stay visible); NaN: null
            return np.vectorize(lambda x: float(f"{x:.6g}") if np.isfinite(x) else None, otypes=[object])(a).tolist()

        return {
            "nodes": self.nodes,
            "node_languages": self.node_languages,
            "node_labels": self.node_labels,
            "k": self.k,
            "samples": self.samples,
            "adjacency_mean": sig(self.mean),
            "adjacency_std": sig(self.std),
            "languages": self.languages,
            "language_matrix": sig(self.language_matrix),
            "language_matrix_definition": (
                "mean A~_ij over node pairs i in the row language, j in the column "
                "language, i != j (self-loops left out)"
            ),
            "sigma_mean": [float(f"{s:.6g}") for s in self.sigma_mean],
            "summary": self.summary(),
        }


def node_name(language: str, label: str, label_names: Sequence[str], positive: str | None) -> str:
    """``EN+`` / ``EN-`` for the positive / other class of a binary task, else ``EN:label``."""
    if len(label_names) == 2 and positive is not None:
        return f"{language.upper()}{'+' if label == positive else '-'}"
    return f"{language.upper()}:{label}"


def language_matrix(mean: np.ndarray, node_languages: Sequence[str], languages: Sequence[str]) -> np.ndarray:
    """``[L, L]``: the mean of ``mean[i, j]`` over i in language a, j in language b, i != j."""
    langs = np.asarray(node_languages)
    off = ~np.eye(len(langs), dtype=bool)
    out = np.full((len(languages), len(languages)), np.nan)
    for a, la in enumerate(languages):
        for b, lb in enumerate(languages):
            mask = np.outer(langs == la, langs == lb) & off
            if mask.any():
                out[a, b] = float(mean[mask].mean())
    return out


def meta_graph_map(
    graph,
    embeddings: torch.Tensor | np.ndarray,
    languages: Sequence[str],
    labels: Sequence[str],
    *,
    language_order: Sequence[str],
    label_order: Sequence[str],
    positive: str | None = None,
    k: int = 2,
    samples: int = 100,
    seed: int = 0,
    progress: bool = False,
) -> GraphMap:
    """Average the normalised adjacency of ``graph`` over ``samples`` draws of one node per (language, class).

    Args:
        graph: a :class:`~mgl.methods.mgl.meta_graph.MetaGraph` (``model.graph`` of a trained network):
            ``graph(h, k=k)`` gives A~ and ``graph.sigma(h)`` the length scales.
        embeddings: ``[n, d]`` node embeddings of the candidate instances.
        languages, labels: the language and the label name of each of the ``n`` instances.
        language_order: the languages of the map, in order (e.g. sources then target).
        label_order: the classes, in order inside each language.
        positive: the positive class of a binary task (node names ``EN+``/``EN-``).
        k: neighbours kept per row (the paper's map: 2).
        samples: draws averaged.
        seed: the draws' random seed.

    Raises:
        DataError: a (language, class) has no instance.
    """
    if samples < 1:
        raise DataError(f"samples must be >= 1, got {samples}")
    if k < 1:
        raise DataError(f"k must be >= 1, got {k}")
    emb = torch.as_tensor(np.asarray(embeddings) if not isinstance(embeddings, torch.Tensor) else embeddings)
    langs, labs = np.asarray(languages), np.asarray(labels)
    if not (len(langs) == len(labs) == len(emb)):
        raise DataError(f"embeddings ({len(emb)}), languages ({len(langs)}) and labels ({len(labs)}) differ in length")
    pools, names, node_langs, node_labs = [], [], [], []
    for lang in language_order:
        for label in label_order:
            rows = np.flatnonzero((langs == lang) & (labs == label))
            if not len(rows):
                raise DataError(f"no instance of language {lang!r} and class {label!r} for the graph map")
            pools.append(rows)
            names.append(node_name(lang, label, label_order, positive))
            node_langs.append(lang)
            node_labs.append(label)
    from tqdm.auto import tqdm

    param = next(graph.parameters(), None)
    device = param.device if param is not None else torch.device("cpu")
    dtype = param.dtype if param is not None else torch.float32
    rng = np.random.default_rng([seed, 4])
    mats, sigmas = [], []
    was_training = graph.training
    graph.eval()
    try:
        with torch.no_grad():
            for _ in tqdm(range(samples), desc="graph samples", unit="draw", disable=not progress, leave=False):
                idx = np.array([rng.choice(p) for p in pools])
                h = emb[torch.as_tensor(idx)].to(device=device, dtype=dtype)
                mats.append(graph(h, k=k).double().cpu().numpy())
                sigmas.append(graph.sigma(h).double().cpu().numpy()[:, 0])
    finally:
        graph.train(was_training)
    stack = np.stack(mats)
    mean = stack.mean(0)
    order = list(dict.fromkeys(language_order))
    return GraphMap(
        nodes=names,
        node_languages=node_langs,
        node_labels=node_labs,
        languages=order,
        mean=mean,
        std=stack.std(0),
        language_matrix=language_matrix(mean, node_langs, order),
        k=k,
        samples=samples,
        sigma_mean=np.stack(sigmas).mean(0).tolist(),
    )


def classifier_graph_map(
    clf,
    target_examples: Sequence,
    target_embeddings: torch.Tensor,
    *,
    k: int = 2,
    samples: int = 100,
    seed: int = 0,
    progress: bool = False,
) -> GraphMap:
    """The map of a trained :class:`~mgl.model.classifier.Classifier` holding MGL (alone or in an
    ensemble): its support bank (the sources' training data) and the target's labelled instances
    with their embeddings."""
    from mgl.model.classifier import graph_heads

    if len(target_examples) != len(target_embeddings):
        raise DataError("target examples and embeddings differ in length")
    heads = graph_heads(clf.head)
    if not heads:
        raise ConfigError(f"the graph map needs a model with a meta graph; this one is {clf.method!r}")
    head = heads[0]
    support = [clf.bank.examples[int(i)] for i in head.support_rows]
    emb = torch.cat([head.support.float().cpu(), torch.as_tensor(target_embeddings).float()])
    languages = [ex.language for ex in support] + [ex.language for ex in target_examples]
    labels = [ex.label for ex in support] + [ex.label for ex in target_examples]
    pos = positive_index(clf.label_names)
    positive = clf.label_names[pos] if pos is not None else None
    label_order = list(clf.label_names)
    if positive is not None:  # "+" first, as in the paper's figure
        label_order = [positive] + [name for name in label_order if name != positive]
    return meta_graph_map(
        head.model.graph,
        emb,
        languages,
        labels,
        language_order=[*clf.sources, clf.target],
        label_order=label_order,
        positive=positive,
        k=k,
        samples=samples,
        seed=seed,
        progress=progress,
    )


def query_row_weights(model, features, episodes: Sequence, node_languages: np.ndarray) -> dict[str, float]:
    """Where a trained MGL's query nodes take their graph weight from, over ``episodes``.

    For every query row of each episode's normalised adjacency :math:`\\tilde A` (eq. 1, 2, 4):
    the share of the row's weight on its own self-loop (``self``), on support nodes
    (``support``), and on nodes of another language than the query's (``cross_language``).
    Means over all query rows; ``node_languages[i]`` is instance ``i``'s language. A graph
    collapsed to self-loops has ``self`` near 1 and ``cross_language`` near 0.
    """
    shares = []
    model.eval()
    features.eval()
    with torch.no_grad():
        for ep in episodes:
            nodes = ep.nodes
            adj = model.graph(features(nodes)).double()
            s = len(ep.support)
            rows = adj[s:]
            total = rows.sum(1).clamp(min=1e-300)
            langs = np.asarray(node_languages)[nodes]
            other = torch.as_tensor(langs[None, :] != langs[s:, None], dtype=torch.float64, device=rows.device)
            shares.append(
                torch.stack(
                    [torch.diagonal(adj)[s:] / total, rows[:, :s].sum(1) / total, (rows * other).sum(1) / total], 1
                )
            )
    if not shares:
        raise DataError("no episodes to measure the graph on")
    mean = torch.cat(shares).mean(0).tolist()
    return {
        "self": mean[0],
        "support": mean[1],
        "cross_language": mean[2],
        "query_rows": int(sum(len(x) for x in shares)),
    }
