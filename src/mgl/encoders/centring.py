r"""Per-language mean centring: each language's mean vector taken from its own vectors.

.. math::

    \tilde h_i = h_i - \mu_{\ell(i)}, \qquad
    \mu_\ell = \frac{1}{|R_\ell|} \sum_{j \in R_\ell} h_j

where :math:`R_\ell` is language :math:`\ell`'s rows that are not test rows (training, validation
and unlabelled texts: no label is read, and no test text shapes its own features). A multilingual
encoder places each language around its own mean; removing it moves the languages onto one
another (Libovický et al., 2020, "On the language neutrality of pre-trained multilingual
representations"), so a classifier trained on the sources reads the target better. The target's
unlabelled texts are what make its mean available with no label at all (zero-shot). A saved model
keeps the target's mean and takes it from every input (``centre.safetensors``).
"""

from __future__ import annotations

import numpy as np
import torch

from mgl.errors import DataError


def language_centres(data, embeddings: torch.Tensor) -> dict[str, torch.Tensor]:
    """``{language: mean vector}`` over each language's non-test rows of ``data``'s table."""
    t = data.table
    centres = {}
    for lang in [*data.sources, data.target]:
        rows = np.flatnonzero((t.languages == lang) & (t.splits != "test"))
        if len(rows) == 0:
            raise DataError(
                f"encoder.centring=language needs texts of {lang!r} to take its mean from (training, validation "
                "or unlabelled rows; test rows are never used): give it unlabelled texts (--unlabelled FILE, or "
                "rows with an empty label) or set encoder.centring=none"
            )
        centres[lang] = embeddings[torch.as_tensor(rows, device=embeddings.device)].mean(dim=0)
    return centres


def centred(data, embeddings: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The embeddings with each row's language mean taken off, and the target's mean (what a saved
    model takes from every input)."""
    centres = language_centres(data, embeddings)
    out = embeddings.clone()
    languages = data.table.languages
    for lang, mean in centres.items():
        rows = torch.as_tensor(np.flatnonzero(languages == lang), device=embeddings.device)
        out[rows] -= mean
    return out, centres[data.target]
