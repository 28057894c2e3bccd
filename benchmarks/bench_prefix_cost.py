"""What each encoder variant of docs/results/prefix.md costs to embed, side by side in one process.

The same texts (Webis-CLS-10 books reviews, train and test, the four languages in turn) are
embedded without a cache by the embedded multilingual-e5-small in the default precision with
``passage: `` and 256 tokens, ``query: `` and 256 tokens, and ``query: `` and 512 tokens, in
the order ABCABC (the faster of each variant's two runs kept). Prints texts/s, real tokens and
the time the Table 1 corpus (43,061 distinct texts) would take at that speed; writes JSON.

    MGL_DATA=../shared/data python benchmarks/bench_prefix_cost.py --n 400 --out benchmarks/out/prefix_cost.json
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import claim_out, require_mgl_data, write_out

VARIANTS = (("passage: 256", "passage: ", 256), ("query: 256", "query: ", 256), ("query: 512", "query: ", 512))
TABLE1_TEXTS = 43_061


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=400, help="texts (default 400, a quarter per language)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "prefix_cost.json")
    args = parser.parse_args(argv)
    claim_out(args.out)
    data = require_mgl_data("bench_prefix_cost")
    if data is None:
        return 2
    from mgl.data import load_dataset
    from mgl.encoders import EncoderSpec, TextEncoder

    per = {}
    for ex in load_dataset(
        "webis-cls-10", root=data / "cls-acl10-unprocessed", languages=["en", "fr", "de", "ja"], domains=["books"]
    ):
        per.setdefault(ex.language, []).append(ex.text)
    texts = [per[lang][i] for i in range(args.n // 4) for lang in ("en", "fr", "de", "ja")]
    encoders = {name: TextEncoder(EncoderSpec(prefix=prefix, max_length=length)) for name, prefix, length in VARIANTS}
    for enc in encoders.values():
        enc.embed(texts[:16], progress=False)  # warm-up
    seconds: dict[str, list[float]] = {name: [] for name in encoders}
    for _ in range(2):
        for name, enc in encoders.items():
            start = time.perf_counter()
            enc.embed(texts, progress=False)
            seconds[name].append(time.perf_counter() - start)
            print(f"  {name}: {seconds[name][-1]:.1f} s", file=sys.stderr)
    from mgl.provenance import cpu_model

    cpu = cpu_model()
    rows = {}
    print("| variant | precision | texts | real tokens | texts/s | Table 1 corpus (43,061 texts) at that speed |")
    print("|---|---|---:|---:|---:|---:|")
    for name, enc in encoders.items():
        tokens = sum(len(f["input_ids"]) for f in enc._encode(texts, [None] * len(texts)))
        rate = len(texts) / min(seconds[name])
        rows[name] = {
            "precision": enc.precision,
            "texts": len(texts),
            "tokens": tokens,
            "seconds": seconds[name],
            "texts_per_s": round(rate, 2),
            "table1_minutes": round(TABLE1_TEXTS / rate / 60, 1),
        }
        print(
            f"| {name} | {enc.precision} | {len(texts)} | {tokens} | {rate:.2f} | {TABLE1_TEXTS / rate / 60:.0f} min |"
        )
    print(f"CPU {cpu}")
    write_out(args.out, {"variants": rows, "cpu": cpu, "date": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
