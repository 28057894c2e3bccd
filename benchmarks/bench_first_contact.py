"""First contact: how long a new user waits for the first sign of life of each command.

Three waits, each measured from the moment the command starts, in a fresh process:

* ``mgl train``: until its first output (a notice, the data table, a progress bar), and the whole
  run, on a small CSV of Webis-CLS-10 books reviews (the pooled logistic regression, the embedded e5);
* ``mgl predict``: the whole command, one sentence, from a model saved by that training;
* ``mgl serve``: until ``GET /health`` answers 200.

``cold``: an empty ``MGL_HOME`` (the encoder is prepared, nothing is cached); ``warm``: the same
again, as a user's second try. ``--pythonpath`` runs another checkout's ``src`` (a before/after
pair in one run, on one machine). Writes ``--out`` (JSON) and prints a Markdown table.

    export MGL_DATA=../shared/data
    python benchmarks/bench_first_contact.py --work /tmp/mgl-first --out docs/results/raw/first_contact.json
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import claim_out, require_mgl_data, write_out
from reliability import write_books_csv

COLUMNS = "text=text,label=label,language=language,split=split"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def until_output(argv: list[str], env: dict, timeout: float = 900) -> tuple[float, float, int]:
    """Seconds until the command's first output (a notice, a table, a progress bar: its first sign of
    life), seconds until it ends, and its exit status."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert proc.stdout is not None
    first = proc.stdout.read1(1)
    seen = time.perf_counter() - start if first else float("nan")
    proc.stdout.read()
    code = proc.wait(timeout=timeout)
    return seen, time.perf_counter() - start, code


def wall(argv: list[str], env: dict, timeout: float = 900) -> tuple[float, int]:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, timeout=timeout)
    if done.returncode != 0:
        print(done.stderr.decode()[-2000:], file=sys.stderr)
    return time.perf_counter() - start, done.returncode


def serve_ready(argv: list[str], env: dict, timeout: float = 600) -> float:
    port = free_port()
    start = time.perf_counter()
    proc = subprocess.Popen([*argv, "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                return float("nan")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    return time.perf_counter() - start
            except OSError:
                time.sleep(0.05)
        return float("nan")
    finally:
        proc.terminate()
        proc.wait(timeout=60)


def measure(label: str, pythonpath: str | None, work: Path, books: Path) -> list[dict]:
    env = {**os.environ}
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a user's machine writes bytecode
    mgl = [sys.executable, "-m", "mgl"]
    sentence = work / "one.txt"
    sentence.write_text("Un livre magnifique, je le recommande.\n", encoding="utf-8")
    rows = []
    with tempfile.TemporaryDirectory(prefix="mgl-home-") as home:
        env["MGL_HOME"] = home
        for attempt in ("cold", "warm"):
            model = work / f"{label}-{attempt}-model"
            train = [
                *mgl, "train", "--data", str(books), "--columns", COLUMNS, "--sources", "en,de", "--target", "fr",
                "--method", "logreg-pooled", "--out", str(work / f"{label}-{attempt}-run"), "--save", str(model),
            ]  # fmt: skip
            first, whole, code = until_output(train, env)
            rows.append({"tree": label, "try": attempt, "wait": "train: first output", "seconds": first, "exit": code})
            rows.append({"tree": label, "try": attempt, "wait": "train: whole run", "seconds": whole, "exit": code})
            predict = [*mgl, "predict", "--model", str(model), "--input", str(sentence), "--output", str(work / f"{label}-{attempt}.jsonl"), "--quiet"]  # fmt: skip
            seconds, code = wall(predict, env)
            rows.append(
                {"tree": label, "try": attempt, "wait": "predict: one sentence", "seconds": seconds, "exit": code}
            )
            ready = serve_ready([*mgl, "serve", "--model", str(model)], env)
            rows.append({"tree": label, "try": attempt, "wait": "serve: /health answers", "seconds": ready, "exit": 0})
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="A scratch folder (created; must not exist).")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--per-class", type=int, default=20, help="Reviews per language, split and class.")
    parser.add_argument("--pythonpath", default=None, help="Also measure this src folder (another checkout), first.")
    args = parser.parse_args(argv)
    data = require_mgl_data("bench_first_contact.py")
    if data is None:
        return 2
    out = claim_out(args.out)
    args.work.mkdir(parents=True)
    books = args.work / "books.csv"
    write_books_csv(data, books, args.per_class)
    rows = []
    if args.pythonpath:
        rows += measure("before", args.pythonpath, args.work, books)
    rows += measure("after" if args.pythonpath else "this tree", None, args.work, books)
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    write_out(out, {"rows": rows, "cpu": cpu, "cores": os.cpu_count()})
    print(f"CPU: {cpu}, {os.cpu_count()} cores\n\n| tree | try | wait | seconds |\n|---|---|---|---:|")
    for r in rows:
        print(f"| {r['tree']} | {r['try']} | {r['wait']} | {r['seconds']:.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
