r"""Explaining a prediction by the labelled examples nearest to the input in the encoder's space.

For an input with features :math:`x` and the model's labelled bank :math:`\{(b_i, y_i, l_i)\}`
(every language's training examples, :class:`~mgl.methods.heads.LabelledBank`), the neighbours are the
``k`` examples of highest cosine similarity :math:`\cos(x, b_i)`. From them: the share of each
language, and the share whose label agrees with the predicted one. This works for every method
(what a reader wants to see is which labelled texts the input resembles); MGL adds its graph's
own explanation (:mod:`mgl.methods.mgl.head`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from mgl.methods.heads.base import LabelledBank

NEIGHBOURS = 5
"""Neighbours listed per input."""
PREVIEW_CHARS = 200
"""Characters of a neighbour's text shown."""


def nearest(
    queries: torch.Tensor, bank: LabelledBank, k: int = NEIGHBOURS, chunk: int = 1024
) -> tuple[np.ndarray, np.ndarray]:
    """``(indices [n, k], cosine similarities [n, k])`` of each query's nearest bank examples, best first."""
    k = min(k, len(bank.examples))
    b = torch.nn.functional.normalize(bank.embeddings.float(), dim=1)
    q = torch.nn.functional.normalize(queries.detach().float().cpu(), dim=1)
    idx, sims = [], []
    for s in range(0, len(q), chunk):
        values, where = (q[s : s + chunk] @ b.T).topk(k, dim=1)
        idx.append(where.numpy())
        sims.append(values.numpy())
    if not idx:
        return np.zeros((0, k), dtype=np.int64), np.zeros((0, k))
    return np.concatenate(idx), np.concatenate(sims)


def explain_by_neighbours(
    indices: np.ndarray, similarities: np.ndarray, predicted: int, bank: LabelledBank, languages: list[str]
) -> dict[str, Any]:
    """One input's neighbours (id, language, label, similarity, text preview), the share of each
    language among them and the share that agrees with the predicted class."""
    rows = []
    for i, sim in zip(indices, similarities):
        ex = bank.examples[int(i)]
        text = ex.text or None
        rows.append(
            {
                "id": ex.uid,
                "language": ex.language,
                "label": ex.label,
                "similarity": round(float(sim), 4),
                "text": (text[:PREVIEW_CHARS] + ("…" if len(text) > PREVIEW_CHARS else "")) if text else None,
            }
        )
    n = max(len(rows), 1)
    shares = {lang: round(sum(r["language"] == lang for r in rows) / n, 4) for lang in languages}
    agreement = round(float(np.mean(bank.labels[np.asarray(indices, dtype=np.int64)] == predicted)), 4) if rows else 0.0
    return {"neighbours": rows, "language_shares": shares, "agreement": agreement}
