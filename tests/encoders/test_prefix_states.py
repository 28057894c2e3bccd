"""Top-k encoder training over cached lower-layer states (mgl.encoders.prefix_states, mgl.encoders.node_features.PrefixFeatures).

Two implementations of one thing are compared: the top k layers run on the cached float16
states against a full forward pass of the encoder on the texts.
"""

import numpy as np
import pytest
import torch

from mgl.encoders import EncoderSpec, TextEncoder
from mgl.encoders.node_features import EncoderFeatures, PrefixFeatures
from mgl.encoders.prefix_states import PrefixStateStore, compute_prefix_states
from mgl.errors import DataError, MGLError

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
PAIRS = ["a good book", None, "ein buch", None, "it was great", "i hate this film", None]


@pytest.fixture
def encoder(tiny_bert_dir):
    return TextEncoder(
        EncoderSpec(model=str(tiny_bert_dir), pooling="mean", max_length=32, precision="fp32"), device="cpu"
    )


def top1_states(encoder, folder):
    """The encoder in top-1 mode and its cached states of TEXTS/PAIRS below the top layer."""
    encoder.set_trainable("top-k", 1)
    return compute_prefix_states(
        encoder, TEXTS, PAIRS, 1, store=PrefixStateStore.for_encoder(encoder, 1, folder), progress=False
    )


@pytest.mark.parametrize("k", [1, 2])
@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_top_layers_over_cached_states_equal_a_full_forward_pass(tiny_bert_dir, tmp_path, k, pooling):
    encoder = TextEncoder(
        EncoderSpec(model=str(tiny_bert_dir), pooling=pooling, max_length=32, precision="fp32"), device="cpu"
    )
    encoder.set_trainable("top-k", k)
    store, locations = compute_prefix_states(
        encoder,
        TEXTS,
        PAIRS,
        encoder.num_layers - k,
        store=PrefixStateStore.for_encoder(encoder, encoder.num_layers - k, tmp_path),
        batch_size=3,
        progress=False,
    )
    prefix = PrefixFeatures(encoder, store, locations, batch_size=3)
    full = EncoderFeatures(encoder, TEXTS, PAIRS, batch_size=3)
    prefix.eval(), full.eval()
    with torch.no_grad():
        a, b = prefix(np.arange(len(TEXTS))), full(np.arange(len(TEXTS)))
    assert a.shape == b.shape == (len(TEXTS), encoder.dim)
    assert torch.allclose(a, b, atol=3e-3, rtol=0)  # float16 storage of the states (vectors are O(1))
    # rows of other inputs are not mixed in: one instance alone gives the same vector
    with torch.no_grad():
        assert torch.allclose(prefix.__class__(encoder, store, locations)(np.array([1])), a[1:2], atol=1e-5)


def test_states_are_stored_once_and_found_again(encoder, tmp_path):
    encoder.set_trainable("top-k", 1)
    store = PrefixStateStore.for_encoder(encoder, 1, tmp_path)
    _, first = compute_prefix_states(encoder, TEXTS, PAIRS, 1, store=store, progress=False)
    rows = len(store)
    size = store.size_bytes()
    assert rows == len(set(zip(TEXTS, PAIRS)))
    # a new store object on the same folder finds everything: nothing is recomputed or appended
    again = PrefixStateStore.for_encoder(encoder, 1, tmp_path)
    _, second = compute_prefix_states(encoder, TEXTS + TEXTS[:2], PAIRS + PAIRS[:2], 1, store=again, progress=False)
    assert second[: len(TEXTS)] == first and second[len(TEXTS) :] == first[:2]
    assert len(again) == rows and again.size_bytes() == size
    # each input stores exactly its real tokens, 2 bytes per value
    tokens = encoder.tokenize(TEXTS, PAIRS)["attention_mask"].sum(1).tolist()
    assert [loc.length for loc in first] == tokens
    assert again.read(first[0]).dtype == np.float16 and again.read(first[0]).shape == (tokens[0], encoder.dim)


def test_store_key_depends_on_frozen_weights_only(encoder, tmp_path):
    encoder.set_trainable("top-k", 1)
    before = encoder.prefix_identity(1)
    with torch.no_grad():
        encoder.model.encoder.layer[1].output.dense.weight.add_(0.5)  # a trained top layer
    assert encoder.prefix_identity(1) == before
    with torch.no_grad():
        encoder.model.encoder.layer[0].output.dense.weight.add_(0.5)  # a frozen layer changed
    assert encoder.prefix_identity(1) != before
    assert encoder.prefix_identity(1) != encoder.prefix_identity(0)


def test_gradients_reach_the_top_k_layers_only(encoder, tmp_path):
    store, locations = top1_states(encoder, tmp_path)
    features = PrefixFeatures(encoder, store, locations)
    features.train()
    features(np.arange(len(TEXTS))).pow(2).sum().backward()
    grads = {name: p.grad for name, p in encoder.model.named_parameters()}
    top = [n for n in grads if n.startswith("encoder.layer.1.")]
    assert top and all(grads[n] is not None and grads[n].abs().sum() > 0 for n in top)
    assert all(grads[n] is None for n in grads if not n.startswith("encoder.layer.1."))
    assert {id(p) for p in features.parameters()} == {id(p) for n, p in encoder.model.named_parameters() if n in top}


def test_eval_vectors_are_kept_until_the_weights_can_change(encoder, tmp_path):
    store, locations = top1_states(encoder, tmp_path)
    features = PrefixFeatures(encoder, store, locations)
    features.eval()
    with torch.no_grad():
        first = features(np.array([0, 1, 0]))
        assert torch.equal(first[0], first[2])
        state = features.state_dict()
        for value in state.values():
            value.add_(0.3)
        features.load_state_dict(state)  # new weights: the kept vectors are dropped
        assert not torch.allclose(features(np.array([0]))[0], first[0])


def test_prefix_features_need_top_k_mode(encoder, tmp_path):
    store = PrefixStateStore.for_encoder(encoder, 1, tmp_path)
    with pytest.raises(DataError, match="top-k"):
        PrefixFeatures(encoder, store, [])


def test_a_truncated_shard_is_a_clear_error(encoder, tmp_path):
    store, locations = top1_states(encoder, tmp_path)
    shard = next(store.folder.glob("shard-*.f16"))
    with open(shard, "r+b") as fh:
        fh.truncate(64)
    fresh = PrefixStateStore.for_encoder(encoder, 1, tmp_path)
    with pytest.raises(MGLError, match="shorter than its index"):
        fresh.read(locations[-1])


def test_states_derived_from_a_lower_layer_equal_the_direct_ones(encoder, tmp_path):
    encoder.set_trainable("top-k", 1)
    low_store, low = compute_prefix_states(
        encoder, TEXTS, PAIRS, 0, store=PrefixStateStore.for_encoder(encoder, 0, tmp_path / "a"), progress=False
    )
    derived_store, derived = compute_prefix_states(
        encoder,
        TEXTS,
        PAIRS,
        1,
        store=PrefixStateStore.for_encoder(encoder, 1, tmp_path / "b"),
        lower=(low_store, low, 0),
        progress=False,
        batch_size=2,
    )
    direct_store, direct = compute_prefix_states(
        encoder, TEXTS, PAIRS, 1, store=PrefixStateStore.for_encoder(encoder, 1, tmp_path / "c"), progress=False
    )
    for a, b in zip(derived, direct):
        x, y = derived_store.read(a).astype(np.float32), direct_store.read(b).astype(np.float32)
        assert x.shape == y.shape and np.allclose(x, y, atol=2e-2)  # float16 in, float16 out
    with pytest.raises(MGLError, match="cannot give"):
        compute_prefix_states(
            encoder,
            TEXTS,
            PAIRS,
            1,
            store=PrefixStateStore.for_encoder(encoder, 1, tmp_path / "d"),
            lower=(derived_store, derived, 1),
            progress=False,
        )


def test_top_layers_run_under_bf16_autocast_when_the_encoder_is_bf16(tiny_bert_dir, tmp_path):
    """encoder.precision=bf16: the trainable top layer runs under bfloat16 autocast (float32 master
    weights, float32 result), close to the float32 computation, and still gets gradients."""
    spec = {"model": str(tiny_bert_dir), "pooling": "mean", "max_length": 32}
    fp32 = TextEncoder(EncoderSpec(**spec, precision="fp32"), device="cpu")
    bf16 = TextEncoder(EncoderSpec(**spec, precision="bf16"), device="cpu")
    for enc in (fp32, bf16):
        enc.set_trainable("top-k", 1)
    store, locations = compute_prefix_states(
        fp32, TEXTS, PAIRS, 1, store=PrefixStateStore.for_encoder(fp32, 1, tmp_path), progress=False
    )
    a = PrefixFeatures(fp32, store, locations)
    b = PrefixFeatures(bf16, store, locations)
    a.eval(), b.eval()  # no dropout: the two computations differ by the bf16 rounding only
    with torch.no_grad():
        out_a, out_b = a(np.arange(len(TEXTS))), b(np.arange(len(TEXTS)))
    assert out_b.dtype == torch.float32 and bf16.model.encoder.layer[1].output.dense.weight.dtype == torch.float32
    assert torch.nn.functional.cosine_similarity(out_a, out_b).min() > 0.999 and not torch.equal(out_a, out_b)
    b.train()
    b(np.arange(len(TEXTS))).sum().backward()
    assert bf16.model.encoder.layer[1].output.dense.weight.grad is not None
    assert bf16.model.encoder.layer[0].output.dense.weight.grad is None
