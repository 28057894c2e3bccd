"""The habits people type without thinking: ``mgl --version``, ``--log-level`` on every command,
``--output -`` for standard output, shell completion, and help texts that say what each command
really accepts (generated from the same source as the readers, so they cannot drift)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from cli_helpers import run_mgl

from mgl import __version__
from mgl.data.records import MAX_TEXT_CHARS
from mgl.data.registry import DATASETS

pytestmark = pytest.mark.unit


def _plain(text: str) -> str:
    """Help text without rich's box drawing and line wrapping, for substring checks."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_version_and_completion_options():
    code, out, _ = run_mgl("--version")
    assert code == 0 and out.strip() == f"mgl {__version__}"
    code, out, _ = run_mgl("--help")
    assert code == 0 and "--install-completion" in out and "--log-level" in out


@pytest.mark.parametrize("argv", [["train"], ["run"], ["data", "stats"], ["data", "validate"], ["encoder", "embed"]])
def test_every_data_option_names_what_the_readers_accept(argv):
    code, out, err = run_mgl(*argv, "--help")
    assert code == 0, err
    text = _plain(out)
    for name in DATASETS:
        assert name in text, (argv, name)
    for fmt in ("CSV", "TSV", "JSONL", "Parquet"):
        assert fmt in text, (argv, fmt)
    assert f"{MAX_TEXT_CHARS:,} characters" in text


def test_predict_help_states_the_length_limit_and_standard_output():
    code, out, _ = run_mgl("predict", "--help")
    text = _plain(out)
    assert code == 0 and f"{MAX_TEXT_CHARS:,} characters" in text and "- for standard output" in text


def test_log_level_applies_to_every_command(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("text,label,language\na,x,fr\nb,y,fr-FR\n", encoding="utf-8")
    code, _, err = run_mgl("data", "stats", str(path), "--json")
    assert code == 0 and "several spellings" in err
    code, _, err = run_mgl("--log-level", "error", "data", "stats", str(path), "--json")
    assert code == 0 and "several spellings" not in err
    code, _, err = run_mgl("--log-level", "loud", "data", "stats", str(path))
    assert code == 2 and "--log-level" in err


def test_predict_writes_json_lines_to_standard_output(tiny_logreg, tmp_path, capsys):
    src = tmp_path / "in.txt"
    src.write_text("very good book\nbad book\n", encoding="utf-8")
    code, out, err = run_mgl("predict", "--model", tiny_logreg, "--input", src, "--output", "-", "--quiet")
    assert code == 0, err
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["text"] for r in rows] == ["very good book", "bad book"] and all("label" in r for r in rows)
    assert "to standard output" in err and not (tmp_path / "-").exists()
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "a.csv").write_text("text\ngood\n", encoding="utf-8")
    code, _, err = run_mgl("predict", "--model", tiny_logreg, "--input", folder, "--output", "-")
    assert code == 2 and "--output - writes the predictions of one input file" in err


@pytest.mark.process
def test_predict_output_dash_pipes_into_another_program(tiny_logreg, tmp_path):
    """``mgl predict ... --output - | python -c ...``: standard output holds the JSON Lines alone."""
    src = tmp_path / "in.txt"
    src.write_text("very good book\nbad book\n", encoding="utf-8")
    mgl = subprocess.Popen(
        [sys.executable, "-m", "mgl", "predict", "--model", str(tiny_logreg), "--input", str(src), "--output", "-"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    reader = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(sum(1 for line in sys.stdin if json.loads(line)['label']))"],
        stdin=mgl.stdout,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert mgl.wait(timeout=300) == 0, mgl.stderr.read().decode() if mgl.stderr else ""
    assert reader.returncode == 0 and reader.stdout.strip() == "2", reader.stderr


@pytest.mark.process
def test_the_command_line_starts_without_the_heavy_libraries():
    """``mgl --help``, the data commands and predict's argument parsing start without torch,
    scikit-learn, scipy or transformers (imported by the commands that use them): first contact is
    about a quarter of a second, not one."""
    code = "import sys, mgl.cli; print(sorted(m for m in ('torch', 'sklearn', 'scipy', 'transformers') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stdout + done.stderr


def test_training_options_show_the_configurations_defaults():
    """Every training option that sets a configuration field shows that field's default in --help,
    taken from the configuration itself (one source: ``OPTION_SETTINGS``), so the two cannot drift."""
    from mgl.cli.train import DEFAULT_CONFIG, OPTION_SETTINGS, preset_default
    from mgl.config import RunConfig

    assert RunConfig() == DEFAULT_CONFIG
    code, out, _ = run_mgl("train", "--help")
    assert code == 0
    text = _plain(out)
    for option, key in OPTION_SETTINGS.items():
        section, _, name = key.rpartition(".")
        value = getattr(getattr(RunConfig(), section) if section else RunConfig(), name)
        if value is not None:
            expected = ",".join(map(str, value)) if isinstance(value, list) else str(value)
            assert preset_default(option) == expected, option
    flat = text.replace(" ", "")
    for flag, shown in [
        ("--n-support", "5"),
        ("--gcn-layers", "2"),
        ("--validation-fraction", "0.2"),
        ("--sources", "en,fr,de"),
    ]:
        after = flat[flat.index(flag) :]
        assert f"[default:({shown})]" in after[: after.index("]") + 1], flag


def test_data_commands_read_standard_input(monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"text,label,language\ngood,p,en\nbad,n,fr-FR\n")))
    code, out, err = run_mgl("data", "stats", "-", "--format", "csv", "--json")
    assert code == 0, err
    assert {(r["language"], r["label"]) for r in json.loads(out)} == {("en", "p"), ("fr", "n")}
    code, _, err = run_mgl("data", "stats", "-")
    assert code == 2 and "--format" in err
