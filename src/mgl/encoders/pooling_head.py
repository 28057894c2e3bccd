r"""A trainable pooling of a frozen encoder's final token states, initialised to mean pooling.

On a frozen encoder every method reads the same mean-pooled vectors, and the meta graph has
no say in the space it builds its graph in (its sigma then collapses the graph to
self-loops, docs/results/graph.md). :class:`AttentionPooling` gives it a small trainable say
at frozen-encoder cost: the final-layer token states are computed once and cached
(:mod:`mgl.encoders.prefix_states` at ``frozen_layers = L``), and only this head runs per
episode.

For an input with real tokens :math:`t = 1..T` (attention mask 1) and final states
:math:`\mathbf{h}_t \in \mathbb{R}^d`, with :math:`Q` learned queries
:math:`\mathbf{q}_1..\mathbf{q}_Q \in \mathbb{R}^d`:

.. math::

    \alpha_{j,t} = \operatorname{softmax}_t\!\Big(\frac{\mathbf{q}_j^\top \mathbf{h}_t}{\sqrt d}\Big),
    \qquad
    \mathbf{p}_j = \sum_{t=1}^{T} \alpha_{j,t}\, \mathbf{h}_t,

    \mathbf{z} = \frac{1}{Q} \sum_{j=1}^{Q} \mathbf{p}_j
               + \mathbf{W} \,[\mathbf{p}_1 \,\Vert\, \dots \,\Vert\, \mathbf{p}_Q] + \mathbf{b},
    \qquad \mathbf{W} \in \mathbb{R}^{d \times Qd}.

:meth:`reset_parameters` sets :math:`\mathbf{q}_j = \mathbf{0}` (every score 0, so
:math:`\alpha_{j,t} = 1/T` and :math:`\mathbf{p}_j` is the mean of the real tokens' states),
:math:`\mathbf{W} = \mathbf{0}` and :math:`\mathbf{b} = \mathbf{0}`: at initialisation
:math:`\mathbf{z}` **is** mean pooling, so a model starts from the frozen encoder's vectors.
The mixing term is a residual on the mean of the queries' pools, so weight decay pulls the
head back towards "average of the queries" rather than towards a zero vector. Gradients reach
the queries through the first term even while :math:`\mathbf{W} = \mathbf{0}`. Padding
positions get a score of :math:`-\infty` (no weight).

Parameters: :math:`Qd + Qd^2 + d` (for :math:`d = 384`, :math:`Q = 4`: 591,744).
"""

from __future__ import annotations

import math

import torch
from torch import nn

from mgl.encoders.spec import POOLING_HEADS

__all__ = ["POOLING_HEADS", "AttentionPooling", "make_pooling_head"]


class AttentionPooling(nn.Module):
    """Attention pooling with ``queries`` learned queries, mixed back to ``dim`` (see the module docstring).

    Args:
        dim: hidden size ``d`` of the token states.
        queries: number of learned queries ``Q`` (>= 1).
    """

    def __init__(self, dim: int, queries: int = 4):
        super().__init__()
        if dim < 1 or queries < 1:
            raise ValueError(f"AttentionPooling needs dim >= 1 and queries >= 1, got {dim}, {queries}")
        self.dim, self.num_queries = int(dim), int(queries)
        self.queries = nn.Parameter(torch.empty(self.num_queries, self.dim))
        self.mix = nn.Linear(self.num_queries * self.dim, self.dim)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Queries, mixing weights and bias to zero: the head is mean pooling."""
        nn.init.zeros_(self.queries)
        nn.init.zeros_(self.mix.weight)
        nn.init.zeros_(self.mix.bias)

    def forward(self, hidden: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Pool ``hidden`` ``[n, T, d]`` (``attention_mask`` ``[n, T]``, 1 on real tokens) into ``[n, d]``.

        Float32 states are pooled in float32. BFloat16 states (a bf16 encoder's, which float16
        storage holds exactly) are read in bfloat16 by the two products over the tokens, which
        accumulate in float32; scores, softmax, the mixing and the result are float32.
        """
        dtype = torch.bfloat16 if hidden.dtype == torch.bfloat16 else self.queries.dtype
        hidden = hidden.to(dtype)
        real = attention_mask.to(device=hidden.device, dtype=torch.bool)
        # explicit matmul / bmm: einsum's backward was twice as slow on a CPU (benchmarks/bench_head_step.py)
        scores = torch.matmul(hidden, (self.queries / math.sqrt(self.dim)).to(dtype).t()).float()  # [n, T, Q]
        scores = scores.masked_fill(~real.unsqueeze(-1), float("-inf"))
        weights = torch.nan_to_num(torch.softmax(scores, dim=1), nan=0.0)  # an input without real tokens pools to zero
        pooled = torch.bmm(weights.transpose(1, 2).to(dtype), hidden).float()  # [n, Q, d]
        return pooled.mean(dim=1) + self.mix(pooled.reshape(pooled.shape[0], -1))

    def extra_repr(self) -> str:
        return f"dim={self.dim}, queries={self.num_queries}"


def make_pooling_head(name: str, dim: int, queries: int = 4) -> nn.Module:
    """The head ``encoder.pooling_head`` names (``attention``); ``none`` has no head."""
    if name == "attention":
        return AttentionPooling(dim, queries)
    raise ValueError(f"no pooling head {name!r} (choose from {', '.join(POOLING_HEADS[1:])})")
