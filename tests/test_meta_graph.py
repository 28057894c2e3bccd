"""The meta graph's equations against small hand-computed examples and a naive second implementation."""

import math

import pytest
import torch

from mgl.methods.mgl.meta_graph import (
    MetaGraph,
    MetaGraphNetwork,
    normalize_adjacency,
    pairwise_sq_distances,
    query_loss,
    rbf_adjacency,
    topk_symmetric,
)

pytestmark = pytest.mark.unit


def test_sigma_head_eq1_by_hand():
    graph = MetaGraph(2, k=3)
    with torch.no_grad():
        graph.sigma_head.weight.copy_(torch.tensor([[1.0, -2.0]]))
        graph.sigma_head.bias.fill_(0.5)
    h = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    expected = torch.sigmoid(torch.tensor([[1.5], [-1.5], [-0.5]]))
    assert torch.allclose(graph.sigma(h), expected)


def test_sigma_fixed_to_one_without_head():
    graph = MetaGraph(4, k=2, learn_sigma=False)
    assert graph.sigma_head is None
    assert list(graph.parameters()) == []
    assert torch.equal(graph.sigma(torch.randn(5, 4)), torch.ones(5, 1))


def test_rbf_eq2_by_hand():
    h = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    sigma = torch.tensor([[0.5], [1.0]])
    # h1/s1 = (2, 0), h2/s2 = (0, 1): squared distance 4 + 1 = 5
    a = rbf_adjacency(h, sigma, scale=1.0)
    assert a[0, 1].item() == pytest.approx(math.exp(-2.5))
    assert a[1, 0].item() == pytest.approx(math.exp(-2.5))
    assert torch.allclose(torch.diagonal(a), torch.ones(2))
    # a scale divides the squared distance
    assert rbf_adjacency(h, sigma, scale=5.0)[0, 1].item() == pytest.approx(math.exp(-0.5))


def test_pairwise_distances_match_cdist():
    x = torch.randn(7, 5, dtype=torch.float64)
    assert torch.allclose(pairwise_sq_distances(x), torch.cdist(x, x) ** 2, atol=1e-10)
    assert torch.all(torch.diagonal(pairwise_sq_distances(x)) == 0)


def test_topk_keeps_k_per_row_and_is_symmetric():
    a = torch.tensor(
        [
            [1.0, 0.9, 0.1, 0.2],
            [0.9, 1.0, 0.3, 0.1],
            [0.1, 0.3, 1.0, 0.8],
            [0.2, 0.1, 0.8, 1.0],
        ]
    )
    kept = topk_symmetric(a, 2)
    expected = torch.tensor(
        [
            [1.0, 0.9, 0.0, 0.0],
            [0.9, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.8],
            [0.0, 0.0, 0.8, 1.0],
        ]
    )
    assert torch.equal(kept, expected)
    # asymmetric top-k choices are joined by union: row 0 picks 3, row 3 does not pick 0
    b = torch.tensor(
        [
            [1.0, 0.2, 0.1, 0.5],
            [0.2, 1.0, 0.6, 0.1],
            [0.1, 0.6, 1.0, 0.7],
            [0.5, 0.1, 0.7, 1.0],
        ]
    )
    kept = topk_symmetric(b, 2)
    assert torch.equal(kept, kept.T)
    assert kept[0, 3] == 0.5 and kept[3, 0] == 0.5  # 3 is in row 0's top-2
    assert (kept > 0).sum(dim=1).min() >= 2  # every row keeps at least K
    assert torch.equal(topk_symmetric(b, 10), b)  # K >= |V| keeps everything


def test_normalisation_eq4_by_hand():
    a = torch.tensor([[1.0, 0.5], [0.5, 1.0]])
    # degrees 1.5 and 1.5: D^-1/2 A D^-1/2 = A / 1.5
    assert torch.allclose(normalize_adjacency(a), a / 1.5)
    a = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 1.0, 1.0]])
    deg = torch.tensor([2.0, 3.0, 2.0])
    expected = torch.tensor([[a[i, j] / math.sqrt(deg[i] * deg[j]) for j in range(3)] for i in range(3)])
    assert torch.allclose(normalize_adjacency(a), expected)


def naive_adjacency(graph: MetaGraph, h: torch.Tensor) -> torch.Tensor:
    """Eq. 1, 2, top-K (union) and eq. 4 written out with loops, as a second implementation."""
    n, _d = h.shape
    sigma = [torch.sigmoid(graph.sigma_head(h[j])).item() if graph.sigma_head is not None else 1.0 for j in range(n)]
    dist = [[float(((h[i] - h[j]) ** 2).sum()) for j in range(n)] for i in range(n)]
    s = sum(dist[i][j] for i in range(n) for j in range(n) if i != j) / (n * (n - 1))
    a = [
        [math.exp(-0.5 * float(((h[i] / sigma[i] - h[j] / sigma[j]) ** 2).sum()) / s) for j in range(n)]
        for i in range(n)
    ]
    top = [set(sorted(range(n), key=lambda j: -a[i][j])[: graph.k]) for i in range(n)]
    kept = [[a[i][j] if (j in top[i] or i in top[j]) else 0.0 for j in range(n)] for i in range(n)]
    deg = [sum(row) for row in kept]
    return torch.tensor([[kept[i][j] / math.sqrt(deg[i] * deg[j]) for j in range(n)] for i in range(n)])


@pytest.mark.parametrize("learn_sigma", [True, False])
def test_meta_graph_matches_naive_implementation(learn_sigma):
    torch.manual_seed(0)
    graph = MetaGraph(6, k=3, learn_sigma=learn_sigma).double()
    if learn_sigma:
        with torch.no_grad():
            graph.sigma_head.weight.normal_(0, 0.5)
    h = torch.randn(9, 6, dtype=torch.float64) * 3
    adj = graph(h)
    assert torch.allclose(adj, naive_adjacency(graph, h).double(), atol=1e-9)
    assert torch.allclose(adj, adj.T)


def test_mean_scale_keeps_exponent_useful_in_768d():
    """Unscaled squared distances of 768-d embeddings underflow exp(); the mean scale does not."""
    torch.manual_seed(0)
    h = torch.randn(40, 768) * 0.5 + torch.randn(768) * 2  # a shared offset, like real sentence embeddings
    raw = MetaGraph(768, k=40, distance_scale="none", learn_sigma=False).adjacency(h)
    off = ~torch.eye(40, dtype=torch.bool)
    assert raw[off].max() < 1e-30  # eq. 2 verbatim: every edge is (numerically) zero
    scaled = MetaGraph(768, k=40, distance_scale="mean", learn_sigma=False).adjacency(h)
    assert scaled[off].min() > 1e-3 and scaled[off].max() < 1.0
    assert scaled[off].mean().item() == pytest.approx(math.exp(-0.5), rel=0.05)
    dim = MetaGraph(768, k=40, distance_scale="dim", learn_sigma=False).adjacency(h)
    assert dim[off].min() > 1e-3


def test_weights_initialised_uniform():
    net = MetaGraphNetwork(64, 2, hidden_dim=32, init_range=0.01)
    for name, p in net.named_parameters():
        if name.endswith("weight"):
            assert p.abs().max() <= 0.01 and p.abs().max() > 0.001, name
        else:
            assert torch.all(p == 0), name


def test_two_layer_gcn_eq5_by_hand():
    torch.manual_seed(1)
    net = MetaGraphNetwork(5, 3, hidden_dim=4, k=4, negative_slope=0.2).eval()
    h = torch.randn(6, 5)
    labels = torch.tensor([0, 1, 2])
    adj = net.graph(h)
    w0, b0 = net.layers[0].linear.weight, net.layers[0].linear.bias
    w1, b1 = net.layers[1].linear.weight, net.layers[1].linear.bias
    l1 = torch.nn.functional.leaky_relu(adj @ (h @ w0.T + b0), 0.2)
    z = torch.softmax(adj @ (l1 @ w1.T + b1), dim=-1)
    assert torch.allclose(net(h, labels).exp(), z, atol=1e-6)


@pytest.mark.parametrize("layers", [1, 2, 3, 4])
def test_gcn_depth(layers):
    net = MetaGraphNetwork(8, 2, hidden_dim=16, num_layers=layers, k=3)
    assert len(net.layers) == layers
    out = net(torch.randn(10, 8), torch.tensor([0, 1, 0, 1]))
    assert out.shape == (10, 2)
    assert torch.allclose(out.exp().sum(-1), torch.ones(10))


def test_dropout_only_in_training_mode():
    torch.manual_seed(0)
    net = MetaGraphNetwork(8, 2, hidden_dim=64, k=4, init_range=0.5)
    h, labels = torch.randn(10, 8), torch.tensor([0, 1])
    net.eval()
    assert torch.equal(net(h, labels), net(h, labels))
    net.train()
    assert not torch.equal(net(h, labels), net(h, labels))


def test_label_features_change_support_inputs_only():
    net = MetaGraphNetwork(4, 3, hidden_dim=8, k=3, label_features=True)
    h = torch.randn(5, 4)
    x = net.node_inputs(h, torch.tensor([2, 0]))
    assert x.shape == (5, 7)
    assert torch.equal(x[0, 4:], torch.tensor([0.0, 0.0, 1.0]))
    assert torch.allclose(x[4, 4:], torch.full((3,), 1 / 3))


def test_query_loss_eq6_sums_over_queries_and_reaches_sigma():
    torch.manual_seed(0)
    net = MetaGraphNetwork(6, 2, hidden_dim=8, k=4)
    h = torch.randn(8, 6)
    log_probs = net(h, torch.tensor([0, 1, 0, 1, 0]))
    q = torch.tensor([1, 0, 1])
    loss = query_loss(log_probs, q)
    expected = -(log_probs[5, 1] + log_probs[6, 0] + log_probs[7, 1])
    assert loss.item() == pytest.approx(expected.item())
    loss.backward()
    assert net.graph.sigma_head.weight.grad is not None
    assert net.graph.sigma_head.weight.grad.abs().sum() > 0
