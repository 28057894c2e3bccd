r"""The meta graph and the GCN that propagates labels' evidence over it (MGL, Sec. 4.3.3-4.3.5).

An episode's support and query instances are the nodes of one graph. Given their
encoder representations :math:`H = [h_1; \dots; h_{|V|}]`:

.. math::

    \sigma_j = \mathrm{sigmoid}(W_\sigma h_j + b_\sigma)                              \qquad (1)

    A_{jj'} = \exp\Big(-\frac{1}{2}\,\frac{1}{s}\,
              \Big\lVert \frac{h_j}{\sigma_j} - \frac{h_{j'}}{\sigma_{j'}} \Big\rVert_2^2\Big)  \qquad (2)

    \text{keep the } K \text{ largest entries of each row of } A

    \tilde A = D^{-1/2} A D^{-1/2}, \quad D_{jj} = \textstyle\sum_{j'} A_{jj'}        \qquad (4)

    L^{(n+1)} = \rho(\tilde A L^{(n)} W^{(n)}), \quad L^{(0)} = H                   \qquad (3)

    z = \mathrm{softmax}(\tilde A L^{(n)} W^{(n)}) \text{ for the last layer}         \qquad (5)

with :math:`\rho` the LeakyReLU and dropout 0.5 on the first layer's node
representations. The last :math:`|Q|` rows of :math:`z` score the query nodes; the
loss (eq. 6) is the summed cross-entropy over them.

Decisions the paper leaves open, made here and configurable:

* **Scale of the exponent** (``distance_scale``). Squared Euclidean distances between
  384-d or 768-d sentence embeddings are in the tens to hundreds, so
  :math:`\exp(-d/2)` underflows to 0 and the graph carries no information. The
  squared distances are therefore divided by a scale :math:`s`:

  - ``"mean"`` (default): :math:`s` is the mean squared distance between distinct
    nodes of the episode, computed on the *unscaled* embeddings (sigma fixed to 1) and
    treated as a constant (no gradient). A typical pair then sits at
    :math:`\exp(-1/2)` before sigma; the learned :math:`\sigma_j<1` sharpens the
    kernel from there. This makes eq. 2 independent of the encoder's dimension and
    norm.
  - ``"dim"``: :math:`s = \dim h` (the mean over dimensions, as in TPN's
    implementation, Liu et al. 2019, on which MGL's graph construction builds).
  - ``"none"``: :math:`s = 1`, eq. 2 verbatim (only sensible for small, unit-scale
    features).

* **Symmetric top-K.** Row-wise top-K is not symmetric. An edge is kept when either
  endpoint has the other among its K nearest neighbours (the union, as TPN does), so
  the kept matrix is symmetric and :math:`D^{-1/2} A D^{-1/2}` is a proper symmetric
  normalisation. Self-similarities :math:`A_{jj}=1` are kept (they are always in a
  row's top-K), which plays the role of the self-loop of Kipf and Welling's GCN.
  With ``K >= |V|`` every edge is kept.

* **Support labels.** Eq. 3-5 feed only :math:`H` to the GCN; support labels enter
  the loss only through the balanced make-up of the episode. ``label_features=True``
  (an extension, off by default) appends the support nodes' one-hot labels (and a
  uniform :math:`1/|Y|` vector for query nodes) to the input features, in the manner
  of Garcia and Bruna's few-shot GNN.

Ablation switches: ``learn_sigma=False`` fixes :math:`\sigma_j = 1` ("w/o sigma");
``num_layers`` sets the GCN depth (1 to 4 in the paper's Table 3).
"""

from __future__ import annotations

import itertools
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from mgl.config import DISTANCE_SCALES


def uniform_init_(module: nn.Linear, bound: float) -> None:
    """Weights ~ U(-bound, bound) (the paper's U(-0.01, 0.01)); biases zero."""
    nn.init.uniform_(module.weight, -bound, bound)
    if module.bias is not None:
        nn.init.zeros_(module.bias)


def pairwise_sq_distances(x: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances between the rows of ``x``: ``||x_j - x_j'||^2``.

    Computed as ``|x_j|^2 + |x_j'|^2 - 2 x_j.x_j'`` and clamped at 0 (rounding can make
    it slightly negative); the diagonal is exactly 0.
    """
    sq = (x * x).sum(dim=-1)
    d = sq.unsqueeze(-1) + sq.unsqueeze(-2) - 2.0 * (x @ x.transpose(-1, -2))
    d = d.clamp_min(0.0)
    return d - torch.diag_embed(torch.diagonal(d, dim1=-2, dim2=-1))


def rbf_adjacency(h: torch.Tensor, sigma: torch.Tensor, scale: torch.Tensor | float = 1.0) -> torch.Tensor:
    """Eq. 2: ``A_jj' = exp(-1/2 * ||h_j/sigma_j - h_j'/sigma_j'||^2 / scale)``.

    ``h`` is ``[V, d]``, ``sigma`` is ``[V, 1]`` (or broadcastable), ``scale`` a positive scalar.
    """
    return torch.exp(-0.5 * pairwise_sq_distances(h / sigma) / scale)


def topk_symmetric(a: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the K largest entries of each row, then symmetrise by union.

    Entry ``(j, j')`` survives when ``j'`` is among the K nearest neighbours of ``j`` or
    ``j`` among those of ``j'``. The result is symmetric whenever ``a`` is.
    """
    n = a.shape[-1]
    if k >= n:
        return a
    idx = a.topk(k, dim=-1).indices
    mask = torch.zeros_like(a, dtype=torch.bool).scatter_(-1, idx, True)
    mask = mask | mask.transpose(-1, -2)
    return a * mask


def normalize_adjacency(a: torch.Tensor, eps: float = 1e-12) -> torch.Tensor:
    """Eq. 4: ``D^-1/2 A D^-1/2`` with ``D_jj`` the sum of row ``j`` of ``A``."""
    deg = a.sum(dim=-1)
    inv_sqrt = deg.clamp_min(eps).rsqrt()
    return inv_sqrt.unsqueeze(-1) * a * inv_sqrt.unsqueeze(-2)


class MetaGraph(nn.Module):
    """Builds the normalised adjacency of an episode from its node embeddings (eq. 1, 2, 4).

    Args:
        in_dim: dimension of the node embeddings ``h_j``.
        k: neighbours kept per row (Table 4: 10 for reviews, 100 for search relevance).
        learn_sigma: learn the instance-wise length scale (eq. 1); ``False`` fixes sigma to 1.
        distance_scale: ``"mean"``, ``"dim"`` or ``"none"`` (see the module docstring).
        init_range: weights of the sigma head ~ U(-init_range, init_range).
    """

    def __init__(
        self,
        in_dim: int,
        k: int = 10,
        *,
        learn_sigma: bool = True,
        distance_scale: str = "mean",
        init_range: float = 0.01,
    ):
        super().__init__()
        if distance_scale not in DISTANCE_SCALES:
            raise ValueError(f"distance_scale must be one of {DISTANCE_SCALES}, got {distance_scale!r}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        self.in_dim = in_dim
        self.k = k
        self.learn_sigma = learn_sigma
        self.distance_scale = distance_scale
        self.init_range = init_range
        self.sigma_head = nn.Linear(in_dim, 1) if learn_sigma else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        if self.sigma_head is not None:
            uniform_init_(self.sigma_head, self.init_range)

    def sigma(self, h: torch.Tensor) -> torch.Tensor:
        """Eq. 1: ``sigma_j = sigmoid(W_sigma h_j + b_sigma)``, shape ``[V, 1]`` (ones without the head)."""
        if self.sigma_head is None:
            return h.new_ones((*h.shape[:-1], 1))
        return torch.sigmoid(self.sigma_head(h))

    def scale(self, h: torch.Tensor) -> torch.Tensor:
        """The constant ``s`` dividing the squared distances of eq. 2 (no gradient flows through it)."""
        if self.distance_scale == "none":
            return h.new_tensor(1.0)
        if self.distance_scale == "dim":
            return h.new_tensor(float(h.shape[-1]))
        with torch.no_grad():
            n = h.shape[-2]
            d = pairwise_sq_distances(h)
            mean = d.sum(dim=(-1, -2)) / max(n * (n - 1), 1)
            return mean.clamp_min(1e-12)[..., None, None]  # one scale per graph of a batch [B, V, d]

    def adjacency(self, h: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """The top-K, symmetric RBF adjacency ``A`` (before normalisation)."""
        a = rbf_adjacency(h, self.sigma(h), self.scale(h))
        return topk_symmetric(a, self.k if k is None else k)

    def forward(self, h: torch.Tensor, k: int | None = None) -> torch.Tensor:
        """The normalised adjacency ``A~`` of eq. 4, ``[V, V]``."""
        return normalize_adjacency(self.adjacency(h, k))


class GCNLayer(nn.Module):
    """One graph convolution ``A~ L W`` (eq. 3 before the non-linearity)."""

    def __init__(self, in_dim: int, out_dim: int, init_range: float = 0.01):
        super().__init__()
        self.linear = nn.Linear(in_dim, out_dim)
        self.init_range = init_range
        self.reset_parameters()

    def reset_parameters(self) -> None:
        uniform_init_(self.linear, self.init_range)

    def forward(self, x: torch.Tensor, adj: torch.Tensor) -> torch.Tensor:
        return adj @ self.linear(x)


class MetaGraphNetwork(nn.Module):
    """The MGL meta-learner on top of the encoder: meta graph + GCN + softmax (eq. 1-5).

    ``forward(h, support_labels)`` takes the node embeddings of one episode, support
    nodes first and query nodes last, and returns log-probabilities ``log z`` for every
    node, ``[V, |Y|]``. The query rows are the last ``V - len(support_labels)``. A batch of
    graphs of the same size, ``h`` of shape ``[B, V, d]`` sharing the support labels, gives
    ``[B, V, |Y|]``: each graph is built and propagated on its own.

    Args:
        in_dim: encoder dimension.
        num_classes: ``|Y|``.
        hidden_dim: width of the hidden GCN layers (Table 4's dim0 = dim1 = 768).
        num_layers: GCN depth (default 2, eq. 5).
        k: neighbours kept per row of the adjacency.
        learn_sigma: the sigma head of eq. 1 (False: the "w/o sigma" ablation).
        dropout: dropout on the first layer's node representations (0.5).
        negative_slope: LeakyReLU slope.
        distance_scale: see :class:`MetaGraph`.
        label_features: append support labels to the node features (extension, off by default).
        init_range: all weights ~ U(-init_range, init_range).
    """

    def __init__(
        self,
        in_dim: int,
        num_classes: int,
        *,
        hidden_dim: int = 768,
        num_layers: int = 2,
        k: int = 10,
        learn_sigma: bool = True,
        dropout: float = 0.5,
        negative_slope: float = 0.01,
        distance_scale: str = "mean",
        label_features: bool = False,
        init_range: float = 0.01,
    ):
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        if num_classes < 2:
            raise ValueError(f"num_classes must be >= 2, got {num_classes}")
        self.num_classes = num_classes
        self.label_features = label_features
        self.graph = MetaGraph(in_dim, k, learn_sigma=learn_sigma, distance_scale=distance_scale, init_range=init_range)
        gcn_in = in_dim + (num_classes if label_features else 0)
        dims = [gcn_in] + [hidden_dim] * (num_layers - 1) + [num_classes]
        self.layers = nn.ModuleList(GCNLayer(a, b, init_range) for a, b in itertools.pairwise(dims))
        self.dropout = nn.Dropout(dropout)
        self.negative_slope = negative_slope

    def reset_parameters(self) -> None:
        self.graph.reset_parameters()
        for layer in self.layers:
            cast(GCNLayer, layer).reset_parameters()

    def node_inputs(self, h: torch.Tensor, support_labels: torch.Tensor) -> torch.Tensor:
        """``L^(0)``: the embeddings, plus one-hot support labels when ``label_features`` is on."""
        if not self.label_features:
            return h
        n_support = support_labels.shape[0]
        extra = h.new_full((*h.shape[:-1], self.num_classes), 1.0 / self.num_classes)
        extra[..., :n_support, :] = F.one_hot(support_labels, self.num_classes).to(h.dtype)
        return torch.cat([h, extra], dim=-1)

    def forward(self, h: torch.Tensor, support_labels: torch.Tensor, adj: torch.Tensor | None = None) -> torch.Tensor:
        """Log-probabilities ``log z`` of eq. 5 for all ``V`` nodes."""
        if adj is None:
            adj = self.graph(h)
        x = self.node_inputs(h, support_labels)
        for i, layer in enumerate(self.layers):
            x = layer(x, adj)
            if i < len(self.layers) - 1:
                x = F.leaky_relu(x, self.negative_slope)
                if i == 0:
                    x = self.dropout(x)
        return F.log_softmax(x, dim=-1)


def query_loss(log_probs: torch.Tensor, query_labels: torch.Tensor) -> torch.Tensor:
    """Eq. 6: the summed cross-entropy over the query nodes (the last ``|Q|`` rows)."""
    q = query_labels.shape[0]
    return F.nll_loss(log_probs[-q:], query_labels, reduction="sum")
