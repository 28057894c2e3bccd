"""Memory of ``mgl predict`` over a corpus: peak RSS at 10k, 30k texts and the whole corpus, local executor.

The corpus: every Webis-CLS-10 review of every language and domain (train and test files) and
both sentences of every PAWS-X pair, distinct texts, written as a folder of Parquet shards
(``id``, ``text``). A model is trained once with a short ``encoder.max_length`` (default 32, the
pooled logistic regression on JA books), so the run measures the data path's memory rather than
the encoder's time. Each measurement is one ``mgl predict --input FOLDER --output DIR`` process
(its peak RSS from ``getrusage`` of the waited child), over the first N texts' shards.

    python benchmarks/bench_predict.py --out benchmarks/out/bench_predict.json

Not measured here yet (issue 26): texts/s with 2 local workers and on Ray Data.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import add_common_options, require_mgl_data


def corpus(data: Path) -> list[str]:
    from mgl.data.registry import load_dataset

    texts: dict[str, None] = {}
    for ex in load_dataset("webis-cls-10", root=data / "cls-acl10-unprocessed", languages=["en", "fr", "de", "ja"]):
        texts.setdefault(ex.text)
    for ex in load_dataset("paws-x", root=data / "paws-x", languages=["en", "de", "es", "fr", "ja", "ko", "zh"]):
        texts.setdefault(ex.text)
        if ex.text_pair:
            texts.setdefault(ex.text_pair)
    return [t for t in texts if t.strip()]


def write_shards(texts: list[str], folder: Path, per_file: int = 5000) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(0, len(texts), per_file):
        part = texts[i:i + per_file]
        pq.write_table(pa.table({"id": [f"t{j:06d}" for j in range(i, i + len(part))], "text": part}),
                       folder / f"corpus-{i // per_file:03d}.parquet", row_group_size=1000)


WRAP = """
import resource, subprocess, sys, time
t0 = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
print(rc, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, time.perf_counter() - t0)
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,30000,all")
    parser.add_argument("--max-length", type=int, default=32)
    parser.add_argument("--work", help="Working folder (default: a temporary one).")
    add_common_options(parser, "benchmarks/out/bench_predict.json")
    args = parser.parse_args()
    data = require_mgl_data("bench_predict.py")
    if data is None:
        return 2
    from mgl.provenance import machine_info

    work = Path(args.work or tempfile.mkdtemp(prefix="mgl-bench-predict-"))
    texts = corpus(data)
    print(f"corpus: {len(texts)} distinct texts", file=sys.stderr)
    model = work / "model"
    if not model.is_dir():
        subprocess.run([sys.executable, "-m", "mgl", "train", "--preset", "amazon", "--root",
                        str(data / "cls-acl10-unprocessed"), "--domain", "books", "--sources", "en,fr,de", "--target",
                        "ja", "--seed", "0", "--method", "logreg-pooled", "--set", f"encoder.max_length={args.max_length}",
                        "--out", str(work / "train"), "--save", str(model), "--quiet"], check=True)
    rows = []
    for size in args.sizes.split(","):
        n = len(texts) if size == "all" else min(int(size), len(texts))
        folder = work / f"corpus-{n}"
        if not folder.is_dir():
            write_shards(texts[:n], folder)
        out = work / f"pred-{n}"
        cmd = [sys.executable, "-m", "mgl", "predict", "--model", str(model), "--input", str(folder), "--output",
               str(out), "--id-column", "id", "--quiet"]
        done = subprocess.run([sys.executable, "-c", WRAP, *cmd], capture_output=True, text=True)
        rc, rss_kb, seconds = done.stdout.split()
        if int(rc) != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
        rows.append({"texts": n, "peak_rss_mb": round(int(rss_kb) / 1024, 1), "seconds": round(float(seconds), 1),
                     "texts_per_second": round(n / float(seconds), 1)})
        print(rows[-1], file=sys.stderr, flush=True)
    base = rows[0]["peak_rss_mb"]
    for r in rows:
        r["growth_vs_first"] = round(r["peak_rss_mb"] / base - 1, 4)
    result = {"corpus_texts": len(texts), "max_length": args.max_length, "rows": rows, "machine": machine_info(),
              "date": time.strftime("%Y-%m-%d")}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2))
    print("| texts | peak RSS (MB) | growth vs 10k | wall (s) | texts/s |")
    print("|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['texts']:,} | {r['peak_rss_mb']:.1f} | {r['growth_vs_first'] * 100:+.1f}% | {r['seconds']:.1f} | "
              f"{r['texts_per_second']:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
