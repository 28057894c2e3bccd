"""Predicting instances as query nodes of MGL's episodes.

Every instance to predict is a query node of some episode: the instances are cut into
batches of R (``n_query``); each batch is scored against ``eval_times`` independently
sampled support sets, and the probabilities averaged (SPEC, "a natural reading").
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mgl.methods.mgl.episodes import Episode, EpisodeSampler
from mgl.methods.mgl.meta_graph import MetaGraphNetwork


def plan_episodes(
    sampler: EpisodeSampler, query: np.ndarray, *, n_query: int, eval_times: int, rng: np.random.Generator
) -> list[tuple[slice, list[Episode]]]:
    """For each batch of ``n_query`` queries, ``eval_times`` episodes with freshly sampled supports."""
    plan = []
    for start in range(0, len(query), n_query):
        sl = slice(start, min(start + n_query, len(query)))
        plan.append((sl, [sampler.with_queries(rng, query[sl]) for _ in range(eval_times)]))
    return plan


@torch.no_grad()
def predict_proba(
    model: MetaGraphNetwork,
    features: Any,
    sampler: EpisodeSampler,
    query: np.ndarray,
    *,
    n_query: int,
    eval_times: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Class probabilities ``[len(query), |Y|]`` of the given instances, as query nodes."""
    query = np.asarray(query, dtype=np.int64)
    out = np.zeros((len(query), model.num_classes), dtype=np.float64)
    if len(query) == 0:
        return out
    was_training = model.training
    model.eval()
    features.eval()
    try:
        plan = plan_episodes(sampler, query, n_query=n_query, eval_times=eval_times, rng=rng)
        # every node's features once (an encoder runs once per distinct instance)
        nodes = np.unique(np.concatenate([ep.nodes for _, eps in plan for ep in eps]))
        table = features(nodes)
        where = {int(n): i for i, n in enumerate(nodes)}
        for sl, episodes in plan:
            acc = torch.zeros(sl.stop - sl.start, model.num_classes, dtype=torch.float64)
            for ep in episodes:
                rows = torch.as_tensor([where[int(n)] for n in ep.nodes], device=table.device)
                h = table[rows]
                labels = torch.as_tensor(ep.support_labels, device=table.device)
                log_probs = model(h, labels)
                acc += log_probs[len(ep.support) :].exp().double().cpu()
            out[sl] = (acc / len(episodes)).numpy()
    finally:
        model.train(was_training)
        features.train(was_training)
    return out
