"""The hostile-but-fair user's cases of issue 24, re-run against the CLI and the service.

Builds a Webis-CLS-10 books CSV (EN, FR, DE, JA; at most ``--per-class`` reviews per language,
split and class) in a work folder, trains a model on it with the default settings (the embedded
e5 in the default precision), then runs each case and records what happened: exit status,
message, files before and after, HTTP statuses, and for the served model the largest change of
a text's probabilities between alone, batched, duplicated and under concurrent load.

Writes ``--out`` (JSON) and prints a Markdown table (docs/results/reliability.md holds a run).

    export MGL_DATA=../shared/data
    python benchmarks/reliability.py --work /tmp/mgl-reliability --out benchmarks/out/reliability.json
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from _common import claim_out, require_mgl_data, write_out

MGL = [sys.executable, "-m", "mgl"]


def mgl(*args, cwd=None, timeout=1800) -> subprocess.CompletedProcess:
    return subprocess.run([*MGL, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def write_books_csv(data: Path, path: Path, per_class: int) -> int:
    from mgl.data import load_dataset

    examples = load_dataset(
        "webis-cls-10", root=data / "cls-acl10-unprocessed", languages=["en", "fr", "de", "ja"], domains=["books"]
    )
    kept: dict[tuple, int] = {}
    rows = []
    for ex in examples:
        key = (ex.language, ex.split, ex.label)
        if kept.get(key, 0) < per_class:
            kept[key] = kept.get(key, 0) + 1
            rows.append({"text": ex.text, "label": ex.label, "language": ex.language, "split": ex.split})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "label", "language", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def train_args(csv_path: Path, out: Path, *extra) -> list:
    return [
        "train",
        "--data",
        csv_path,
        "--columns",
        "text=text,label=label,language=language,split=split",
        "--sources",
        "en,fr,de",
        "--target",
        "ja",
        "--out",
        out,
        "--quiet",
        "--seed",
        "0",
        *extra,
    ]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int):
        self.port = port

    def post(self, payload, host: str | None = None) -> tuple[int, dict]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        try:
            headers = {"content-type": "application/json", **({"host": host} if host else {})}
            conn.request("POST", "/predict", body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read() or b"{}")
        finally:
            conn.close()

    def get(self, path: str, method: str = "GET", headers: dict | None = None) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            conn.request(method, path, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()


def start_server(model: Path, log: Path, *extra) -> tuple[subprocess.Popen, Client]:
    port = free_port()
    with open(log, "w") as fh:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(
            [*MGL, "serve", "--model", str(model), "--port", str(port), *map(str, extra)],
            stdout=fh,
            stderr=subprocess.STDOUT,
        )
    client = Client(port)
    deadline = time.time() + 300
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited: {log.read_text()[-2000:]}")
        try:
            if client.get("/health")[0] == 200:
                return proc, client
        except OSError:
            time.sleep(0.3)
    raise SystemExit("server did not start")


def case_data_loss(work: Path, csv_path: Path) -> list[dict]:
    rows = []
    proj = work / "proj"
    proj.mkdir(exist_ok=True)
    (proj / "thesis.txt").write_text("x")
    t0 = time.perf_counter()
    done = mgl(*train_args(csv_path, work / "run-proj", "--save", proj))
    rows.append(
        {
            "case": "1. --save into a folder holding the user's thesis.txt",
            "exit": done.returncode,
            "seconds": round(time.perf_counter() - t0, 1),
            "message": last_line(done.stderr),
            "kept": sorted(p.name for p in proj.iterdir()) == ["thesis.txt"],
        }
    )
    cwd = work / "cwd"
    cwd.mkdir(exist_ok=True)
    (cwd / "notes.txt").write_text("mine")
    done = mgl(*train_args(csv_path, work / "run-dot", "--save", "."), cwd=cwd)
    rows.append(
        {
            "case": "1. --save .",
            "exit": done.returncode,
            "message": last_line(done.stderr),
            "kept": sorted(p.name for p in cwd.iterdir()) == ["notes.txt"],
        }
    )
    for option, args in (
        ("--save", train_args(csv_path, work / "run-ro", "--save", "/proc/mgl-ro/model")),
        ("--out", train_args(csv_path, "/proc/mgl-ro/run")),
    ):
        t0 = time.perf_counter()
        done = mgl(*args)
        rows.append(
            {
                "case": f"1. read-only {option} folder",
                "exit": done.returncode,
                "seconds": round(time.perf_counter() - t0, 1),
                "message": last_line(done.stderr),
                "kept": True,
            }
        )
    return rows


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def case_user_files(work: Path, csv_path: Path, model: Path) -> list[dict]:
    """Issue 31's reproductions: every output path keeps the user's files, the same file is read
    alike by training and by both prediction paths, model folders are closed. Each row: the
    command, its exit status, its last line, and whether the user's files are byte-identical."""
    rows: list[dict] = []
    home = work / "u"
    home.mkdir()
    small = ["--method", "logreg-pooled", "--set", "data.max_per_class=20", "--set", "encoder.max_length=64"]

    def row(case: str, done: subprocess.CompletedProcess, kept: bool, **extra) -> None:
        rows.append({"case": case, "exit": done.returncode, "message": last_line(done.stderr), "kept": kept, **extra})

    src = home / "in.jsonl"
    src.write_bytes(b'{"text":"a"}\n')
    done = mgl("predict", "--model", model, "--input", src, "--output", src)
    row("predict --output <its own input>", done, src.read_bytes() == b'{"text":"a"}\n')
    mine = home / "mine.jsonl"
    mine.write_bytes(b"user data\n")
    done = mgl("predict", "--model", model, "--input", src, "--output", mine)
    row("predict --output <an existing user file>", done, mine.read_bytes() == b"user data\n")
    before = _files(model)
    done = mgl("predict", "--model", model, "--input", src, "--output", model / "examples.jsonl")
    row("predict --output MODEL/examples.jsonl", done, _files(model) == before)
    fig = home / "fig.png"
    fig.write_bytes(b"user figure")
    done = mgl("plot", "reliability", "--model", model, "--out", fig)
    row(
        "plot reliability --out <an existing fig.png>",
        done,
        fig.read_bytes() == b"user figure" and not (home / "fig.json").exists(),
    )
    run = home / "run"
    run.mkdir()
    (run / "checkpoint.pt").write_bytes(b"user checkpoint")
    (run / "result.json").write_bytes(b"user result")
    before = _files(run)
    t0 = time.perf_counter()
    done = mgl(*train_args(csv_path, run, *small))
    row(
        "train --out DIR holding the user's checkpoint.pt and result.json",
        done,
        _files(run) == before,
        seconds=round(time.perf_counter() - t0, 1),
    )
    env_home = work / "fake-home"
    env_home.mkdir()
    done = subprocess.run(
        [*MGL, *map(str, train_args(csv_path, "~/x", *small))],
        capture_output=True,
        text=True,
        cwd=home,
        env={**os.environ, "HOME": str(env_home)},
        timeout=1800,
    )
    row(
        "train --out '~/x'",
        done,
        not (home / "~").exists(),
        wrote=sorted(str(p.relative_to(env_home)) for p in env_home.rglob("result.json")),
    )
    t0 = time.perf_counter()
    done = mgl(*train_args(csv_path, home / "same", "--save", home / "same", *small))
    row(
        "train --out X --save X",
        done,
        not (home / "same" / "result.json").exists(),
        seconds=round(time.perf_counter() - t0, 1),
    )
    tsv = home / "five.tsv"
    tsv.write_text('text\n"Great" book\n"Unclosed start\nrow three\nrow "four"\nrow five\n', encoding="utf-8")
    done = mgl("predict", "--model", model, "--input", tsv, "--output", home / "five.jsonl")
    single = (
        [json.loads(line)["text"] for line in (home / "five.jsonl").read_text(encoding="utf-8").splitlines()]
        if done.returncode == 0
        else []
    )
    done2 = mgl(
        "predict", "--model", model, "--input", tsv, "--output", home / "five-shards", "--output-format", "jsonl"
    )
    shards = (
        [
            json.loads(line)["id"]
            for p in sorted((home / "five-shards").glob("part-*.jsonl"))
            for line in p.read_text(encoding="utf-8").splitlines()
        ]
        if done2.returncode == 0
        else []
    )
    from mgl.data.records import RecordReader

    rows.append(
        {
            "case": "the 5-row TSV: single file / folder / the reader training uses",
            "exit": done.returncode,
            "message": last_line(done.stderr),
            "kept": True,
            "single_file": single,
            "folder_ids": shards,
            "training_reader": [r.values["text"] for r in RecordReader(tsv).records()],
        }
    )
    copy = home / "model-copy"
    shutil.copytree(model, copy)
    sums = json.loads((copy / "checksums.json").read_text(encoding="utf-8"))
    sums["../outside.json"] = "0" * 64
    (copy / "checksums.json").write_text(json.dumps(sums), encoding="utf-8")
    done = mgl("predict", "--model", copy, "--input", src, "--output", home / "p1.jsonl")
    row("checksums.json naming ../outside.json", done, True)
    return rows


def case_resume(work: Path, csv_path: Path) -> dict:
    data = work / "resume.csv"
    shutil.copy(csv_path, data)
    out = work / "run-resume"
    args = train_args(data, out, "--set", "mgl.patience=50", "--set", "mgl.max_rounds=8", "--resume")
    proc = subprocess.Popen([*MGL, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = out / "checkpoint.pt"
    deadline = time.time() + 1200
    import torch

    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists():
            try:
                stages = torch.load(checkpoint, map_location="cpu", weights_only=True)["stages"]
            except Exception:
                stages = {}
            if "meta-test" in stages:
                break
        time.sleep(0.2)
    killed = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lines = data.read_text(encoding="utf-8").splitlines()
    header, body = lines[0], lines[1:]
    changed = [header] + [
        line.replace(",positive,", ",negative,", 1) if i % 7 == 0 else line for i, line in enumerate(body)
    ]
    data.write_text("\n".join(changed) + "\n", encoding="utf-8")
    done = mgl(*args)
    return {
        "case": "3. --resume after the data file changed",
        "killed_in_meta_test": killed,
        "exit": done.returncode,
        "message": last_line(done.stderr),
        "result_written": (out / "result.json").exists(),
    }


def served_answers(client: Client, texts: list[str]) -> dict:
    def probs(payload) -> list[dict]:
        status, body = client.post(payload)
        assert status == 200, (status, body)
        return [p["probabilities"] for p in body["predictions"]]

    alone = {t: probs({"texts": [t]})[0] for t in texts}

    def gap(got: dict, text: str) -> float:
        return max(abs(got[k] - alone[text][k]) for k in got)

    batched = max(gap(p, t) for p, t in zip(probs({"texts": texts[:32]}), texts[:32]))
    dup = [texts[0]] * 8 + texts[1:9]
    duplicated = max(gap(p, t) for p, t in zip(probs({"texts": dup}), dup))
    under_load: list[float] = []
    changed = [0]
    labels = {t: max(alone[t], key=alone[t].get) for t in texts}

    def worker(i: int) -> None:
        for k in range(10):
            chunk = [texts[(i * 7 + k * 3 + j) % len(texts)] for j in range(1 + (i + k) % 16)]
            for p, t in zip(probs({"texts": chunk}), chunk):
                under_load.append(gap(p, t))
                changed[0] += max(p, key=p.get) != labels[t]

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "alone_vs_batch_of_32": batched,
        "alone_vs_duplicated": duplicated,
        "alone_vs_concurrent_load": max(under_load),
        "predictions_under_load": len(under_load),
        "labels_changed_under_load": changed[0],
    }


def case_surrogates(client: Client, texts: list[str]) -> dict:
    status, body = client.post({"texts": ["bad \ud800 text"]})
    good_failures, good_total, bad_statuses = [0], [0], []

    def good(i: int) -> None:
        for k in range(30):
            s, _ = client.post({"texts": [texts[(i + k) % len(texts)]]})
            good_total[0] += 1
            good_failures[0] += s != 200

    def bad(i: int) -> None:
        for k in range(60):
            s, _ = client.post({"texts": ["ok", f"bad \ud800 {k}"]})
            bad_statuses.append(s)

    threads = [threading.Thread(target=good, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=bad, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {
        "case": "4. lone surrogate in /predict",
        "status": status,
        "body": body,
        "well_formed_requests": good_total[0],
        "well_formed_failures": good_failures[0],
        "hostile_statuses": sorted(set(bad_statuses)),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--work", type=Path, default=Path("/tmp/mgl-reliability"))
    parser.add_argument("--per-class", type=int, default=60)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "out" / "reliability.json")
    parser.add_argument(
        "--only",
        choices=["user-files"],
        default=None,
        help="Run only these cases (user-files: every output path keeps the user's files).",
    )
    args = parser.parse_args(argv)
    claim_out(args.out)
    data = require_mgl_data("reliability")
    if data is None:
        return 2
    if args.work.exists():
        shutil.rmtree(args.work)
    args.work.mkdir(parents=True)
    csv_path = args.work / "books.csv"
    n_rows = write_books_csv(data, csv_path, args.per_class)
    result: dict = {"rows": n_rows}
    t0 = time.perf_counter()
    done = mgl(*train_args(csv_path, args.work / "run", "--save", args.work / "model"))
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    result["train_seconds"] = round(time.perf_counter() - t0, 1)
    result["user_files"] = case_user_files(args.work, csv_path, args.work / "model")
    if args.only == "user-files":
        return _finish(result, args.out)
    result["data_loss"] = case_data_loss(args.work, csv_path)
    result["resume"] = case_resume(args.work, csv_path)

    with open(csv_path, encoding="utf-8") as fh:
        texts = [row["text"] for row in csv.DictReader(fh) if row["language"] == "ja"][:48]
    proc, client = start_server(args.work / "model", args.work / "serve.log")
    try:
        result["precision"] = json.loads(client.get("/model")[1])["encoder"]["precision"]
        result["same_answer"] = served_answers(client, texts)
        result["surrogates"] = case_surrogates(client, texts)
        chunked = http.client.HTTPConnection("127.0.0.1", client.port, timeout=60)
        chunked.putrequest("POST", "/predict")
        chunked.putheader("content-type", "application/json")
        chunked.putheader("transfer-encoding", "chunked")
        chunked.endheaders()
        payload = json.dumps({"texts": ["x" * 1_000_000, "y" * 1_500_000]}).encode()
        for start in range(0, len(payload), 65536):
            part = payload[start : start + 65536]
            try:
                chunked.send(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            except OSError:
                break
        with contextlib.suppress(OSError):
            chunked.send(b"0\r\n\r\n")
        resp = chunked.getresponse()
        result["messages"] = {
            "oversized_chunked_body": [resp.status, json.loads(resp.read())],
            "error_shapes": sorted(
                {
                    tuple(sorted(json.loads(client.get(p, m)[1]).keys()))
                    for p, m in (("/nope", "GET"), ("/predict", "GET"), ("/health", "DELETE"))
                }
            ),
            "head": {p: client.get(p, "HEAD")[0] for p in ("/", "/health")},
            "docs_offline": "https://" not in client.get("/docs")[1].decode()
            and client.get("/static-offline-docs/swagger-ui-bundle.js")[0] == 200,
            "model_has_no_absolute_path": str(args.work) not in client.get("/model")[1].decode(),
            "foreign_host": client.get("/health", headers={"host": "evil.example"})[0],
        }
        port_taken = mgl("serve", "--model", args.work / "model", "--port", client.port)
        result["messages"]["port_in_use"] = [port_taken.returncode, last_line(port_taken.stderr)]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)

    msgs = result["messages"]
    utf16 = args.work / "utf16.csv"
    utf16.write_bytes(csv_path.read_text(encoding="utf-8")[:2000].encode("utf-16-le"))
    done = mgl(*train_args(utf16, args.work / "run-utf16"))
    msgs["utf16_without_bom"] = [done.returncode, last_line(done.stderr)]
    one = args.work / "one.csv"
    with open(csv_path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    firsts = {}
    for row in rows:
        if row["language"] == "ja" and row["split"] == "train":
            firsts.setdefault(row["label"], row)
    keep = [r for r in rows if r["language"] != "ja" or r["split"] == "test"] + list(firsts.values())
    with open(one, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "label", "language", "split"])
        writer.writeheader()
        writer.writerows(keep)
    done = mgl(*train_args(one, args.work / "run-one", "--target-fraction", "1.0"))
    msgs["one_example_per_class"] = [done.returncode, last_line(done.stderr)]
    nosuffix = args.work / "books"
    shutil.copy(csv_path, nosuffix)
    done = mgl(*train_args(nosuffix, args.work / "run-nosuffix"))
    msgs["file_without_suffix"] = [done.returncode, last_line(done.stderr)]
    bad = args.work / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n\n\n\n\n{"text": ""}\n', encoding="utf-8")
    done = mgl("predict", "--model", args.work / "model", "--input", bad, "--output", args.work / "p.jsonl")
    malformed = args.work / "malformed.jsonl"
    malformed.write_text('{"text": "ok"}\n\n\n\n\n{"text": \n', encoding="utf-8")
    done2 = mgl("predict", "--model", args.work / "model", "--input", malformed, "--output", args.work / "p.jsonl")
    msgs["predict_line_numbers"] = [last_line(done.stderr), last_line(done2.stderr)]
    sur = args.work / "sur.jsonl"
    sur.write_text(
        '{"text": "ok", "label": "positive", "language": "ja", "split": "train"}\n'
        '{"text": "bad \\ud800 text", "label": "positive", "language": "ja", "split": "train"}\n'
    )
    done = mgl(*train_args(sur, args.work / "run-sur"))
    inp = args.work / "sur-in.jsonl"
    inp.write_text('{"text": "ok"}\n{"text": "bad \\ud800 text"}\n')
    done2 = mgl("predict", "--model", args.work / "model", "--input", inp, "--output", args.work / "p.jsonl")
    result["surrogates"]["cli"] = [
        [done.returncode, last_line(done.stderr)],
        [done2.returncode, last_line(done2.stderr)],
    ]
    return _finish(result, args.out)


def _finish(result: dict, out: Path) -> int:
    from mgl.provenance import cpu_model

    result["cpu"] = cpu_model()
    result["date"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    write_out(out, result)
    print(json.dumps(result, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
