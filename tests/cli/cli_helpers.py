"""Helpers for end-to-end CLI tests: a small 3-language, 3-class review CSV of our own making,
tiny MGL settings, a tiny trained model, and an in-process runner for ``mgl``."""

from __future__ import annotations

import contextlib
import csv
import io
import random
from pathlib import Path

WORDS = {
    "en": {
        "negative": "bad terrible hate boring hated",
        "neutral": "a an of to in it",
        "positive": "great good love loved really",
    },
    "de": {
        "negative": "schlecht nicht schlecht",
        "neutral": "der die das und ein eine",
        "positive": "sehr gut gut buch",
    },
    "fr": {"negative": "mauvais pas mauvais", "neutral": "le la les et un une", "positive": "très bon bon livre"},
}
FILLER = ["the", "this", "that", "book", "film", "is", "was"]
SPLIT_SIZES = {"train": 10, "validation": 5, "test": 5}

#: MGL settings small enough for seconds-long runs on the tiny encoder.
TINY_SETTINGS = [
    "--n-support",
    "2",
    "--n-query",
    "6",
    "--k",
    "4",
    "--train-episodes",
    "8",
    "--max-rounds",
    "3",
    "--test-episodes",
    "2",
    "--eval-times",
    "2",
    "--set",
    "mgl.hidden_dim=16",
    "--set",
    "encoder.max_length=32",
    "--set",
    "mgl.patience=2",
]


def write_reviews_csv(path: Path, *, seed: int = 0) -> Path:
    """A CSV of short synthetic reviews: columns text, stars, lang, split; stars 1-5 (3 = neutral)."""
    rng = random.Random(seed)
    stars = {"negative": ["1", "2"], "neutral": ["3"], "positive": ["4", "5"]}
    rows = []
    for lang, classes in WORDS.items():
        for split, n in SPLIT_SIZES.items():
            for label, words in classes.items():
                for _ in range(n):
                    ws = rng.sample(words.split(), k=min(3, len(words.split()))) + rng.sample(FILLER, k=2)
                    rng.shuffle(ws)
                    rows.append({"text": " ".join(ws), "stars": rng.choice(stars[label]), "lang": lang, "split": split})
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["text", "stars", "lang", "split"])
        writer.writeheader()
        writer.writerows(rows)
    return path


THREE_CLASS = [
    "--columns",
    "text=text,label=stars,language=lang,split=split",
    "--labels",
    "1=negative,2=negative,3=neutral,4=positive,5=positive",
]


def run_mgl(*args: str) -> tuple[int, str, str]:
    """Run ``mgl`` in-process; returns (exit status, stdout, stderr). Any exception that escapes
    ``main`` (a traceback for the user) propagates and fails the test."""
    from mgl.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(a) for a in args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return code, out.getvalue(), err.getvalue()


def kill_after_shards(args: list[str], out: Path, shards: int, victims=None, timeout: float = 300):
    """Run ``mgl ARGS`` in a subprocess and SIGKILL a process once ``out`` holds ``shards`` finished
    shards: one of ``victims(pid)`` (the lowest pid; e.g. its workers), else the run itself.
    Returns (killed pid or None when the run ended first, exit status, stdout, stderr)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    proc = subprocess.Popen(
        [sys.executable, "-m", "mgl", *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    deadline = time.time() + timeout
    victim = None
    while victim is None and time.time() < deadline and proc.poll() is None:
        if len(list(Path(out).glob("part-*"))) >= shards:
            candidates = victims(proc.pid) if victims is not None else {proc.pid}
            if candidates:
                victim = min(candidates)
                os.kill(victim, signal.SIGKILL)
                break
        time.sleep(0.01)
    stdout, stderr = proc.communicate(timeout=600)
    return victim, proc.returncode, stdout, stderr
