"""Training under ``accelerate launch``: data parallelism over episodes, one record, one checkpoint.

``accelerate launch --multi_gpu --num_processes P -m mgl run ...`` (or ``torchrun --nproc_per_node P -m mgl
run ...``) starts P processes; on a machine without CUDA they train on the CPU over gloo. (accelerate
1.15's ``--cpu`` flag with ``--num_processes P`` starts one process unless an MPI hostfile is
given, ``--mpirun_hostfile``: on one machine use the command above.) mgl then:

* places the model with :class:`accelerate.Accelerator` (device, DistributedDataParallel, the
  launcher's mixed precision) and steps through ``accelerator.backward`` and
  ``accelerator.clip_grad_norm_``, so every step's gradients are averaged over the processes;
* lets each process sample its own episodes (its numpy stream and torch seed are offset by its
  rank), so P processes see P episodes per step;
* validates on every process alike (the weights are the same everywhere, so are the early
  stopping decisions);
* embeds on the main process first (the others then read the embedding cache);
* writes the checkpoint and ``result.json`` on the main process only; the checkpoint holds
  every process's random states (numpy, torch CPU and CUDA), gathered to the main process, so
  ``--resume`` continues each process's streams exactly;
* checks at the end that every process holds the same weights (their SHA-256 go into the
  record's ``distributed`` entry) and refuses to report otherwise.

Without ``accelerate launch`` (one process) nothing here is used and nothing is imported.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from functools import lru_cache
from typing import Any

import torch

from mgl.errors import ConfigError, MGLError


def launched() -> bool:
    """Whether this process is one of several started by ``accelerate launch`` (or torchrun)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


@lru_cache(maxsize=1)
def accelerator():
    """The process's :class:`accelerate.Accelerator` when launched with several processes, else None."""
    if not launched():
        return None
    try:
        from accelerate import Accelerator
        from accelerate.utils import DistributedDataParallelKwargs
    except ImportError:
        raise ConfigError(
            "running under several processes needs accelerate: pip install 'mgl-clt[distributed]'"
        ) from None
    # an ablation may leave a weight out of the forward pass (w/o sigma: the length-scale head)
    # cpu: processes started by torchrun (accelerate launch --multi_gpu) on a machine without CUDA train on the
    # CPU over gloo; accelerate would otherwise fall back to a single process
    return Accelerator(
        cpu=not torch.cuda.is_available(), kwargs_handlers=[DistributedDataParallelKwargs(find_unused_parameters=True)]
    )


def finish() -> None:
    """End a launched run on every process alike: wait for all of them, then take the process group
    down, so that no process exits with gloo's threads still running (which aborts it at
    interpreter exit: "terminate called without an active exception", seen on a loaded 2-core
    machine). One process: nothing to do."""
    acc = accelerator()
    if acc is None:
        return
    acc.wait_for_everyone()
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def rank() -> int:
    acc = accelerator()
    return 0 if acc is None else int(acc.process_index)


def world_size() -> int:
    acc = accelerator()
    return 1 if acc is None else int(acc.num_processes)


def is_main_process() -> bool:
    return rank() == 0


@contextlib.contextmanager
def main_process_first() -> Iterator[None]:
    """The block runs on the main process, then on the others (e.g. filling a cache they then read)."""
    acc = accelerator()
    if acc is None:
        yield
        return
    with acc.main_process_first():
        yield


def gather(obj: Any) -> list[Any]:
    """``obj`` of every process, in rank order (one process: ``[obj]``)."""
    acc = accelerator()
    if acc is None:
        return [obj]
    from accelerate.utils import gather_object

    return gather_object([obj])


def random_states() -> dict[str, Any]:
    """This process's torch random states (CPU, and every CUDA device's where there is CUDA)."""
    states: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states["torch"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 of a module's weights (names, shapes and bytes), to compare processes."""
    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def check_same_weights(module: torch.nn.Module) -> dict[str, Any] | None:
    """Every process's weight digest; an error if they differ. None when not launched with several processes."""
    if accelerator() is None:
        return None
    digests = gather(weights_digest(module))
    if len(set(digests)) != 1:
        raise MGLError(
            f"the {len(digests)} processes ended with different weights ({', '.join(d[:12] for d in digests)})"
        )
    return {"processes": len(digests), "weights_sha256": digests}
