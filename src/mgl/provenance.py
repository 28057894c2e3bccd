"""Where a number was computed: library versions and the machine, recorded with every run.

Runs with the same configuration differ in the last digits across machines (float kernels
depend on the CPU's instruction set and the thread count), so every result record and grid
cell carries :func:`machine_info`.
"""

from __future__ import annotations

import functools
import platform
from importlib import metadata
from typing import Any

LIBRARIES = ("mgl-clt", "torch", "transformers", "tokenizers", "numpy", "scikit-learn", "scipy", "safetensors")


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo`` on Linux, else :func:`platform.processor`)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


@functools.lru_cache(maxsize=1)
def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def machine_info() -> dict[str, Any]:
    """Python, the libraries' versions, the CPU model, torch's thread count, the platform and GPU (if any)."""
    import torch

    info: dict[str, Any] = {
        "python": platform.python_version(),
        "libraries": library_versions(),
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "threads": torch.get_num_threads(),
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
