"""EmbeddingCache on its own and behind TextEncoder.embed: hits, misses, keys, damage and repair."""

from __future__ import annotations

import sqlite3
import warnings

import numpy as np
import pytest
import torch

from mgl.encoders import CacheWarning, EmbeddingCache, EncoderSpec, TextEncoder, cache_key

pytestmark = pytest.mark.unit

TEXTS = ["the book is great", "a", "das buch ist nicht gut und sehr boring", "le livre est bon", "the film"]


@pytest.fixture()
def make(tiny_bert_dir):
    def build(**settings) -> TextEncoder:
        settings.setdefault("pooling", "mean")
        return TextEncoder(EncoderSpec(model=str(tiny_bert_dir), **{"precision": "fp32", **settings}), device="cpu")

    return build


def count_model_calls(encoder: TextEncoder, monkeypatch) -> list[int]:
    """Wrap the transformer's forward; the returned list grows by the batch size of each call."""
    calls: list[int] = []
    original = encoder.model.forward

    def counted(*args, **kwargs):
        calls.append(int(kwargs["input_ids"].shape[0]))
        return original(*args, **kwargs)

    monkeypatch.setattr(encoder.model, "forward", counted)
    return calls


def db(cache: EmbeddingCache) -> sqlite3.Connection:
    return sqlite3.connect(cache.path, isolation_level=None)


# ---------------------------------------------------------------------------- the cache alone


def test_keys_depend_on_every_field():
    base = ("enc", "mean", "passage: ", 256, "text", None)
    key = cache_key(*base)
    assert key == cache_key(*base) and len(key) == 64
    variants = [
        ("enc2", "mean", "passage: ", 256, "text", None),
        ("enc", "cls", "passage: ", 256, "text", None),
        ("enc", "mean", "", 256, "text", None),
        ("enc", "mean", "passage: ", 128, "text", None),
        ("enc", "mean", "passage: ", 256, "text ", None),
        ("enc", "mean", "passage: ", 256, "text", ""),
        ("enc", "mean", "passage: ", 256, "text", "pair"),
    ]
    keys = {cache_key(*v) for v in variants}
    assert len(keys) == len(variants) and key not in keys
    assert cache_key("e", "cls", "", 8, "\ud800 lone surrogate") != cache_key("e", "cls", "", 8, "? lone surrogate")


def test_round_trip_and_counters(tmp_path):
    cache = EmbeddingCache(tmp_path)
    vectors = {cache.key("e", "cls", "", 8, t): np.random.default_rng(i).normal(size=6) for i, t in enumerate("abc")}
    assert cache.put_many(vectors) == 3
    missing = cache.key("e", "cls", "", 8, "zzz")
    got = cache.get_many([*list(vectors), missing])
    assert set(got) == set(vectors)
    for key, vector in vectors.items():
        assert got[key].dtype == np.float32
        np.testing.assert_array_equal(got[key], vector.astype(np.float32))
    assert (cache.hits, cache.misses, cache.corrupt, cache.writes) == (3, 1, 0, 3)
    stats = cache.stats()
    assert stats["entries"] == 3 and stats["bytes"] > 0
    # a second object over the same folder sees the same entries
    assert len(EmbeddingCache(tmp_path).get_many(vectors)) == 3
    cache.clear()
    assert len(cache) == 0 and cache.hits == 0 and cache.get_many(vectors) == {}


def test_ten_thousand_entries_in_one_call(tmp_path):
    cache = EmbeddingCache(tmp_path)
    rng = np.random.default_rng(0)
    keys = [cache.key("e", "mean", "", 256, f"text {i}") for i in range(10_000)]
    matrix = rng.normal(size=(10_000, 8)).astype(np.float32)
    cache.put_many(zip(keys, matrix))
    got = cache.get_many(keys)
    assert len(got) == 10_000
    np.testing.assert_array_equal(np.stack([got[k] for k in keys]), matrix)


def test_default_root_is_under_mgl_home(monkeypatch, tmp_path):
    monkeypatch.setenv("MGL_HOME", str(tmp_path / "home"))
    assert EmbeddingCache().path.parent == tmp_path / "home" / "embeddings"


def test_damaged_entries_are_dropped_and_counted(tmp_path):
    cache = EmbeddingCache(tmp_path)
    keys = [cache.key("e", "cls", "", 8, t) for t in "abcd"]
    cache.put_many((k, np.arange(4, dtype=np.float32) + i) for i, k in enumerate(keys))
    conn = db(cache)
    raw = [bytes.fromhex(k) for k in keys]
    conn.execute("UPDATE vectors SET vec = substr(vec, 1, 8) WHERE key = ?", (raw[0],))  # truncated
    conn.execute("UPDATE vectors SET vec = zeroblob(16) WHERE key = ?", (raw[1],))  # right length, wrong bytes
    conn.execute("UPDATE vectors SET dim = 3 WHERE key = ?", (raw[2],))  # wrong dimension
    conn.close()
    with pytest.warns(CacheWarning, match="3 damaged"):
        got = cache.get_many(keys)
    assert list(got) == [keys[3]]
    assert (cache.hits, cache.misses, cache.corrupt) == (1, 3, 3)
    assert len(cache) == 1  # the damaged rows are gone


def test_a_file_that_is_not_a_database_is_rebuilt(tmp_path):
    (tmp_path / "embeddings.sqlite3").write_bytes(b"this is not sqlite" * 100)
    with pytest.warns(CacheWarning, match="unreadable"):
        cache = EmbeddingCache(tmp_path)
    key = cache.key("e", "cls", "", 8, "a")
    cache.put_many({key: np.ones(3)})
    assert list(cache.get_many([key])) == [key]


def test_a_database_damaged_while_in_use_is_rebuilt(tmp_path):
    cache = EmbeddingCache(tmp_path)
    keys = [cache.key("e", "cls", "", 8, f"t{i}") for i in range(3000)]
    cache.put_many(zip(keys, np.ones((3000, 64), dtype=np.float32)))
    cache.close()
    data = bytearray(cache.path.read_bytes())
    keep = 8 * 4096  # the schema and the first pages stay readable, the vectors do not
    data[keep:] = b"\xff" * (len(data) - keep)
    cache.path.write_bytes(bytes(data))
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        reopened = EmbeddingCache(tmp_path)  # the damage is not visible yet
    with pytest.warns(CacheWarning, match="unreadable"):
        assert reopened.get_many(keys) == {}
    reopened.put_many({keys[0]: np.ones(64)})
    assert list(reopened.get_many(keys[:1])) == keys[:1]


# ---------------------------------------------------------------------------- behind TextEncoder.embed


def test_second_call_hits_only_and_never_runs_the_model(make, tmp_path, monkeypatch):
    encoder = make()
    cache = EmbeddingCache(tmp_path)
    calls = count_model_calls(encoder, monkeypatch)
    first = encoder.embed(TEXTS, cache=cache, batch_size=2, progress=False)
    assert (cache.hits, cache.misses) == (0, len(TEXTS))
    assert sum(calls) == len(TEXTS)
    calls.clear()
    second = encoder.embed(TEXTS[::-1], cache=cache, progress=False)
    assert calls == []
    assert (cache.hits, cache.misses) == (len(TEXTS), len(TEXTS))
    np.testing.assert_array_equal(second, first[::-1])
    # a fresh encoder object over the same model directory shares the entries
    again = make()
    calls = count_model_calls(again, monkeypatch)
    np.testing.assert_array_equal(again.embed(TEXTS, cache=cache, progress=False), first)
    assert calls == []


def test_partial_hits_compute_only_the_misses(make, tmp_path, monkeypatch):
    encoder = make()
    cache = EmbeddingCache(tmp_path)
    encoder.embed(TEXTS[:2], cache=cache, progress=False)
    calls = count_model_calls(encoder, monkeypatch)
    got = encoder.embed(TEXTS, cache=cache, progress=False)
    assert sum(calls) == len(TEXTS) - 2
    np.testing.assert_allclose(got, encoder.embed(TEXTS, progress=False), rtol=0, atol=1e-5)


@pytest.mark.parametrize("change", [{"pooling": "cls"}, {"prefix": "query: "}, {"max_length": 64}])
def test_other_settings_miss(make, tmp_path, monkeypatch, change):
    cache = EmbeddingCache(tmp_path)
    make().embed(TEXTS, cache=cache, progress=False)
    other = make(**change)
    calls = count_model_calls(other, monkeypatch)
    other.embed(TEXTS, cache=cache, progress=False)
    assert sum(calls) == len(TEXTS)
    assert cache.hits == 0


def test_pairs_are_separate_entries(make, tmp_path):
    encoder = make()
    cache = EmbeddingCache(tmp_path)
    single = encoder.embed(["the book"], cache=cache, progress=False)
    pair = encoder.embed(["the book"], ["das buch"], cache=cache, progress=False)
    assert cache.hits == 0 and len(cache) == 2
    assert not np.allclose(single, pair)


def test_changed_weights_miss(make, tmp_path, monkeypatch):
    encoder = make()
    cache = EmbeddingCache(tmp_path)
    before = encoder.embed(TEXTS, cache=cache, progress=False)
    with torch.no_grad():
        encoder.model.encoder.layer[0].attention.self.query.weight.mul_(1.5)
    calls = count_model_calls(encoder, monkeypatch)
    after = encoder.embed(TEXTS, cache=cache, progress=False)
    assert sum(calls) == len(TEXTS)
    assert not np.allclose(before, after)


def test_corrupted_entry_is_recomputed_and_counted(make, tmp_path, monkeypatch):
    encoder = make()
    cache = EmbeddingCache(tmp_path)
    expected = encoder.embed(TEXTS, cache=cache, progress=False)
    spec = encoder.spec
    damaged = bytes.fromhex(cache.key(encoder.identity, spec.pooling, spec.prefix, spec.max_length, TEXTS[2]))
    conn = db(cache)
    (blob,) = conn.execute("SELECT vec FROM vectors WHERE key = ?", (damaged,)).fetchone()
    tampered = bytearray(blob)
    tampered[5] ^= 0x40  # one flipped bit: still a plausible float32 vector
    conn.execute("UPDATE vectors SET vec = ? WHERE key = ?", (bytes(tampered), damaged))
    conn.close()

    calls = count_model_calls(encoder, monkeypatch)
    with pytest.warns(CacheWarning):
        got = encoder.embed(TEXTS, cache=cache, progress=False)
    assert calls == [1]
    assert cache.corrupt == 1
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)  # recomputed alone, not in the same batch
    expected = got
    # repaired: the next call is all hits
    calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)
        np.testing.assert_array_equal(encoder.embed(TEXTS, cache=cache, progress=False), expected)
    assert calls == [] and cache.corrupt == 1


def test_cli_cache_shows_and_clears(tmp_path):
    import json

    from typer.testing import CliRunner

    from mgl.cli import app

    cache = EmbeddingCache(tmp_path)
    cache.put_many({cache.key("e", "cls", "", 8, t): np.ones(4) for t in "ab"})
    cache.close()
    runner = CliRunner()
    result = runner.invoke(app, ["encoder", "cache", "--root", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entries"] == 2
    result = runner.invoke(app, ["encoder", "cache", "--root", str(tmp_path), "--clear", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["entries"] == 0
    assert len(EmbeddingCache(tmp_path)) == 0
