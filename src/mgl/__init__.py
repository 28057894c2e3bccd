"""mgl: few-shot cross-lingual text classification by Meta Graph Learning (EMNLP 2020).

The Python API (imported lazily, so ``import mgl`` stays cheap)::

    from mgl import Classifier, MGLEstimator, load_config, load_dataset
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    "Classifier": "mgl.model.classifier",
    "MGLClassifier": "mgl.model.classifier",
    "MGLEstimator": "mgl.model.estimator",
    "Prediction": "mgl.model.classifier",
    "RunConfig": "mgl.config",
    "load_config": "mgl.config",
    "Example": "mgl.data.examples",
    "load_dataset": "mgl.data.registry",
}

__all__ = [
    "Classifier",
    "Example",
    "MGLClassifier",
    "MGLEstimator",
    "Prediction",
    "RunConfig",
    "__version__",
    "load_config",
    "load_dataset",
]
assert set(__all__) == {"__version__", *_EXPORTS}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'mgl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
