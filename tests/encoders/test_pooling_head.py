"""The trainable pooling head (mgl.encoders.pooling_head) and its node features (mgl.encoders.node_features.PooledStateFeatures).

Two implementations of one thing are compared: the head at initialisation over the cached
float16 final states against the encoder's own mean pooling of a full forward pass; and the
batched head against the same head run on one input at a time.
"""

import numpy as np
import pytest
import torch

from mgl.config import EncoderConfig, load_config
from mgl.encoders import EncoderSpec, TextEncoder
from mgl.encoders.node_features import PooledStateFeatures
from mgl.encoders.pooling_head import AttentionPooling, make_pooling_head
from mgl.encoders.prefix_states import PrefixStateStore, compute_prefix_states
from mgl.errors import ConfigError, DataError

pytestmark = pytest.mark.unit

TEXTS = [
    "the book is very good",
    "a terrible boring film, not good at all, really bad",
    "das buch ist gut",
    "le livre est très bon",
    "i loved it",
    "hate",
    "the the the the the the the the the the the the",
]


@pytest.fixture
def encoder(tiny_bert_dir):
    return TextEncoder(
        EncoderSpec(model=str(tiny_bert_dir), pooling="mean", max_length=32, precision="fp32"), device="cpu"
    )


def head_features(encoder, folder, queries=3):
    store, locations = compute_prefix_states(
        encoder,
        TEXTS,
        None,
        encoder.num_layers,
        store=PrefixStateStore.for_encoder(encoder, encoder.num_layers, folder),
        batch_size=3,
        progress=False,
    )
    torch.manual_seed(0)
    return PooledStateFeatures(AttentionPooling(encoder.dim, queries), store, locations, lr=1e-2, batch_size=3)


def test_head_at_initialisation_is_mean_pooling(encoder, tmp_path):
    features = head_features(encoder, tmp_path)
    frozen = torch.as_tensor(encoder.embed(TEXTS, batch_size=3, progress=False))
    features.eval()
    with torch.no_grad():
        pooled = features(np.arange(len(TEXTS)))
    # the states are stored in float16: the vectors (O(1)) agree to its rounding
    assert torch.allclose(pooled, frozen, atol=2e-3, rtol=0)
    # on the same (float32) states, the head and the encoder's mean pooling agree to 1e-5
    batch = encoder.tokenize(TEXTS)
    with torch.no_grad():
        hidden = encoder.model(**batch).last_hidden_state
        head = AttentionPooling(encoder.dim, 4)
        assert torch.allclose(
            head(hidden, batch["attention_mask"]), encoder.pool(hidden, batch["attention_mask"]), atol=1e-5, rtol=0
        )
        # and the encoder run with the head as its pooler gives those vectors
        assert torch.allclose(
            torch.as_tensor(encoder.embed(TEXTS, batch_size=3, progress=False, pooler=head)), frozen, atol=1e-5, rtol=0
        )


def test_padding_gets_no_weight_and_batch_mates_change_nothing(encoder, tmp_path):
    features = head_features(encoder, tmp_path)
    with torch.no_grad():  # a head away from its initialisation
        for p in features.head.parameters():
            p.normal_(0, 0.3)
    features.eval()
    with torch.no_grad():
        together = features(np.arange(len(TEXTS)))
        features.load_state_dict(features.state_dict())  # clears the memo: recompute one by one
        alone = torch.cat([features(np.array([i])) for i in range(len(TEXTS))])
    assert torch.allclose(together, alone, atol=1e-5, rtol=0)
    assert not torch.allclose(together, torch.as_tensor(encoder.embed(TEXTS, progress=False)), atol=1e-2)


def test_bfloat16_token_table_agrees_with_float32(encoder, tmp_path):
    """A bf16 encoder's states are read in bfloat16: the vectors agree with float32 reading to bf16 rounding."""
    fp32 = head_features(encoder, tmp_path)
    bf16 = PooledStateFeatures(fp32.head, fp32.store, fp32.locations, dtype=torch.bfloat16, batch_size=3)
    with torch.no_grad():
        for p in fp32.head.parameters():
            p.normal_(0, 0.3)
    fp32.eval(), bf16.eval()
    with torch.no_grad():
        a, b = fp32(np.arange(len(TEXTS))), bf16(np.arange(len(TEXTS)))
    assert b.dtype == torch.float32
    assert torch.allclose(a, b, atol=5e-2, rtol=2e-2) and not torch.equal(a, b)


def test_gradients_reach_the_head_and_not_the_encoder(encoder, tmp_path):
    features = head_features(encoder, tmp_path)
    assert features.trainable and len(features) == len(TEXTS)
    assert {id(p) for p in features.parameters()} == {id(p) for p in features.head.parameters()}
    assert not any(id(p) in {id(q) for q in encoder.parameters()} for p in features.parameters())
    features.train()
    out = features(np.array([0, 1, 2, 5]))
    (out * torch.linspace(-1, 1, encoder.dim)).sum().backward()
    head = features.head
    # queries get a gradient at their zero start (through the mean of the pools), as do the mixing weights
    assert head.queries.grad is not None and head.queries.grad.abs().sum() > 0
    assert head.mix.weight.grad is not None and head.mix.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in encoder.parameters())
    # one optimiser step moves the vectors away from mean pooling
    before = out.detach().clone()
    torch.optim.Adam(features.parameters(), lr=features.lr).step()
    features.eval()
    with torch.no_grad():
        assert not torch.allclose(features(np.array([0, 1, 2, 5])), before, atol=1e-4)


def test_state_is_the_head_and_loads_strictly(encoder, tmp_path):
    features = head_features(encoder, tmp_path)
    state = features.state_dict()
    assert set(state) == {"pooling_head.queries", "pooling_head.mix.weight", "pooling_head.mix.bias"}
    with torch.no_grad():
        features.head.queries.add_(1.0)
    features.load_state_dict(state)
    assert torch.equal(features.head.queries, torch.zeros_like(features.head.queries))
    with pytest.raises(RuntimeError, match="Missing key"):
        features.load_state_dict({"pooling_head.queries": state["pooling_head.queries"]})
    with pytest.raises(DataError, match="outside the head"):
        features.load_state_dict({**state, "encoder.layer.0.weight": torch.zeros(1)})


def test_final_states_have_their_own_store_identity(encoder):
    top = encoder.num_layers
    assert encoder.prefix_identity(top) != encoder.prefix_identity(top - 1)
    before_top, before_below = encoder.prefix_identity(top), encoder.prefix_identity(top - 1)
    with torch.no_grad():  # the last layer changes the final states, not those below it
        encoder.model.encoder.layer[top - 1].output.dense.weight.add_(0.5)
    assert encoder.prefix_identity(top) != before_top
    assert encoder.prefix_identity(top - 1) == before_below


def test_config_switch_is_checked():
    cfg = load_config("amazon", None, ["encoder.pooling_head=attention", "encoder.pooling_queries=2"]).validate()
    assert cfg.encoder.pooling_head == "attention" and cfg.encoder.pooling_queries == 2
    for bad, message in [
        ({"pooling_head": "max"}, "pooling_head must be"),
        ({"pooling_head": "attention", "train": "all"}, "needs encoder.train=none"),
        ({"pooling_head": "attention", "pooling": "cls"}, "pooling=cls"),
        ({"pooling_head": "attention", "pooling_queries": 0}, "pooling_queries"),
    ]:
        with pytest.raises(ConfigError, match=message):
            EncoderConfig(**bad).validate()
    with pytest.raises(ValueError):
        make_pooling_head("none", 8)
