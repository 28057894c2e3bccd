"""TextEncoder over a tiny random BERT (tests/conftest.py): pooling, prefix, pairs, truncation,
the frozen embed path, trainability, identity, and device resolution."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from mgl.encoders import EncoderSpec, TextEncoder, resolve_device
from mgl.encoders.batching import bucket_length, plan_bucket_batches, plan_length_batches
from mgl.errors import MGLError

pytestmark = pytest.mark.unit

WORDS = [
    "the",
    "a",
    "book",
    "film",
    "great",
    "good",
    "bad",
    "terrible",
    "boring",
    "love",
    "hate",
    "not",
    "very",
    "das",
    "buch",
    "ist",
    "gut",
    "le",
    "livre",
    "est",
    "bon",
]


def sentences(n: int, seed: int = 0, max_words: int = 40) -> list[str]:
    """``n`` random sentences of very different lengths (1 to ``max_words`` words)."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, max_words))) for _ in range(n)]


@pytest.fixture()
def make(tiny_bert_dir):
    def build(**settings) -> TextEncoder:
        return TextEncoder(EncoderSpec(model=str(tiny_bert_dir), **{"precision": "fp32", **settings}), device="cpu")

    return build


def hidden_states(encoder: TextEncoder, batch) -> torch.Tensor:
    with torch.no_grad():
        return encoder.model(**batch).last_hidden_state


# ---------------------------------------------------------------------------- spec and loading


def test_defaults_of_a_plain_model_directory(make, tiny_bert_dir):
    encoder = make()
    assert encoder.spec == EncoderSpec(
        model=str(tiny_bert_dir), pooling="cls", prefix="", max_length=256, precision="fp32"
    )
    assert encoder.dim == 32
    assert encoder.device == torch.device("cpu")
    assert not encoder.training
    assert all(not p.requires_grad for p in encoder.parameters())


def test_spec_validation_and_round_trip():
    with pytest.raises(MGLError, match="pooling"):
        EncoderSpec(pooling="max")
    with pytest.raises(MGLError, match="max_length"):
        EncoderSpec(max_length=0)
    spec = EncoderSpec(model="some/model", pooling="mean", prefix="query: ", max_length=128)
    assert EncoderSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(MGLError, match="unknown encoder setting"):
        EncoderSpec.from_dict({"model": "x", "layers": 3})


def test_max_length_beyond_the_model_is_refused(make):
    with pytest.raises(MGLError, match="exceeds"):
        make(max_length=1000)


def test_missing_or_invalid_model_directory_is_a_one_line_error(tmp_path):
    (tmp_path / "notes.txt").write_text("not a model")
    with pytest.raises(MGLError, match=r"config\.json"):
        TextEncoder(str(tmp_path), device="cpu")


@pytest.mark.encoder
def test_embedded_alias_uses_the_prepared_directory_and_e5_defaults(monkeypatch, tiny_bert_dir):
    import mgl.encoders.embedded_e5 as embedded

    calls = []

    def fake_prepare(home=None, *, force=False, **kwargs):
        calls.append(home)
        return tiny_bert_dir

    monkeypatch.setattr(embedded, "prepare_embedded_e5", fake_prepare)
    encoder = TextEncoder("e5-small", device="cpu")
    assert calls == [None]
    assert encoder.spec.pooling == embedded.EMBEDDED_E5_POOLING == "mean"
    assert encoder.spec.prefix == embedded.EMBEDDED_E5_PREFIX == "query: "
    assert encoder.identity.startswith(embedded.EMBEDDED_E5_NAME + "|")
    # the default spec names the embedded model; explicit settings override its defaults
    assert embedded.is_embedded_name(EncoderSpec().model)
    other = TextEncoder(EncoderSpec(model="default", pooling="cls", prefix=""), device="cpu")
    assert (other.spec.pooling, other.spec.prefix) == ("cls", "")


# ---------------------------------------------------------------------------- pooling


def test_cls_pooling_is_the_first_hidden_state(make):
    encoder = make(pooling="cls")
    texts = ["the book is great", "a", "das buch ist nicht gut und sehr boring"]
    batch = encoder.tokenize(texts)
    expected = hidden_states(encoder, batch)[:, 0]
    with torch.no_grad():
        got = encoder(texts)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)


def test_mean_pooling_averages_real_tokens_only(make):
    encoder = make(pooling="mean")
    texts = ["the book is great and very good", "a"]
    batch = encoder.tokenize(texts)
    mask = batch["attention_mask"]
    assert mask[1].sum() < mask.shape[1]  # the second text is padded
    hidden = hidden_states(encoder, batch)
    expected = torch.stack([hidden[i, : int(mask[i].sum())].mean(dim=0) for i in range(len(texts))])
    with torch.no_grad():
        got = encoder(texts)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6)
    # including the padding would give something else for the padded text
    assert not torch.allclose(got[1], hidden[1].mean(dim=0), atol=1e-4)
    # and the padded text's vector equals its vector computed alone, without padding
    with torch.no_grad():
        alone = encoder(["a"])[0]
    torch.testing.assert_close(got[1], alone, rtol=0, atol=1e-5)


# ---------------------------------------------------------------------------- tokenisation


def test_prefix_is_prepended_to_texts_and_to_the_first_text_of_pairs(make):
    encoder = make(prefix="passage: ")
    tokenizer = encoder.tokenizer
    batch = encoder.tokenize(["great book"])
    assert batch["input_ids"][0].tolist() == tokenizer("passage: great book")["input_ids"]
    assert batch["input_ids"][0].tolist() != tokenizer("great book")["input_ids"]
    pair = encoder.tokenize(["great book"], ["das buch"])
    assert pair["input_ids"][0].tolist() == tokenizer("passage: great book", "das buch")["input_ids"]
    with torch.no_grad():
        assert not torch.allclose(encoder(["great book"]), make(prefix="")(["great book"]))


def test_pairs_use_the_pair_encoding_with_segments(make):
    encoder = make()
    sep = encoder.tokenizer.sep_token_id
    single = encoder.tokenize(["the book is great"])
    pair = encoder.tokenize(["the book is great"], ["das buch ist gut"])
    assert single["token_type_ids"].sum() == 0
    assert pair["token_type_ids"].sum() > 0  # the second segment has token type 1
    assert (pair["input_ids"][0] == sep).sum() == 2
    assert pair["input_ids"].shape[1] > single["input_ids"].shape[1]
    with torch.no_grad():
        assert not torch.allclose(encoder(["the book is great"]), encoder(["the book is great"], ["das buch ist gut"]))


def test_mixed_pairs_and_single_texts_in_one_batch(make):
    encoder = make(pooling="mean")
    texts, pairs = ["the book", "a film", "le livre"], ["das buch", None, "est bon"]
    batch = encoder.tokenize(texts, pairs)
    length = int(batch["attention_mask"][1].sum())
    assert batch["input_ids"][1, :length].tolist() == encoder.tokenizer("a film")["input_ids"]
    with torch.no_grad():
        together = encoder(texts, pairs)
        separate = torch.cat([encoder([t], [p]) for t, p in zip(texts, pairs)])
    torch.testing.assert_close(together, separate, rtol=0, atol=1e-5)


def test_truncation_to_max_length(make):
    encoder = make(max_length=8)
    sep = encoder.tokenizer.sep_token_id
    batch = encoder.tokenize(["the book is great and very good and not bad at all", "a"])
    assert batch["input_ids"].shape[1] == 8
    assert batch["input_ids"][0, -1] == sep
    pair = encoder.tokenize(["the book is great and very good"], ["das buch ist sehr gut und nicht schlecht"])
    assert pair["input_ids"].shape[1] == 8
    assert pair["token_type_ids"][0].tolist().count(1) >= 2  # longest_first keeps part of both texts


def test_inputs_are_checked(make):
    encoder = make()
    with pytest.raises(MGLError, match="single string"):
        encoder.embed("the book")
    with pytest.raises(MGLError, match="pair texts"):
        encoder.embed(["a", "b"], ["c"])
    with pytest.raises(MGLError, match="text 2"):
        encoder.embed(["a", 3])
    with pytest.raises(MGLError, match="batch_size"):
        encoder.embed(["a"], batch_size=0)


# ---------------------------------------------------------------------------- the frozen path


@pytest.mark.parametrize("pooling", ["cls", "mean"])
def test_embed_returns_input_order_despite_length_sorting(make, pooling):
    encoder = make(pooling=pooling)
    texts = sentences(23, seed=1)
    got = encoder.embed(texts, batch_size=4, progress=False)
    assert got.dtype == np.float32 and got.shape == (23, encoder.dim)
    with torch.no_grad():
        expected = np.stack([encoder([t])[0].numpy() for t in texts])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
    assert len({row.tobytes() for row in got}) == len(set(texts))  # distinct texts, distinct vectors


def test_embed_with_pairs_token_budget_and_duplicates(make):
    encoder = make(pooling="mean")
    texts = sentences(12, seed=2) * 2
    pairs = [None if i % 3 else "das buch ist gut" for i in range(len(texts))]
    got = encoder.embed(texts, pairs, batch_size=5, max_tokens=60, progress=False)
    with torch.no_grad():
        expected = np.stack([encoder([t], [p])[0].numpy() for t, p in zip(texts, pairs)])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)


def test_plan_batches_sorts_by_length_and_respects_budgets():
    lengths = [5, 50, 7, 48, 6, 49]
    batches = plan_length_batches(lengths, batch_size=2, max_tokens=None)
    assert batches == [[1, 5], [3, 2], [4, 0]]
    budget = plan_length_batches(lengths, batch_size=10, max_tokens=100)
    assert sorted(i for b in budget for i in b) == list(range(6))
    assert all(len(b) * lengths[b[0]] <= 100 for b in budget)
    assert plan_length_batches([300], batch_size=4, max_tokens=10) == [[0]]  # never empty


def test_embed_runs_in_eval_mode_and_restores_training_mode(make):
    encoder = make(pooling="mean")
    texts = ["the book is great", "a film"]
    reference = encoder.embed(texts, progress=False)
    encoder.train()
    again = encoder.embed(texts, progress=False)  # dropout would change the vectors
    np.testing.assert_array_equal(reference, again)
    assert encoder.training and encoder.model.training
    assert encoder.embed([], progress=False).shape == (0, encoder.dim)


# ---------------------------------------------------------------------------- trainability


def grads_after_backward(encoder: TextEncoder) -> dict[str, bool]:
    encoder.model.zero_grad(set_to_none=True)
    out = encoder(["the book is great", "das buch ist nicht gut"], ["le livre", None])
    if out.requires_grad:
        out.pow(2).sum().backward()
    return {name: p.grad is not None and bool(p.grad.abs().sum() > 0) for name, p in encoder.model.named_parameters()}


def test_set_trainable_top_k_none_all(make):
    encoder = make(pooling="mean")
    encoder.set_trainable("top-k", 1)
    grads = grads_after_backward(encoder)
    assert {n for n, g in grads.items() if g} == {n for n in grads if n.startswith("encoder.layer.1.")}
    assert len(encoder.trainable_parameters()) == sum(n.startswith("encoder.layer.1.") for n in grads)

    encoder.set_trainable("top-k", 2)
    grads = grads_after_backward(encoder)
    assert {n for n, g in grads.items() if g} == {n for n in grads if n.startswith("encoder.layer.")}

    encoder.set_trainable("none")
    assert not any(grads_after_backward(encoder).values())
    assert not encoder(["a"]).requires_grad

    encoder.set_trainable("all")
    # every weight gets a gradient (the inputs use both token types, so both type embeddings do)
    grads = grads_after_backward(encoder)
    assert all(grads.values()), [n for n, g in grads.items() if not g]


@pytest.mark.parametrize("mode, k", [("some", 0), ("top-k", 0), ("top-k", 3), ("top-k", True)])
def test_set_trainable_rejects_bad_values(make, mode, k):
    with pytest.raises(MGLError):
        make().set_trainable(mode, k)


# ---------------------------------------------------------------------------- identity


def test_identity_is_stable_and_tracks_settings_and_weights(make):
    a, b = make(), make()
    assert a.identity == b.identity
    assert make(pooling="mean").identity != a.identity
    assert make(prefix="query: ").identity != a.identity
    assert make(max_length=64).identity != a.identity
    before = a.identity
    with torch.no_grad():
        a.model.encoder.layer[1].output.dense.weight.add_(0.01)  # what an optimiser step does
    assert a.identity != before
    assert b.identity == before


# ---------------------------------------------------------------------------- devices


def test_resolve_device_cpu_and_auto(monkeypatch):
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")
    assert resolve_device(torch.device("cpu")) == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("auto") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == torch.device("cuda")


def test_resolve_device_cuda_is_honoured_or_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(MGLError, match="CUDA is not available"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("cuda") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)
    with pytest.raises(MGLError, match="2 CUDA device"):
        resolve_device("cuda:2")


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cpu:1", "tpu", "cuda:-1", 3])
def test_resolve_device_rejects_bad_values(bad):
    with pytest.raises(MGLError):
        resolve_device(bad)


# ---------------------------------------------------------------------------- mgl encoder


def test_cli_prepare_and_info_for_a_model_directory(tiny_bert_dir):
    from typer.testing import CliRunner

    from mgl.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["encoder", "prepare", "--model", str(tiny_bert_dir)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tiny_bert_dir.resolve())
    result = runner.invoke(app, ["encoder", "info", "--model", str(tiny_bert_dir), "--pooling", "mean", "--json"])
    assert result.exit_code == 0, result.output
    import json

    info = json.loads(result.stdout)
    assert (info["dim"], info["layers"], info["pooling"], info["prefix"]) == (32, 2, "mean", "")
    assert info["identity"] == TextEncoder(EncoderSpec(str(tiny_bert_dir), pooling="mean"), device="cpu").identity


def test_cli_prepare_embedded_passes_home_and_force(monkeypatch, tmp_path):
    from typer.testing import CliRunner

    import mgl.encoders.embedded_e5 as embedded
    from mgl.cli import app

    seen = []

    def fake_prepare(home=None, *, force=False, **kwargs):
        seen.append((home, force))
        return tmp_path / "prepared"

    monkeypatch.setattr(embedded, "prepare_embedded_e5", fake_prepare)
    result = CliRunner().invoke(app, ["encoder", "prepare", "--home", str(tmp_path), "--force"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(tmp_path / "prepared")
    assert seen == [(tmp_path, True)]


def test_cli_prepare_reports_a_missing_directory(tmp_path):
    from typer.testing import CliRunner

    from mgl.cli import app

    result = CliRunner().invoke(app, ["encoder", "prepare", "--model", str(tmp_path / "nope")])
    assert isinstance(result.exception, MGLError)
    assert "no such model directory" in str(result.exception)


def test_plan_batches_bounds_padding():
    lengths = [100, 95, 40, 38, 10]
    assert plan_length_batches(lengths, batch_size=16, max_tokens=None) == [[0, 1, 2, 3, 4]]
    # at most 10% padding over the real tokens: the long pair, the short pair, the shortest alone
    assert plan_length_batches(lengths, batch_size=16, max_tokens=None, max_padding=0.1) == [[0, 1], [2, 3], [4]]


def test_bucket_length_depends_on_the_input_alone():
    assert [bucket_length(n, 256) for n in (1, 15, 16, 17, 250, 256)] == [16, 16, 16, 32, 256, 256]
    assert bucket_length(100, 100) == 100 and bucket_length(97, 100) == 100  # capped at max_length
    assert bucket_length(9, 10, multiple=8) == 10
    lengths = [100, 20, 95, 17, 3, 30]
    plan = plan_bucket_batches(lengths, 256, batch_size=2)
    assert plan == [(112, [0]), (96, [2]), (32, [1, 3]), (32, [5]), (16, [4])]
    assert sorted(i for _, batch in plan for i in batch) == list(range(len(lengths)))
    assert plan_bucket_batches(lengths, 256, batch_size=8, max_tokens=150) == [
        (112, [0]),
        (96, [2]),
        (32, [1, 3, 5]),
        (16, [4]),
    ]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_an_input_gets_one_vector_alone_batched_or_duplicated(tiny_bert_dir, precision):
    """Batch mates never change an input's vector: each input is padded to its own bucket."""
    enc = TextEncoder(EncoderSpec(model=str(tiny_bert_dir), max_length=128, precision=precision))
    texts = [
        "the book is great",
        "a",
        "das buch ist sehr gut und nicht schlecht " * 6,
        "le livre",
        "ein langer satz " * 20,
        "x y z",
    ]
    alone = np.concatenate([enc.embed([t], progress=False) for t in texts])
    for batch_size in (1, 2, 3, 32):
        np.testing.assert_array_equal(enc.embed(texts, progress=False, batch_size=batch_size), alone)
    np.testing.assert_array_equal(enc.embed(texts[::-1] + texts, progress=False)[len(texts) :], alone)
    np.testing.assert_array_equal(enc.embed([texts[2]] * 5 + [texts[4]], progress=False)[0], alone[2])


def test_precision_bf16_is_close_to_fp32_and_part_of_the_identity(tiny_bert_dir):
    fp32 = TextEncoder(EncoderSpec(model=str(tiny_bert_dir), max_length=32, precision="fp32"))
    bf16 = TextEncoder(EncoderSpec(model=str(tiny_bert_dir), max_length=32, precision="bf16"))
    texts = ["the book is great", "das buch ist schlecht", "le livre est très bon"]
    a, b = fp32.embed(texts, progress=False), bf16.embed(texts, progress=False)
    assert b.dtype == np.float32
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cos.min() > 0.99 and not np.array_equal(a, b)
    assert bf16.identity == fp32.identity + "|precision=bf16"  # fp32 keeps its identity (and old caches)
    auto = TextEncoder(EncoderSpec(model=str(tiny_bert_dir), max_length=32, precision="auto"))
    assert auto.precision in ("fp32", "bf16") and auto.precision_reason
    with pytest.raises(Exception, match="precision"):
        EncoderSpec(precision="fp16")


def test_gradient_checkpointing_gives_the_same_gradients(make):
    texts = ["the book is great", "das buch ist nicht gut", "le livre est bon"]
    grads = []
    for checkpointing in (False, True):
        encoder = make(pooling="mean")
        encoder.set_trainable("all")
        if checkpointing:
            encoder.enable_gradient_checkpointing()
            assert encoder.model.is_activation_checkpointing
        encoder.train()
        encoder.model.config.hidden_dropout_prob = 0.0
        for module in encoder.model.modules():  # no dropout: the two runs draw nothing at random
            if isinstance(module, torch.nn.Dropout):
                module.p = 0.0
        encoder(texts).pow(2).sum().backward()
        grads.append({n: p.grad.clone() for n, p in encoder.model.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys() and len(grads[0]) > 10
    for name in grads[0]:
        torch.testing.assert_close(grads[1][name], grads[0][name], rtol=1e-4, atol=1e-6, msg=name)


def test_auto_precision_honours_the_environment_and_the_kernels_capability(tiny_bert_dir, monkeypatch):
    """MGL_AUTO_PRECISION=fp32 makes auto pick fp32 even where bf16 is native (the suite then runs as
    on the AVX2-only kind); PyTorch kernels capped below AVX-512 (ATEN_CPU_CAPABILITY=avx2) read as no
    native bf16, whatever the CPU's flags; any other value of the variable is an error."""
    from mgl.encoders import loading
    from mgl.errors import ConfigError

    spec = EncoderSpec(model=str(tiny_bert_dir), max_length=32, precision="auto")
    monkeypatch.setattr(loading, "native_bf16", lambda device: True)
    monkeypatch.setattr("mgl.encoders.text_encoder.native_bf16", lambda device: True)
    monkeypatch.setenv("MGL_AUTO_PRECISION", "fp32")
    enc = TextEncoder(spec)
    assert enc.precision == "fp32" and "MGL_AUTO_PRECISION=fp32" in enc.precision_reason
    assert TextEncoder(EncoderSpec(model=str(tiny_bert_dir), max_length=32, precision="bf16")).precision == "bf16"
    monkeypatch.setenv("MGL_AUTO_PRECISION", "fp16")
    with pytest.raises(ConfigError, match="MGL_AUTO_PRECISION must be 'fp32' or unset"):
        TextEncoder(spec)
    monkeypatch.undo()
    monkeypatch.delenv("MGL_AUTO_PRECISION", raising=False)
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX2")
    assert not loading.native_bf16(torch.device("cpu"))
    enc = TextEncoder(spec)
    assert enc.precision == "fp32" and enc.precision_reason == "no native bfloat16 on cpu"
