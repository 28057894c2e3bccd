"""The "Bring your own data" commands of docs/guides/own-data.md run as written on the example CSV of 5-star reviews
(``mgl run`` gets one extra ``--encoder``: the tiny test encoder instead of multilingual-e5-small)."""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path

import pytest
from cli_helpers import run_mgl

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[2]
README = REPO / "docs" / "guides" / "own-data.md"
FIXTURE = "tests/fixtures/own_data/reviews.csv"


def readme_commands() -> list[list[str]]:
    """The ``mgl`` commands of the README's own-data block, continuation lines joined, split like a shell."""
    text = README.read_text(encoding="utf-8")
    block = re.search(r"<!-- own-data:start -->\s*```bash\n(.*?)```\s*<!-- own-data:end -->", text, re.S)
    assert block, "docs/guides/own-data.md lost its 'Bring your own data' command block"
    joined = block.group(1).replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip()]


def test_the_readme_walks_through_the_example_file():
    commands = readme_commands()
    assert [c[:3] for c in commands] == [["mgl", "data", "stats"], ["mgl", "run", "--data"]]
    assert all(FIXTURE in c for c in commands)
    assert "## Bring your own data" in README.read_text(encoding="utf-8")


@pytest.mark.slow
def test_readme_commands_run_on_the_example_csv(tmp_path, monkeypatch, tiny_bert_dir):
    (tmp_path / FIXTURE).parent.mkdir(parents=True)
    shutil.copy(REPO / FIXTURE, tmp_path / FIXTURE)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MGL_HOME", str(tmp_path / "home"))
    stats, run = readme_commands()

    code, out, err = run_mgl(*stats[1:], "--json")
    assert code == 0, err
    counts = {(r["language"], r["split"], r["label"]): r["count"] for r in json.loads(out)}
    assert set(counts) == {
        (lang, split, label)
        for lang in ("de", "en", "fr")
        for split in ("train", "validation", "test")
        for label in ("negative", "positive")
    }
    assert counts[("fr", "train", "positive")] == 20 and counts[("en", "test", "negative")] == 8  # 3 stars dropped

    code, out, err = run_mgl(*run[1:], "--encoder", str(tiny_bert_dir), "--quiet")
    assert code == 0, err
    result = json.loads((tmp_path / "runs" / "reviews" / "result.json").read_text())
    assert result["labels"] == ["negative", "positive"] and result["target"] == "fr"
    assert result["sources"] == ["en", "de"] and result["n_test"] == 16
    assert result["counts"]["n_train_fr"] == 40  # --target-fraction 1.0 keeps them all
    assert result["f1_averaging"] == "positive class"
    assert result["accuracy"] > 0.6  # the tiny random encoder still separates these words (chance: 0.5)


def test_without_a_split_column_validation_is_carved_and_train_saves(tmp_path, monkeypatch, tiny_bert_dir):
    """What the README says happens to a file without splits: every language's validation rows
    are carved (one line each); 'mgl run' stops for want of test rows, 'mgl train --save' trains."""
    import csv

    monkeypatch.setenv("MGL_HOME", str(tmp_path / "home"))
    with open(REPO / FIXTURE, newline="", encoding="utf-8") as fh:
        rows = [{k: r[k] for k in ("review", "stars", "lang")} for r in csv.DictReader(fh)]
    path = tmp_path / "nosplit.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=["review", "stars", "lang"])
        writer.writeheader()
        writer.writerows(rows)
    common = [
        "--data",
        path,
        "--columns",
        "text=review,label=stars,language=lang",
        "--labels",
        "1=negative,2=negative,3=,4=positive,5=positive",
        "--sources",
        "en,de",
        "--target",
        "fr",
        "--quiet",
        "--encoder",
        str(tiny_bert_dir),
        "--train-episodes",
        "5",
        "--max-rounds",
        "2",
        "--eval-times",
        "2",
        "--test-episodes",
        "1",
        "--n-query",
        "8",
    ]
    code, _, err = run_mgl("run", *common, "--out", tmp_path / "out")
    assert code == 2
    assert "the target 'fr' has no 'test' examples" in err and str(path) in err and "mgl train" in err
    assert not (tmp_path / "out" / "result.json").exists()
    for lang in ("en", "de", "fr"):
        assert f"{lang} has no validation rows; carved 14 of its 72 training rows as validation" in err

    code, _out, err = run_mgl("train", *common, "--out", tmp_path / "train", "--save", tmp_path / "model")
    assert code == 0, err
    assert "nothing was evaluated" in err
    result = json.loads((tmp_path / "train" / "result.json").read_text())
    assert result["evaluated"] is False and result["accuracy"] is None and result["n_test"] == 0
    assert result["validation_carved"]["fr"] == {"validation": 14, "train": 58}
    assert (tmp_path / "model" / "README.md").is_file()
