"""Benchmark: mgl's frozen embedding path (fp32 and ``auto``) against a plain Hugging Face loop, and the cache.

Embeds the Webis-CLS-10 books reviews of one language (train + test, 4,000 texts; default ``de``)
with the embedded multilingual-e5-small four ways, in one process:

(a) ``TextEncoder.embed`` in fp32 with a fresh, empty :class:`EmbeddingCache` in a temporary
    folder (length-sorted batches of 32, every vector written to the cache);
(d) the same with ``precision="auto"`` (the default of runs: bf16 where the CPU has native
    bfloat16 and it agrees with fp32 on probe texts), another empty cache;
(b) a plain Hugging Face loop over the texts in file order: batches of 32, the same tokenizer
    and weights, the same ``"passage: "`` prefix and maximum length 256, ``torch.inference_mode``,
    padding to the longest text of each batch, mean pooling over the attention mask;
(c) ``TextEncoder.embed`` again over the same texts: every vector comes from the cache.

It checks that (a) and (d) agree with (b) (maximum absolute difference, minimum and mean
cosine), writes a JSON result (default ``benchmarks/out/embed.json``) and prints a table.
Requirements: (a) at least 1.3 times the texts per second of (b), (c) under 5% of the time of
(a), (d) at least 2.5 times the texts per second of (b) with a minimum cosine to fp32 >= 0.999.

``--invariance`` measures instead what batch-invariance costs, side by side in one process, in
the ``auto`` precision: (e) today's :meth:`TextEncoder.embed` (each text padded to its own length
bucket, batches of one bucket) against (f) the former batching (length-sorted batches padded to
their longest text), each run twice in alternation (ABAB, the faster of each kept), and for
both the largest change of a vector between a text embedded alone and in its batch.

Usage::

    export MGL_DATA=/path/to/data        # the folder holding cls-acl10-unprocessed/
    python benchmarks/bench_embed.py                 # full run, 4,000 German reviews
    python benchmarks/bench_embed.py --n 256 --lang fr --out /tmp/embed.json   # quick check
    python benchmarks/bench_embed.py --invariance --n 1000 --out benchmarks/out/embed_invariance.json
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from _common import claim_out, require_mgl_data, write_out
from mgl.provenance import cpu_model

BATCH_SIZE = 32
MAX_LENGTH = 256
AUTO_RATIO_REQUIRED = 2.5
AUTO_MIN_COSINE = 0.999
RATIO_REQUIRED = 1.3
SECOND_PASS_LIMIT = 0.05
FOLDERS = {"en": "en", "de": "de", "fr": "fr", "ja": "jp", "jp": "jp"}


def load_texts(data: Path, lang: str) -> list[str]:
    """Texts of ``<lang>/books/train.review`` then ``test.review``, in file order."""
    folder = data / "cls-acl10-unprocessed" / FOLDERS[lang] / "books"
    paths = [folder / "train.review", folder / "test.review"]
    for path in paths:
        if not path.is_file():
            sys.exit(f"bench_embed: {path} not found: MGL_DATA must hold cls-acl10-unprocessed/")
    try:
        from mgl.data.webis import read_review_file
    except ImportError:  # the loader is not there: read the XML here, the same way
        read_review_file = None
    texts: list[str] = []
    for path in paths:
        if read_review_file is not None:
            split = path.stem
            texts += [ex.text for ex in read_review_file(path, language=lang, domain="books", split=split)]
        else:
            for item in ET.parse(path).getroot().iter("item"):
                parts = [(item.findtext(tag) or "").strip() for tag in ("summary", "text")]
                texts.append("\n".join(p for p in parts if p))
    return texts


def plain_loop(model, tokenizer, texts: list[str], prefix: str, batch_size: int, max_length: int):
    """The reference: a plain Hugging Face loop in file order. Returns (vectors, padded tokens)."""
    import torch

    out, padded = [], 0
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                [prefix + t for t in texts[start : start + batch_size]],
                padding=True,
                truncation=True,
                max_length=max_length,
                return_tensors="pt",
            )
            padded += batch["input_ids"].numel()
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            out.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).numpy())
    return np.concatenate(out), padded


def legacy_embed(encoder, texts: list[str], batch_size: int):
    """The former frozen path: length-sorted batches, each padded to its longest text."""
    import torch

    from mgl.encoders.batching import plan_length_batches

    features = encoder._encode(texts, [None] * len(texts))
    lengths = [len(f["input_ids"]) for f in features]
    out = np.empty((len(texts), encoder.dim), dtype=np.float32)
    padded = 0
    with torch.inference_mode():
        for batch in plan_length_batches(lengths, batch_size, None):
            inputs = encoder._pad([features[j] for j in batch])
            padded += inputs["input_ids"].numel()
            out[batch] = encoder.encode_batch(inputs).float().cpu().numpy()
    return out, padded


def invariance(encoder, texts: list[str], batch_size: int, probe: int, group: int | None = None) -> dict:
    """(e) bucketed against (f) legacy batching: texts/s side by side (ABAB) and the alone-vs-batched gap.

    ``group``: embed the texts in calls of this many (a server's micro-batches) instead of one call."""
    from mgl.encoders.batching import bucket_length

    lengths = [len(f["input_ids"]) for f in encoder._encode(texts, [None] * len(texts))]
    bucket_padded = sum(bucket_length(n, encoder.spec.max_length) for n in lengths)
    timings: dict[str, list[float]] = {"bucket": [], "legacy": []}
    results = {}
    for name in ("legacy", "bucket", "legacy", "bucket"):
        start = time.perf_counter()
        chunks = [texts[i : i + group] for i in range(0, len(texts), group)] if group else [texts]
        if name == "bucket":
            results[name] = np.concatenate([encoder.embed(c, batch_size=batch_size, progress=False) for c in chunks])
        else:
            parts = [legacy_embed(encoder, c, batch_size) for c in chunks]
            results[name], legacy_padded = np.concatenate([p[0] for p in parts]), sum(p[1] for p in parts)
        timings[name].append(time.perf_counter() - start)
        print(f"  {name}: {timings[name][-1]:.1f} s", file=sys.stderr)
    sample = texts[:probe]
    alone = {
        "bucket": np.concatenate([encoder.embed([t], progress=False) for t in sample]),
        "legacy": np.concatenate([legacy_embed(encoder, [t], 1)[0] for t in sample]),
    }
    n = len(texts)
    out = {}
    for name in ("bucket", "legacy"):
        best = min(timings[name])
        out[name] = {
            "seconds": [round(t, 3) for t in timings[name]],
            "texts_per_s": round(n / best, 3),
            "padded_tokens": bucket_padded if name == "bucket" else legacy_padded,
            "max_abs_alone_vs_batched": float(np.abs(results[name][:probe] - alone[name]).max()),
        }
    out["cost_ratio_legacy_over_bucket"] = round(
        out["bucket"]["texts_per_s"] and out["legacy"]["texts_per_s"] / out["bucket"]["texts_per_s"], 3
    )
    out["max_abs_bucket_vs_legacy"] = float(np.abs(results["bucket"] - results["legacy"]).max())
    return out


def machine_info() -> dict:
    import torch
    import transformers

    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        affinity = None
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        "torch_threads": torch.get_num_threads(),
        "torch_interop_threads": torch.get_num_interop_threads(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def loadavg() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lang", default="de", choices=sorted(FOLDERS), help="language of the books reviews (default de)"
    )
    parser.add_argument("--n", type=int, default=None, help="embed only the first N texts (quick check)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "embed.json")
    parser.add_argument("--check", action="store_true", help="exit 1 if a requirement is not met")
    parser.add_argument(
        "--invariance",
        action="store_true",
        help="only the cost of batch-invariance: bucketed against the former batching (auto precision)",
    )
    parser.add_argument("--probe", type=int, default=64, help="--invariance: texts also embedded alone (default 64)")
    parser.add_argument(
        "--group",
        type=int,
        default=None,
        help="--invariance: embed in calls of this many texts (a server's micro-batches, e.g. 8)",
    )
    args = parser.parse_args(argv)
    claim_out(args.out)

    data = require_mgl_data("bench_embed")
    if data is None:
        return 2
    texts = load_texts(data, args.lang)
    if args.n is not None:
        if args.n < 1:
            parser.error("--n must be positive")
        texts = texts[: args.n]

    import torch

    from mgl.encoders import EmbeddingCache, EncoderSpec, TextEncoder

    if args.invariance:
        auto = TextEncoder(EncoderSpec(max_length=MAX_LENGTH, precision="auto"), device="cpu")
        auto.embed(texts[:BATCH_SIZE], progress=False)  # warm-up
        legacy_embed(auto, texts[:BATCH_SIZE], BATCH_SIZE)
        load_before = loadavg()
        measured = invariance(auto, texts, BATCH_SIZE, min(args.probe, len(texts)), args.group)
        result = {
            "benchmark": "embed-invariance",
            "language": args.lang,
            "texts": len(texts),
            "precision": auto.precision,
            "precision_reason": auto.precision_reason,
            "batch_size": BATCH_SIZE,
            "max_length": MAX_LENGTH,
            "prefix": auto.spec.prefix,
            "group": args.group,
            **measured,
            "machine": {
                **machine_info(),
                "cpu_model": cpu_model(),
                "loadavg_before": load_before,
                "loadavg_after": loadavg(),
            },
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        write_out(args.out, result)
        print(f"| batching ({auto.precision}) | texts/s | padded tokens | max abs change alone vs batched |")
        print("|---|---:|---:|---:|")
        for name, label in (
            ("bucket", "(e) each text at its own length bucket (today)"),
            ("legacy", "(f) length-sorted, padded to the batch's longest (before)"),
        ):
            m = measured[name]
            print(f"| {label} | {m['texts_per_s']:.2f} | {m['padded_tokens']} | {m['max_abs_alone_vs_batched']:.2e} |")
        print(
            f"legacy/bucket texts/s: {measured['cost_ratio_legacy_over_bucket']:.3f}; "
            f"max |bucket - legacy| {measured['max_abs_bucket_vs_legacy']:.2e}; {len(texts)} {args.lang} texts; "
            f"CPU {cpu_model()}; result written to {args.out}"
        )
        return 0

    spec = EncoderSpec(max_length=MAX_LENGTH, precision="fp32")  # the embedded multilingual-e5-small
    encoder = TextEncoder(spec, device="cpu")
    auto = TextEncoder(EncoderSpec(max_length=MAX_LENGTH, precision="auto"), device="cpu")
    print(f"auto chose {auto.precision}: {auto.precision_reason}", file=sys.stderr)
    prefix = encoder.spec.prefix
    assert encoder.spec.pooling == "mean"
    tokenizer, model = encoder.tokenizer, encoder.model  # the same weights and tokenizer for both paths
    real_tokens = sum(
        len(ids) for ids in tokenizer([prefix + t for t in texts], truncation=True, max_length=MAX_LENGTH)["input_ids"]
    )
    print(
        f"{len(texts)} {args.lang} books reviews, {real_tokens} tokens after truncation to {MAX_LENGTH}",
        file=sys.stderr,
    )

    warm = texts[:BATCH_SIZE]  # one batch each, untimed: first-call allocations and kernel set-up
    encoder.embed(warm, progress=False)
    auto.embed(warm, progress=False)
    plain_loop(model, tokenizer, warm, prefix, BATCH_SIZE, MAX_LENGTH)

    load_before = loadavg()
    with tempfile.TemporaryDirectory(prefix="mgl-bench-cache-") as tmp:
        cache = EmbeddingCache(Path(tmp))
        start = time.perf_counter()
        mgl_vectors = encoder.embed(texts, batch_size=BATCH_SIZE, cache=cache, progress=True)
        mgl_seconds = time.perf_counter() - start
        assert cache.misses == len(set(texts)) and cache.hits == 0

        start = time.perf_counter()
        cached_vectors = encoder.embed(texts, batch_size=BATCH_SIZE, cache=cache, progress=True)
        second_seconds = time.perf_counter() - start
        second_hits = cache.hits
        cache_bytes = cache.stats()["bytes"]
        cache.close()
    assert np.array_equal(cached_vectors, mgl_vectors), "the cache returned different vectors"
    with tempfile.TemporaryDirectory(prefix="mgl-bench-cache-") as tmp:
        cache = EmbeddingCache(Path(tmp))
        start = time.perf_counter()
        auto_vectors = auto.embed(texts, batch_size=BATCH_SIZE, cache=cache, progress=True)
        auto_seconds = time.perf_counter() - start
        cache.close()

    print("plain Hugging Face loop (file order, batch 32) ...", file=sys.stderr)
    start = time.perf_counter()
    plain_vectors, plain_padded = plain_loop(model, tokenizer, texts, prefix, BATCH_SIZE, MAX_LENGTH)
    plain_seconds = time.perf_counter() - start
    load_after = loadavg()

    lengths = [
        len(ids) for ids in tokenizer([prefix + t for t in texts], truncation=True, max_length=MAX_LENGTH)["input_ids"]
    ]
    from mgl.encoders.batching import bucket_length

    mgl_padded = sum(bucket_length(n, MAX_LENGTH) for n in lengths)

    diff = float(np.abs(mgl_vectors - plain_vectors).max())
    cosine = (mgl_vectors * plain_vectors).sum(1) / (
        np.linalg.norm(mgl_vectors, axis=1) * np.linalg.norm(plain_vectors, axis=1)
    )
    auto_cosine = (auto_vectors * plain_vectors).sum(1) / (
        np.linalg.norm(auto_vectors, axis=1) * np.linalg.norm(plain_vectors, axis=1)
    )
    n = len(texts)
    ratio = (n / mgl_seconds) / (n / plain_seconds)
    auto_ratio = plain_seconds / auto_seconds
    fraction = second_seconds / mgl_seconds
    result = {
        "benchmark": "embed",
        "language": args.lang,
        "texts": n,
        "distinct_texts": len(set(texts)),  # identical texts are embedded once by (a), every time by (b)
        "tokens": real_tokens,
        "encoder": {
            "model": encoder.spec.model,
            "pooling": encoder.spec.pooling,
            "prefix": prefix,
            "max_length": MAX_LENGTH,
            "dim": encoder.dim,
            "identity": encoder.identity,
        },
        "batch_size": BATCH_SIZE,
        "mgl_first_pass": {
            "seconds": round(mgl_seconds, 3),
            "texts_per_s": round(n / mgl_seconds, 3),
            "padded_tokens": mgl_padded,
            "padding_fraction": round(1 - real_tokens / mgl_padded, 4),
        },
        "plain_loop": {
            "seconds": round(plain_seconds, 3),
            "texts_per_s": round(n / plain_seconds, 3),
            "padded_tokens": plain_padded,
            "padding_fraction": round(1 - real_tokens / plain_padded, 4),
        },
        "mgl_auto": {
            "precision": auto.precision,
            "reason": auto.precision_reason,
            "identity": auto.identity,
            "seconds": round(auto_seconds, 3),
            "texts_per_s": round(n / auto_seconds, 3),
            "tokens_per_s": round(real_tokens / auto_seconds, 1),
            "min_cosine_to_fp32": float(auto_cosine.min()),
            "mean_cosine_to_fp32": float(auto_cosine.mean()),
            "max_abs_diff_to_fp32": float(np.abs(auto_vectors - plain_vectors).max()),
        },
        "ratio_mgl_over_plain": round(ratio, 3),
        "ratio_auto_over_plain": round(auto_ratio, 3),
        "mgl_second_pass": {
            "seconds": round(second_seconds, 4),
            "fraction_of_first_pass": round(fraction, 5),
            "cache_hits": second_hits,
            "cache_bytes": cache_bytes,
        },
        "agreement": {"max_abs_diff": diff, "min_cosine": float(cosine.min())},
        "requirements": {
            f"ratio >= {RATIO_REQUIRED}": ratio >= RATIO_REQUIRED,
            f"second pass < {SECOND_PASS_LIMIT:.0%} of first": fraction < SECOND_PASS_LIMIT,
            f"auto >= {AUTO_RATIO_REQUIRED} x plain": auto_ratio >= AUTO_RATIO_REQUIRED,
            f"auto min cosine >= {AUTO_MIN_COSINE}": float(auto_cosine.min()) >= AUTO_MIN_COSINE,
        },
        "machine": {**machine_info(), "loadavg_before": load_before, "loadavg_after": load_after},
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    write_out(args.out, result)

    rows = [
        ("path", "seconds", "texts/s", "padded tokens"),
        (
            f"(d) mgl precision auto ({auto.precision}), empty cache",
            f"{auto_seconds:.1f}",
            f"{n / auto_seconds:.2f}",
            str(mgl_padded),
        ),
        ("(a) mgl TextEncoder.embed, empty cache", f"{mgl_seconds:.1f}", f"{n / mgl_seconds:.2f}", str(mgl_padded)),
        ("(b) plain HF loop, file order", f"{plain_seconds:.1f}", f"{n / plain_seconds:.2f}", str(plain_padded)),
        ("(c) mgl second pass, all cache hits", f"{second_seconds:.3f}", f"{n / second_seconds:.0f}", "0"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    for row in rows:
        print("  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths))))
    print(
        f"ratio (a)/(b): {ratio:.2f} (required >= {RATIO_REQUIRED})   "
        f"second pass: {fraction:.2%} of the first (required < {SECOND_PASS_LIMIT:.0%})"
    )
    print(f"agreement (a) vs (b): max |diff| {diff:.2e}, min cosine {float(cosine.min()):.6f}")
    print(
        f"(d) auto: {auto_ratio:.2f}x the plain loop (required >= {AUTO_RATIO_REQUIRED}); cosine to fp32 "
        f"min {float(auto_cosine.min()):.6f}, mean {float(auto_cosine.mean()):.6f} (required min >= {AUTO_MIN_COSINE})"
    )
    print(
        f"{n} texts, {real_tokens} tokens; torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}; "
        f"result written to {args.out}"
    )
    ok = all(result["requirements"].values())
    return 0 if ok or not args.check else 1


if __name__ == "__main__":
    sys.exit(main())
