"""Interruption: a training process killed with SIGKILL partway resumes from its checkpoint and
ends with exactly the metrics of an uninterrupted run with the same seed."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from cli_helpers import THREE_CLASS

pytestmark = pytest.mark.process

LONGER = [
    "--n-support",
    "2",
    "--n-query",
    "6",
    "--k",
    "4",
    "--train-episodes",
    "30",
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
]


def command(csv_path, encoder, out):
    return [
        sys.executable,
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
        "5",
        "--quiet",
        "--method",
        "mgl",
        *LONGER,
    ]


def test_sigkill_then_resume_matches_uninterrupted(tmp_path, reviews_csv, tiny_bert_dir):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    full = subprocess.run(
        command(reviews_csv, tiny_bert_dir, tmp_path / "full"), capture_output=True, text=True, env=env, timeout=600
    )
    assert full.returncode == 0, full.stderr[-2000:]

    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [*command(reviews_csv, tiny_bert_dir, out), "--resume"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = out / "checkpoint.pt"
    deadline = time.time() + 300
    rounds = 0
    killed_seconds = 0.0
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists():
            saved = torch.load(checkpoint, map_location="cpu", weights_only=False)
            stage = saved["stages"].get("meta-train", {})
            report = stage.get("report") or stage.get("reports", [{}])[0]  # a finished stage / one in progress
            rounds = report.get("rounds", 0)
            killed_seconds = report.get("seconds", 0.0)
            if rounds >= 2 and not stage.get("done"):
                break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (out / "result.json").exists()
    assert rounds >= 2

    resumed = subprocess.run(
        [*command(reviews_csv, tiny_bert_dir, out), "--resume"], capture_output=True, text=True, env=env, timeout=600
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = json.loads((tmp_path / "full" / "result.json").read_text())
    b = json.loads((out / "result.json").read_text())
    for key in ("accuracy", "precision", "recall", "f1", "n_test"):
        assert a[key] == b[key], key
    strip = lambda stages: [{k: v for k, v in s.items() if k != "seconds"} for s in stages]
    assert strip(a["stages"]) == strip(b["stages"])
    assert not checkpoint.exists()
    # the whole training time, not only the part since the restart: the killed run's rounds count
    # (their seconds travel in the checkpoint); the resumed process alone trained for less
    assert b["train_seconds"] == sum(s["seconds"] for s in b["stages"])
    assert killed_seconds > 0 and b["stages"][0]["seconds"] > killed_seconds


def test_the_default_ensemble_resumes_its_mgl_member_too(tmp_path, reviews_csv, tiny_bert_dir):
    """The default method (the ensemble) checkpoints its MGL member: killed during MGL's meta-train,
    resumed, it ends with the uninterrupted run's metrics, each member's included."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}

    def ensemble(out):
        args = command(reviews_csv, tiny_bert_dir, out)
        i = args.index("--method")
        return args[:i] + args[i + 2 :]

    full = subprocess.run(ensemble(tmp_path / "full"), capture_output=True, text=True, env=env, timeout=600)
    assert full.returncode == 0, full.stderr[-2000:]
    out = tmp_path / "killed"
    proc = subprocess.Popen([*ensemble(out), "--resume"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoint = out / "checkpoint.pt"
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if checkpoint.exists():
            stage = torch.load(checkpoint, map_location="cpu", weights_only=False)["stages"].get("meta-train", {})
            report = stage.get("report") or stage.get("reports", [{}])[0]
            if report.get("rounds", 0) >= 2 and not stage.get("done"):
                break
        time.sleep(0.05)
    assert proc.poll() is None, "training finished before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resumed = subprocess.run([*ensemble(out), "--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a = json.loads((tmp_path / "full" / "result.json").read_text())
    b = json.loads((out / "result.json").read_text())
    assert a["method"] == b["method"] == "ensemble"
    for key in ("accuracy", "precision", "recall", "f1", "val_accuracy"):
        assert a[key] == b[key], key
    assert {m: (v["validation_accuracy"], v["test_accuracy"]) for m, v in a["members"].items()} == {
        m: (v["validation_accuracy"], v["test_accuracy"]) for m, v in b["members"].items()
    }
    assert not checkpoint.exists()
