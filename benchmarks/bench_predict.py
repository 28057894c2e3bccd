"""``mgl predict`` over a corpus: memory at 10k, 30k and all texts; speed of every executor on 10k texts; resuming.

The corpus: every Webis-CLS-10 review of every language and domain (train and test files) and
both sentences of every PAWS-X pair, distinct texts, written as a folder of Parquet shards
(``id``, ``text``). A model is trained once with a short ``encoder.max_length`` (default 32, the
pooled logistic regression on JA books), so the run measures the data path's memory rather than
the encoder's time. Each measurement is one ``mgl predict --input FOLDER --output DIR`` process
(its peak RSS from ``getrusage`` of the waited child), over the first N texts' shards.

Speed: a second model at full length (the product's defaults: the ensemble, ``max_length`` 256)
predicts the same first 10k texts (``--speed-texts``) with the local executor in one process
(torch's threads), 2 local worker processes (one thread each) and Ray Data with 2 actors on this
machine (Ray started by the command, its start-up counted), one after the other in one run. Each
run's wall clock (model load, planning and Ray included) gives its texts/s; the probabilities of
the three outputs are compared (max abs difference, ids equal). Resuming: the one-process run
is repeated, killed once half its shards are written, and started again; the time from the
restart to its first new shard is the cost of resuming (loading the model, reading past the
finished shards), beside one shard's predicting time.

    python benchmarks/bench_predict.py --out benchmarks/out/bench_predict.json

``--executor ray``: the memory rows run ``mgl predict --executor ray --workers 2`` against a Ray
cluster started once by the benchmark (``ray start --head``, 2 CPUs, on 127.0.0.1), so the peak
RSS is the driver's alone (the actors and Ray's daemons are the cluster's processes): the driver
plans from the Parquet footers, the workers read the files with ``ray.data.read_parquet``, and
only ids and probabilities come back.

    python benchmarks/bench_predict.py --executor ray --speed-texts 0 --out benchmarks/out/bench_predict_ray.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import add_common_options, claim_out, require_mgl_data, write_out


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
        part = texts[i : i + per_file]
        pq.write_table(
            pa.table({"id": [f"t{j:06d}" for j in range(i, i + len(part))], "text": part}),
            folder / f"corpus-{i // per_file:03d}.parquet",
            row_group_size=1000,
        )


# the child's peak RSS: the mgl process alone (a Ray cluster it joins is not its child)
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
    parser.add_argument("--speed-texts", type=int, default=10_000, help="Texts of the speed runs (0: skip them).")
    parser.add_argument("--speed-shard-rows", type=int, default=500)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--executor", choices=("local", "ray"), default="local", help="Executor of the memory rows.")
    add_common_options(parser, "benchmarks/out/bench_predict.json")
    args = parser.parse_args()
    claim_out(args.out)
    data = require_mgl_data("bench_predict.py")
    if data is None:
        return 2
    from mgl.provenance import machine_info

    work = Path(args.work or tempfile.mkdtemp(prefix="mgl-bench-predict-"))
    texts = corpus(data)
    print(f"corpus: {len(texts)} distinct texts", file=sys.stderr)
    model = work / "model"
    if not model.is_dir():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mgl",
                "train",
                "--preset",
                "amazon",
                "--root",
                str(data / "cls-acl10-unprocessed"),
                "--domain",
                "books",
                "--sources",
                "en,fr,de",
                "--target",
                "ja",
                "--seed",
                "0",
                "--method",
                "logreg-pooled",
                "--set",
                f"encoder.max_length={args.max_length}",
                "--out",
                str(work / "train"),
                "--save",
                str(model),
                "--quiet",
            ],
            check=True,
        )
    rows = []
    extra, stop_ray = [], None
    if args.executor == "ray" and not args.skip_memory:
        address, stop_ray = start_ray(work)
        extra = ["--executor", "ray", "--address", address, "--workers", "2"]
    try:
        rows = memory_rows(args, work, texts, model, extra)
    finally:
        if stop_ray is not None:
            stop_ray()
    if rows is None:
        return 1
    if rows:
        base = rows[0]["peak_rss_mb"]
        for r in rows:
            r["growth_vs_first"] = round(r["peak_rss_mb"] / base - 1, 4)
    speed = measure_speed(data, work, texts, args) if args.speed_texts else None
    result = {
        "corpus_texts": len(texts),
        "max_length": args.max_length,
        "executor": args.executor,
        "rows": rows,
        "speed": speed,
        "machine": machine_info(),
        "date": time.strftime("%Y-%m-%d"),
    }
    return report(args, result, rows, speed)


def start_ray(work: Path):
    """A Ray cluster of 2 CPUs on 127.0.0.1 for the runs; its address and how to stop it."""
    import os
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled"}
    os.environ["RAY_AUTH_MODE"] = "disabled"  # the mgl processes join it without a token
    ray_bin = str(Path(sys.executable).with_name("ray"))
    subprocess.run(
        [ray_bin, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={work / 'ray'}"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    return f"127.0.0.1:{port}", lambda: subprocess.run([ray_bin, "stop", "--force"], env=env, capture_output=True)


def memory_rows(args, work: Path, texts: list[str], model: Path, extra: list[str]):
    rows = []
    for size in [] if args.skip_memory else args.sizes.split(","):
        n = len(texts) if size == "all" else min(int(size), len(texts))
        folder = work / f"corpus-{n}"
        if not folder.is_dir():
            write_shards(texts[:n], folder)
        out = work / f"pred-{n}"
        cmd = [
            sys.executable,
            "-m",
            "mgl",
            "predict",
            "--model",
            str(model),
            "--input",
            str(folder),
            "--output",
            str(out),
            "--id-column",
            "id",
            "--quiet",
            *extra,
        ]
        done = subprocess.run([sys.executable, "-c", WRAP, *cmd], capture_output=True, text=True)
        rc, rss_kb, seconds = done.stdout.split()
        if int(rc) != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return None
        rows.append(
            {
                "texts": n,
                "peak_rss_mb": round(int(rss_kb) / 1024, 1),
                "seconds": round(float(seconds), 1),
                "texts_per_second": round(n / float(seconds), 1),
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def report(args, result: dict, rows: list, speed) -> int:
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    write_out(args.out, result)
    if rows:
        print("| texts | peak RSS (MB) | growth vs 10k | wall (s) | texts/s |")
        print("|---:|---:|---:|---:|---:|")
        for r in rows:
            print(
                f"| {r['texts']:,} | {r['peak_rss_mb']:.1f} | {r['growth_vs_first'] * 100:+.1f}% | {r['seconds']:.1f} | "
                f"{r['texts_per_second']:.1f} |"
            )
    if speed:
        print(f"\n{speed['texts']:,} texts at max_length {speed['max_length']} ({speed['method']}):\n")
        print("| executor | wall (s) | texts/s | vs one process | max abs diff of probabilities |")
        print("|---|---:|---:|---:|---:|")
        base = speed["runs"][0]["texts_per_second"]
        for r in speed["runs"]:
            print(
                f"| {r['executor']} | {r['seconds']:.1f} | {r['texts_per_second']:.1f} | "
                f"{r['texts_per_second'] / base:.2f}x | {r['max_abs_diff_vs_one_process']:.2e} |"
            )
        res = speed["resume"]
        print(
            f"\nresume: killed after {res['shards_before_kill']} of {res['shards']} shards; restart to first new "
            f"shard {res['restart_to_first_new_shard_s']:.1f} s (one shard predicts in "
            f"{res['seconds_per_shard']:.1f} s); restart wall {res['restart_wall_s']:.1f} s"
        )
    return 0


def _outputs(folder: Path):
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([pq.read_table(p) for p in sorted(folder.glob("part-*.parquet"))]).to_pydict()
    probs = np.stack([table[c] for c in sorted(table) if c.startswith("p_")], axis=1)
    return table["id"], probs


def measure_speed(data: Path, work: Path, texts: list[str], args) -> dict:
    """texts/s of the local executor (1 process, 2 workers) and Ray Data (2 actors) on the same texts; resuming."""
    import os
    import signal

    import numpy as np

    model = work / "model-full"
    if not model.is_dir():
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mgl",
                "train",
                "--preset",
                "amazon",
                "--root",
                str(data / "cls-acl10-unprocessed"),
                "--domain",
                "books",
                "--sources",
                "en,fr,de",
                "--target",
                "ja",
                "--seed",
                "0",
                "--out",
                str(work / "train-full"),
                "--save",
                str(model),
                "--quiet",
            ],
            check=True,
        )
    meta = json.loads((model / "mgl_model.json").read_text())
    n = min(args.speed_texts, len(texts))
    folder = work / f"speed-{n}"
    if not folder.is_dir():
        write_shards(texts[:n], folder)
    base_cmd = [
        sys.executable,
        "-m",
        "mgl",
        "predict",
        "--model",
        str(model),
        "--input",
        str(folder),
        "--id-column",
        "id",
        "--shard-rows",
        str(args.speed_shard_rows),
        "--quiet",
    ]
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    runs = []
    reference = None
    for name, extra in [
        ("local, 1 process", []),
        ("local, 2 workers", ["--workers", "2"]),
        ("ray data, 2 actors", ["--executor", "ray", "--workers", "2"]),
    ]:
        out = work / f"speed-out-{len(runs)}"
        t0 = time.perf_counter()
        done = subprocess.run([*base_cmd, *extra, "--output", str(out)], capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            raise SystemExit(f"{name} failed: {done.stderr[-3000:]}")
        ids, probs = _outputs(out)
        if reference is None:
            reference = (ids, probs)
        if ids != reference[0]:
            raise SystemExit(f"{name}: the ids differ from one process's")
        runs.append(
            {
                "executor": name,
                "seconds": round(seconds, 2),
                "texts_per_second": round(n / seconds, 2),
                "max_abs_diff_vs_one_process": float(np.abs(probs - reference[1]).max()),
                "labels_differing": int((probs.argmax(1) != reference[1].argmax(1)).sum()),
                "summary": done.stdout.strip().splitlines()[-1],
            }
        )
        print(runs[-1], file=sys.stderr, flush=True)
    # resuming: kill the one-process run once half its shards are written, start it again
    out = work / "speed-resume"
    shards = -(-n // args.speed_shard_rows)
    proc = subprocess.Popen([*base_cmd, "--output", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while proc.poll() is None and len(list(out.glob("part-*.parquet"))) < shards // 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(list(out.glob("part-*.parquet")))
    t0 = time.perf_counter()
    restart = subprocess.Popen(
        [*base_cmd, "--output", str(out)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    first_new = None
    while restart.poll() is None:
        if first_new is None and len(list(out.glob("part-*.parquet"))) > before:
            first_new = time.perf_counter() - t0
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    if restart.returncode != 0:
        raise SystemExit(f"resume failed: {restart.stderr.read()[-3000:]}")
    ids, probs = _outputs(out)
    per_shard = runs[0]["seconds"] / shards
    return {
        "texts": n,
        "max_length": meta.get("encoder", {}).get("spec", {}).get("max_length"),
        "method": meta.get("method"),
        "shard_rows": args.speed_shard_rows,
        "runs": runs,
        "resume": {
            "shards": shards,
            "shards_before_kill": before,
            "restart_wall_s": round(wall, 2),
            "restart_to_first_new_shard_s": round(first_new or wall, 2),
            "seconds_per_shard": round(per_shard, 2),
            "ids_equal": ids == reference[0],
            "max_abs_diff_vs_one_process": float(np.abs(probs - reference[1]).max()),
        },
    }


if __name__ == "__main__":
    sys.exit(main())
