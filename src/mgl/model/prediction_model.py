"""The one way to load a saved model for prediction: the command line, the service and every worker.

:func:`load_for_prediction` loads a model directory (:meth:`mgl.model.classifier.Classifier.from_pretrained`),
draws MGL's support sets with another seed if asked, attaches the on-disk embedding cache if asked,
and gives torch the CPUs this process may use (:func:`usable_cpus`, its affinity mask, which
containers narrow) divided among the ``sharing`` workers that run side by side on them. torch is
imported lazily: this module is imported where the command line starts.
"""

from __future__ import annotations

import os
from pathlib import Path


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask, which containers narrow), else the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def set_cpu_threads(threads: int | None = None, *, sharing: int = 1) -> int:
    """Give torch ``threads`` CPU threads (None: the usable CPUs divided among ``sharing`` workers,
    at least one); returns the number set."""
    import torch

    n = max(1, int(threads) if threads is not None else usable_cpus() // max(1, sharing))
    torch.set_num_threads(n)
    return n


def load_for_prediction(
    model_dir: str | Path,
    *,
    device: str | None = None,
    precision: str | None = None,
    seed: int | None = None,
    cache: bool = False,
    threads: int | None = None,
    sharing: int = 1,
):
    """A saved model of any method, ready to predict.

    ``seed``: MGL's support sets drawn with this seed (default: the training seed); ``cache``:
    inputs' embeddings looked up in and stored to the on-disk cache (default: embedded and
    forgotten); ``threads`` / ``sharing``: see :func:`set_cpu_threads`, applied when the model
    runs on the CPU."""
    from mgl.model.classifier import Classifier

    clf = Classifier.from_pretrained(model_dir, device=device, precision=precision)
    if seed is not None:
        clf.reseed(seed)
    if cache:
        from mgl.encoders import EmbeddingCache

        clf.embedding_cache = EmbeddingCache()
    if clf.device.type == "cpu":
        set_cpu_threads(threads, sharing=sharing)
    return clf
