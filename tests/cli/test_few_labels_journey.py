"""docs/guides/few-labels.md runs as written: zero-shot, suggest 20, label them, retrain with the rest as
unlabelled text, predict; on real SIB-200 rows, with the tiny encoder and a few rows per class appended
to each ``mgl train`` so that the journey takes seconds."""

from __future__ import annotations

import json
import os
import re
import runpy
import shlex
import sys
from pathlib import Path

import pytest
from cli_helpers import TINY_SETTINGS, run_mgl

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GUIDE = REPO / "docs" / "guides" / "few-labels.md"
SMALL = [*TINY_SETTINGS, "--set", "encoder.precision=fp32", "--set", "data.max_per_class=12", "--quiet"]


def guide_commands() -> list[str]:
    text = GUIDE.read_text(encoding="utf-8")
    block = re.search(r"<!-- few-labels:start -->\s*```bash\n(.*?)```\s*<!-- few-labels:end -->", text, re.S)
    assert block, "docs/guides/few-labels.md lost its command block"
    joined = re.sub(r"\\\n\s*", " ", block.group(1))
    return [line.strip() for line in joined.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_the_guide_has_the_whole_journey():
    commands = guide_commands()
    verbs = [c.split()[1] if c.startswith("mgl ") else c.split()[0] for c in commands]
    assert verbs == [
        "export",
        "SOURCES=eng_Latn,fra_Latn,zho_Hans,arb_Arab",
        "train",
        "suggest",
        "python",
        "train",
        "predict",
    ]


def test_few_labels_guide_runs_as_written(tmp_path, monkeypatch, tiny_bert_dir):
    data = os.environ.get("MGL_DATA")
    if not data or not (Path(data) / "sib-200").is_dir():
        pytest.skip("MGL_DATA is unset or holds no sib-200/ (export MGL_DATA=../shared/data)")
    monkeypatch.chdir(tmp_path)
    variables = {"MGL_DATA": data}
    for command in guide_commands():
        if command.startswith("export MGL_DATA="):
            continue  # the test's own MGL_DATA stands
        if re.fullmatch(r"[A-Z_]+=\S+", command):
            name, value = command.split("=", 1)
            variables[name] = value
            continue
        words = [re.sub(r"\$([A-Z_]+)", lambda m: variables[m.group(1)], w) for w in shlex.split(command)]
        if words[0] == "python":
            monkeypatch.setattr(sys, "argv", [words[1], *words[2:]])
            runpy.run_path(str(REPO / words[1]), run_name="__main__")
            continue
        assert words[0] == "mgl"
        extra = ["--encoder", str(tiny_bert_dir), *SMALL] if words[1] == "train" else ["--quiet"]
        code, _, err = run_mgl(*words[1:], *extra)
        assert code == 0, f"{command}\n{err}"
    zero = json.loads((tmp_path / "runs" / "yo-zero" / "result.json").read_text())
    assert zero["zero_shot"] is True and zero["target_labels"]["train"] == 0
    suggested = [json.loads(line) for line in (tmp_path / "to-label.jsonl").read_text().splitlines()]
    assert len(suggested) == 20 and len({s["text"] for s in suggested}) == 20
    after = json.loads((tmp_path / "runs" / "yo-20" / "result.json").read_text())
    assert after["zero_shot"] is False and after["unlabelled_texts"] > 0
    assert (tmp_path / "yo-20" / "centre.safetensors").exists()
    predictions = (tmp_path / "yo-20-test.jsonl").read_text().splitlines()
    assert len(predictions) == 204
