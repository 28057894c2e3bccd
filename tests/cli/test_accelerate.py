"""``accelerate launch --multi_gpu --num_processes 2 -m mgl run`` on a CPU: data parallelism over episodes on a small run.

(accelerate 1.15's ``--cpu --num_processes 2`` starts a single process without an MPI
hostfile; ``--multi_gpu`` starts two through torchrun, and mgl trains them on the CPU over gloo.)

Two processes train one model: each samples its own episodes, the gradients are averaged, one
``result.json`` is written (by the main process), and the record carries both processes'
weight digests, which must be equal. A launched run killed with SIGKILL resumes from its
checkpoint (every process's random streams included) to the uninterrupted run's result.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from cli_helpers import THREE_CLASS

pytestmark = [pytest.mark.process, pytest.mark.server]

pytest.importorskip("accelerate")

SETTINGS = [
    "--n-support",
    "2",
    "--n-query",
    "6",
    "--k",
    "4",
    "--train-episodes",
    "20",
    "--max-rounds",
    "4",
    "--test-episodes",
    "2",
    "--eval-times",
    "2",
    "--set",
    "mgl.hidden_dim=16",
    "--set",
    "encoder.max_length=32",
    "--set",
    "mgl.patience=10",
    "--set",
    "encoder.precision=fp32",
]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(csv_path, encoder, out, *extra):
    accelerate = Path(sys.executable).with_name("accelerate")
    return [
        str(accelerate),
        "launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(_port()),
        "-m",
        "mgl",
        "run",
        "--data",
        str(csv_path),
        *THREE_CLASS,
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--target-fraction",
        "1.0",
        "--encoder",
        str(encoder),
        "--out",
        str(out),
        "--seed",
        "3",
        "--quiet",
        "--method",
        "mgl",
        *SETTINGS,
        *extra,
    ]


ENV = {**os.environ, "PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}


def test_two_processes_one_record_identical_weights_and_resume(tmp_path, reviews_csv, tiny_bert_dir):
    env = {**ENV, "MGL_HOME": str(tmp_path / "home")}
    full = subprocess.run(
        launch(reviews_csv, tiny_bert_dir, tmp_path / "full"), capture_output=True, text=True, env=env, timeout=900
    )
    assert full.returncode == 0, full.stderr[-3000:]
    result = json.loads((tmp_path / "full" / "result.json").read_text())
    assert list((tmp_path / "full").glob("*.json")) == [tmp_path / "full" / "result.json"]
    dist = result["distributed"]
    assert dist["processes"] == 2 and len(set(dist["weights_sha256"])) == 1
    assert 0.0 <= result["accuracy"] <= 1.0

    # the same run in one process samples half the episodes per step: another model
    single = subprocess.run(
        [
            sys.executable,
            "-m",
            "mgl",
            "run",
            "--data",
            str(reviews_csv),
            *THREE_CLASS,
            "--sources",
            "en,de",
            "--target",
            "fr",
            "--target-fraction",
            "1.0",
            "--encoder",
            str(tiny_bert_dir),
            "--out",
            str(tmp_path / "single"),
            "--seed",
            "3",
            "--quiet",
            "--method",
            "mgl",
            *SETTINGS,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert single.returncode == 0, single.stderr[-2000:]
    assert "distributed" not in json.loads((tmp_path / "single" / "result.json").read_text())

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        launch(reviews_csv, tiny_bert_dir, out, "--resume"),
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = out / "checkpoint.pt"
    deadline, rounds = time.time() + 600, 0
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists():
            try:
                saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
            except Exception:  # being replaced right now
                time.sleep(0.05)
                continue
            stage = saved["stages"].get("meta-train", {})
            report = stage.get("report") or stage.get("reports", [{}])[0]
            rounds = report.get("rounds", 0)
            if rounds >= 2 and not stage.get("done"):
                assert len(stage["trainee"]["streams"]) == 2  # both processes' random streams
                break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the launcher and both workers
    proc.wait()
    assert not (out / "result.json").exists() and rounds >= 2

    resumed = subprocess.run(
        launch(reviews_csv, tiny_bert_dir, out, "--resume"), capture_output=True, text=True, env=env, timeout=900
    )
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = json.loads((out / "result.json").read_text())
    for key in ("accuracy", "precision", "recall", "f1", "n_test"):
        assert again[key] == result[key], key
    assert again["distributed"]["weights_sha256"] == dist["weights_sha256"]
