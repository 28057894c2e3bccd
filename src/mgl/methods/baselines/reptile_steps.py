"""Reptile's outer step and its step factory (Nichol et al., 2018), the training code of
:class:`mgl.methods.baselines.reptile.Reptile`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from mgl.methods.baselines.common import SHARED_HEAD, BatchStream, Settings, StepContext, StepFn, supervised_step


@torch.no_grad()
def outer_update(params: Sequence[torch.nn.Parameter], theta: Sequence[torch.Tensor], eps: float) -> None:
    r"""Reptile's outer step in place: ``p = theta + eps * (p - theta)``, where ``p`` holds :math:`\phi`."""
    for p, t in zip(params, theta, strict=True):
        p.sub_(t).mul_(eps).add_(t)


def reptile_steps(task_rows: dict[str, np.ndarray], inner_steps: int, eps: float):
    """A step factory: one call = one Reptile outer step (``inner_steps`` minibatch steps on one task)."""
    names = list(task_rows)
    sizes = np.array([len(task_rows[n]) for n in names], dtype=np.float64)
    probs = sizes / sizes.sum()

    def make(settings: Settings) -> StepFn:
        streams = {n: BatchStream(task_rows[n], settings.batch_size) for n in names}

        def step(ctx: StepContext) -> float | np.ndarray:
            theta = [p.detach().clone() for p in ctx.params]
            task = names[int(ctx.rng.choice(len(names), p=probs))]
            losses = [supervised_step(ctx, streams[task].next(ctx.rng), SHARED_HEAD) for _ in range(inner_steps)]
            outer_update(ctx.params, theta, eps)
            return np.mean(np.asarray(losses), axis=0) if np.ndim(losses[0]) else float(np.mean(np.asarray(losses)))

        return step

    return make
