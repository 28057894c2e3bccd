"""The meta-graph map's computation (mgl.model.graph_map): node layout, averaging over draws, the language x
language matrix, the collapsed (identity) graph, and a trained tiny model end to end."""

import numpy as np
import pytest
import torch

from mgl.errors import DataError
from mgl.methods.mgl.meta_graph import MetaGraph, normalize_adjacency, rbf_adjacency, topk_symmetric
from mgl.model.graph_map import GraphMap, language_matrix, meta_graph_map, node_name

pytestmark = pytest.mark.unit

LANGS = ["en", "fr", "de", "ja"]
LABELS = ["positive", "negative"]


def one_per_node(dim: int = 6, seed: int = 0):
    """Exactly one instance per (language, class): the map is then a single, known matrix."""
    rng = np.random.default_rng(seed)
    langs = [lang for lang in LANGS for _ in LABELS]
    labs = [lab for _ in LANGS for lab in LABELS]
    return torch.as_tensor(rng.normal(size=(8, dim)), dtype=torch.float32), langs, labs


def test_one_instance_per_node_gives_the_graphs_own_matrix():
    emb, langs, labs = one_per_node()
    graph = MetaGraph(6, k=10, learn_sigma=False)
    gm = meta_graph_map(
        graph, emb, langs, labs, language_order=LANGS, label_order=LABELS, positive="positive", k=2, samples=5
    )
    assert gm.nodes == ["EN+", "EN-", "FR+", "FR-", "DE+", "DE-", "JA+", "JA-"]
    with torch.no_grad():
        a = rbf_adjacency(emb, torch.ones(8, 1), graph.scale(emb))
        expected = normalize_adjacency(topk_symmetric(a, 2)).double().numpy()
    np.testing.assert_allclose(gm.mean, expected, atol=1e-6)
    assert np.allclose(gm.std, 0.0)  # every draw is the same graph
    assert np.allclose(gm.mean, gm.mean.T)
    # K = 2: a row keeps itself, its nearest neighbour and whoever chose it; never all 8 nodes
    assert ((gm.mean > 0).sum(1) < 8).all() and ((gm.mean > 0).sum(1) >= 2).all()
    assert gm.sigma_mean == [1.0] * 8


def test_k_is_overridden_for_the_map_only():
    emb, langs, labs = one_per_node()
    graph = MetaGraph(6, k=10, learn_sigma=False)
    dense = meta_graph_map(graph, emb, langs, labs, language_order=LANGS, label_order=LABELS, k=8, samples=1)
    sparse = meta_graph_map(graph, emb, langs, labs, language_order=LANGS, label_order=LABELS, k=2, samples=1)
    assert (dense.mean > 0).all() and (sparse.mean == 0).any()
    assert graph.k == 10


def test_the_mean_is_over_draws_and_seeded():
    rng = np.random.default_rng(1)
    langs = [lang for lang in LANGS for _ in LABELS for _ in range(5)]
    labs = [lab for _ in LANGS for lab in LABELS for _ in range(5)]
    emb = torch.as_tensor(rng.normal(size=(len(langs), 6)), dtype=torch.float32)
    graph = MetaGraph(6, k=10, learn_sigma=False)
    a = meta_graph_map(graph, emb, langs, labs, language_order=LANGS, label_order=LABELS, samples=40, seed=3)
    b = meta_graph_map(graph, emb, langs, labs, language_order=LANGS, label_order=LABELS, samples=40, seed=3)
    c = meta_graph_map(graph, emb, langs, labs, language_order=LANGS, label_order=LABELS, samples=40, seed=4)
    np.testing.assert_array_equal(a.mean, b.mean)
    assert not np.allclose(a.mean, c.mean)
    assert a.std.max() > 0  # the draws differ
    one = meta_graph_map(graph, emb, langs, labs, language_order=LANGS, label_order=LABELS, samples=1, seed=3)
    assert not np.allclose(one.mean, a.mean)


def test_language_matrix_leaves_self_loops_out():
    m = np.arange(16, dtype=float).reshape(4, 4)
    out = language_matrix(m, ["en", "en", "ja", "ja"], ["en", "ja"])
    # en-en: the off-diagonal pair (0,1) and (1,0) -> (1 + 4) / 2; en-ja: rows 0-1, cols 2-3
    assert out[0, 0] == pytest.approx(2.5)
    assert out[0, 1] == pytest.approx(np.mean([2, 3, 6, 7]))
    assert out[1, 1] == pytest.approx((11 + 14) / 2)


def test_a_collapsed_sigma_gives_an_identity_graph_and_says_so():
    emb, langs, labs = one_per_node()
    graph = MetaGraph(6, k=10, learn_sigma=True)
    with torch.no_grad():
        graph.sigma_head.bias.fill_(-8.0)  # sigma ~ 3e-4: every distance blows up, only self-loops stay
    gm = meta_graph_map(graph, emb, langs, labs, language_order=LANGS, label_order=LABELS, k=2, samples=3)
    np.testing.assert_allclose(gm.mean, np.eye(8), atol=1e-6)
    s = gm.summary()
    assert s["near_identity"] and s["diagonal_share"] == pytest.approx(1.0)
    assert max(gm.sigma_mean) < 1e-3
    d = gm.to_dict()
    assert d["summary"]["near_identity"] is True and len(d["adjacency_mean"]) == 8


def test_a_missing_language_class_is_a_data_error():
    emb, langs, labs = one_per_node()
    with pytest.raises(DataError, match="'ja' and class 'negative'"):
        meta_graph_map(MetaGraph(6), emb[:-1], langs[:-1], labs[:-1], language_order=LANGS, label_order=LABELS)


def test_node_names():
    assert node_name("en", "positive", LABELS, "positive") == "EN+"
    assert node_name("ja", "negative", LABELS, "positive") == "JA-"
    assert node_name("fr", "neutral", ["negative", "neutral", "positive"], None) == "FR:neutral"


def test_graph_map_summary_on_a_hand_made_matrix():
    m = np.array([[0.5, 0.25], [0.25, 0.5]])
    gm = GraphMap(
        ["A", "B"],
        ["en", "ja"],
        ["x", "x"],
        ["en", "ja"],
        m,
        np.zeros_like(m),
        language_matrix(m, ["en", "ja"], ["en", "ja"]),
        k=2,
        samples=1,
    )
    s = gm.summary()
    assert s["diagonal_share"] == pytest.approx(2 / 3) and not s["near_identity"]
    assert s["off_diagonal_mean"] == pytest.approx(0.25)
    assert np.isnan(gm.language_matrix[0, 0]) and gm.language_matrix[0, 1] == pytest.approx(0.25)


def test_json_keeps_tiny_weights():
    """A collapsed graph's off-diagonal weights are ~1e-7: the JSON keeps significant digits, not decimals."""
    m = np.array([[1.0, 2.5e-9], [2.5e-9, 1.0]])
    gm = GraphMap(
        ["A", "B"],
        ["en", "ja"],
        ["x", "x"],
        ["en", "ja"],
        m,
        np.zeros_like(m),
        language_matrix(m, ["en", "ja"], ["en", "ja"]),
        k=2,
        samples=1,
        sigma_mean=[1.23456789e-4, 1.0],
    )
    d = gm.to_dict()
    assert d["adjacency_mean"][0][1] == 2.5e-9 and d["language_matrix"][0][1] == 2.5e-9
    assert d["sigma_mean"][0] == 1.23457e-4
    assert d["summary"]["near_identity"]
    one = GraphMap(
        ["A", "B"],
        ["en", "ja"],
        ["x", "x"],
        ["en", "ja"],
        m,
        np.zeros_like(m),
        language_matrix(m, ["en", "ja"], ["en", "ja"]),
        k=2,
        samples=1,
    )
    assert one.to_dict()["language_matrix"][0][0] is None  # one node per language: no pair inside it


def test_query_row_weights_on_a_hand_made_graph():
    """Two support nodes (en, ja) and two ja queries; a fixed adjacency, so every share is known."""
    from types import SimpleNamespace

    import numpy as np
    import torch

    from mgl.model.graph_map import query_row_weights

    adj = torch.tensor(
        [
            [1.0, 0.0, 0.0, 0.0],
            [0.0, 1.0, 0.0, 0.0],
            [0.2, 0.3, 0.5, 0.0],  # query 1: self 0.5, support 0.5, en 0.2
            [0.0, 0.1, 0.6, 0.3],
        ]
    )  # query 2: self 0.3, support 0.1, en 0 (ja query 0.6, ja support 0.1)

    class Graph(torch.nn.Module):
        def forward(self, h):
            return adj

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.graph = Graph()

    features = type("F", (), {"eval": lambda self: None, "__call__": lambda self, idx: torch.zeros(len(idx), 2)})()
    ep = SimpleNamespace(support=np.array([0, 1]), query=np.array([2, 3]), nodes=np.array([0, 1, 2, 3]))
    shares = query_row_weights(Model(), features, [ep], np.array(["en", "ja", "ja", "ja"]))
    assert shares["self"] == pytest.approx((0.5 + 0.3) / 2)
    assert shares["support"] == pytest.approx((0.5 + 0.1) / 2)
    assert shares["cross_language"] == pytest.approx((0.2 + 0.0) / 2)
    assert shares["query_rows"] == 2
