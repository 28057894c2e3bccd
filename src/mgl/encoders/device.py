"""Device selection: turn a user's ``--device`` value into a ``torch.device`` that exists here."""

from __future__ import annotations

import re

import torch

from mgl.errors import ConfigError

_DEVICE_RE = re.compile(r"^(cpu|cuda|mps)(?::(\d+))?$")


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """The torch device to run on.

    ``None`` or ``"auto"``: the current CUDA device if CUDA is available, else the CPU.
    ``"cpu"``, ``"cuda"``, ``"cuda:N"`` (and ``"mps"`` on Apple machines) are honoured as given,
    after checking that the device exists. Anything else, or a GPU that is not there, raises
    :class:`~mgl.errors.ConfigError` (an :class:`~mgl.errors.MGLError`) with a one-line message.
    """
    if isinstance(device, torch.device):
        name = str(device)
    elif device is None:
        name = "auto"
    elif isinstance(device, str):
        name = device.strip().lower()
    else:
        raise ConfigError(f"device must be a string such as 'cpu', 'cuda' or 'cuda:1', not {device!r}")

    if name in ("auto", ""):
        return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")

    match = _DEVICE_RE.match(name)
    if match is None:
        raise ConfigError(f"unknown device {device!r}: use 'auto', 'cpu', 'cuda' or 'cuda:N'")
    kind, index = match.group(1), match.group(2)
    if kind == "cpu":
        if index not in (None, "0"):
            raise ConfigError(f"unknown device {device!r}: the CPU has no index other than 0")
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {device!r} requested, but CUDA is not available on this machine")
        if index is not None and int(index) >= torch.cuda.device_count():
            raise ConfigError(
                f"device {device!r} requested, but this machine has {torch.cuda.device_count()} CUDA device(s)"
            )
        return torch.device(name)
    # mps
    mps = getattr(torch.backends, "mps", None)
    if mps is None or not mps.is_available():
        raise ConfigError(f"device {device!r} requested, but Apple MPS is not available on this machine")
    if index not in (None, "0"):
        raise ConfigError(f"unknown device {device!r}: MPS has a single device")
    return torch.device("mps")
