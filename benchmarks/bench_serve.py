"""Load benchmark of ``mgl serve``: latency, throughput, errors and memory under concurrent clients.

Starts ``mgl serve --model MODEL`` on 127.0.0.1 on a free port (a real socket, a separate
process), waits for ``/health``, then runs two phases, each bounded in requests and in time:

1. *single*: 8 concurrent clients x 250 requests of one review each (``explain`` off);
2. *batched*: 4 concurrent clients x 25 requests of 32 reviews each.

Every client is a thread with its own keep-alive HTTP connection; the reviews are distinct
Webis-CLS-10 books test reviews (JA, FR, DE, EN in turn), so nothing is answered from a cache.
For each phase: requests, errors (non-200 or transport), throughput (texts/s and requests/s),
latency p50/p95/p99/max; and the server's RSS after loading and a short warm-up, after each
phase and at the end. Then the server is stopped with SIGTERM (its exit status is recorded),
and ``mgl predict --no-cache`` is run on the batched phase's texts with the same model, for its
texts/s (the reference of the batched throughput). Writes JSON and prints a table::

    python benchmarks/bench_serve.py --model runs/userfile/model --out benchmarks/out/serve.json
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from _common import claim_out, require_mgl_data, write_out

LANGS = ("ja", "fr", "de", "en")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status", encoding="utf-8") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reviews(root: Path, n: int) -> list[str]:
    """``n`` distinct books test reviews, the languages in turn."""
    from mgl.data.registry import load_dataset

    by_lang = {
        lang: [
            ex.text
            for ex in load_dataset("webis-cls-10", root=root, languages=[lang], domains=["books"], splits=["test"])
        ]
        for lang in LANGS
    }
    out = []
    for i in range(n):
        lang = LANGS[i % len(LANGS)]
        out.append(by_lang[lang][i // len(LANGS)])
    return out


class Client(threading.Thread):
    def __init__(self, port: int, bodies: list[bytes], deadline: float):
        super().__init__(daemon=True)
        self.port, self.bodies, self.deadline = port, bodies, deadline
        self.latencies: list[float] = []
        self.errors: list[str] = []
        self.sent = 0

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        for body in self.bodies:
            if time.perf_counter() > self.deadline:
                break
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/predict", body=body, headers={"content-type": "application/json"})
                resp = conn.getresponse()
                payload = resp.read()
                if resp.status != 200:
                    self.errors.append(f"{resp.status}: {payload[:200]!r}")
                elif not json.loads(payload).get("predictions"):
                    self.errors.append("no predictions")
            except Exception as exc:  # counted, and the connection is opened again
                self.errors.append(f"{type(exc).__name__}: {exc}")
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            self.latencies.append(time.perf_counter() - t0)
            self.sent += 1
        conn.close()


def phase(
    name: str, port: int, texts: list[str], clients: int, requests: int, per_request: int, time_limit: float, pid: int
) -> dict:
    bodies = [
        [
            json.dumps(
                {"texts": texts[(c * requests + r) * per_request : (c * requests + r + 1) * per_request]}
            ).encode()
            for r in range(requests)
        ]
        for c in range(clients)
    ]
    deadline = time.perf_counter() + time_limit
    threads = [Client(port, b, deadline) for b in bodies]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.array([x for t in threads for x in t.latencies]) * 1000
    sent = sum(t.sent for t in threads)
    errors = [e for t in threads for e in t.errors]
    return {
        "phase": name,
        "clients": clients,
        "requests_planned": clients * requests,
        "requests": sent,
        "texts_per_request": per_request,
        "errors": len(errors),
        "error_samples": errors[:5],
        "wall_seconds": wall,
        "requests_per_s": sent / wall,
        "texts_per_s": sent * per_request / wall,
        "p50_ms": float(np.percentile(lat, 50)),
        "p95_ms": float(np.percentile(lat, 95)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "mean_ms": float(lat.mean()),
        "rss_mb_after": rss_mb(pid),
        "stopped_by_time_limit": sent < clients * requests,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="A model directory saved by 'mgl train --save'.")
    parser.add_argument("--out", default="benchmarks/out/serve.json")
    parser.add_argument("--single-clients", type=int, default=8)
    parser.add_argument("--single-requests", type=int, default=250)
    parser.add_argument("--batch-clients", type=int, default=4)
    parser.add_argument("--batch-requests", type=int, default=25)
    parser.add_argument("--batch-texts", type=int, default=32)
    parser.add_argument("--time-limit", type=float, default=600, help="Seconds per phase at most.")
    parser.add_argument(
        "--precision",
        default=None,
        help="fp32, bf16 or auto for both mgl serve and mgl predict (default: as the model was trained).",
    )
    parser.add_argument("--serve-arg", action="append", default=[], help="Extra option for mgl serve (repeatable).")
    args = parser.parse_args(argv)
    claim_out(args.out)
    data = require_mgl_data("bench_serve")
    if data is None:
        return 2
    from mgl.provenance import machine_info

    n_single = args.single_clients * args.single_requests
    n_batch = args.batch_clients * args.batch_requests * args.batch_texts
    texts = reviews(data / "cls-acl10-unprocessed", n_single + n_batch + 16)
    warm, single_texts, batch_texts = texts[:16], texts[16 : 16 + n_single], texts[16 + n_single :]
    port = free_port()
    mgl = [str(Path(sys.executable).parent / "mgl")]
    fd, log_name = tempfile.mkstemp(suffix=".log", prefix="bench_serve-")
    log_path = Path(log_name)
    precision = ["--precision", args.precision] if args.precision else []
    with open(fd, "w") as log:  # the child keeps its own copy of the descriptor
        server = subprocess.Popen(
            [
                *mgl,
                "serve",
                "--model",
                args.model,
                "--port",
                str(port),
                "--log-level",
                "warning",
                *precision,
                *args.serve_arg,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    result: dict = {
        "benchmark": "bench_serve",
        "model": args.model,
        "precision": args.precision,
        "serve_args": args.serve_arg,
        "port": port,
    }
    try:
        t0 = time.perf_counter()
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if server.poll() is not None or time.perf_counter() - t0 > 180:
                print(f"bench_serve: the server did not start:\n{log_path.read_text()[-3000:]}", file=sys.stderr)
                return 1
            time.sleep(0.2)
        result["startup_seconds"] = time.perf_counter() - t0
        result["rss_mb_loaded"] = rss_mb(server.pid)
        # warm-up: both request shapes once (the allocator's first large batch is not a leak)
        phase("warm-up", port, warm, 1, len(warm), 1, 120, server.pid)
        phase("warm-up", port, batch_texts[: 2 * args.batch_texts], 2, 1, args.batch_texts, 120, server.pid)
        result["rss_mb_start"] = rss_mb(server.pid)
        result["phases"] = [
            phase(
                "single", port, single_texts, args.single_clients, args.single_requests, 1, args.time_limit, server.pid
            ),
            phase(
                "batched",
                port,
                batch_texts,
                args.batch_clients,
                args.batch_requests,
                args.batch_texts,
                args.time_limit,
                server.pid,
            ),
        ]
        result["rss_mb_end"] = rss_mb(server.pid)
        result["rss_growth_pct"] = 100 * (result["rss_mb_end"] / result["rss_mb_start"] - 1)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            result["server_exit_status"] = server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
            result["server_exit_status"] = "killed after 60 s"
        result["server_log_tail"] = log_path.read_text()[-1500:]
    # the reference: mgl predict on the batched phase's texts, the same model, nothing cached
    with tempfile.TemporaryDirectory() as tmp:
        inputs = Path(tmp) / "texts.jsonl"
        inputs.write_text(
            "".join(json.dumps({"text": t}, ensure_ascii=False) + "\n" for t in batch_texts), encoding="utf-8"
        )
        proc = subprocess.run(
            [
                *mgl,
                "predict",
                "--model",
                args.model,
                "--input",
                str(inputs),
                "--output",
                str(Path(tmp) / "out.jsonl"),
                "--no-cache",
                "--quiet",
                *precision,
            ],
            capture_output=True,
            text=True,
        )
        match = re.search(r"\(([\d.]+) texts/s\)", proc.stdout)
        result["predict_texts_per_s"] = float(match.group(1)) if match else None
        result["predict_output"] = proc.stdout.strip()[-300:]
    batched = result["phases"][1]
    result["batched_vs_predict"] = (
        batched["texts_per_s"] / result["predict_texts_per_s"] if result["predict_texts_per_s"] else None
    )
    result["machine"] = machine_info()
    result["date"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    write_out(args.out, result)

    print(f"mgl serve {args.model} on 127.0.0.1:{port} ({os.cpu_count()} CPUs, {result['machine']['cpu']})")
    print(
        f"{'phase':<9}{'clients':>8}{'requests':>9}{'errors':>7}{'texts/s':>9}{'req/s':>7}"
        f"{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}{'max ms':>8}{'RSS MB':>8}"
    )
    for p in result["phases"]:
        print(
            f"{p['phase']:<9}{p['clients']:>8}{p['requests']:>9}{p['errors']:>7}{p['texts_per_s']:>9.1f}"
            f"{p['requests_per_s']:>7.1f}{p['p50_ms']:>8.0f}{p['p95_ms']:>8.0f}{p['p99_ms']:>8.0f}{p['max_ms']:>8.0f}"
            f"{p['rss_mb_after']:>8.0f}"
        )
    print(
        f"RSS: {result['rss_mb_loaded']:.0f} MB loaded, {result['rss_mb_start']:.0f} MB after warm-up, "
        f"{result['rss_mb_end']:.0f} MB at the end ({result['rss_growth_pct']:+.1f}%); "
        f"server exit status after SIGTERM: {result['server_exit_status']}"
    )
    if result["predict_texts_per_s"]:
        print(
            f"mgl predict on the batched texts: {result['predict_texts_per_s']:.1f} texts/s; batched phase = "
            f"{100 * result['batched_vs_predict']:.0f}% of it"
        )
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
