"""``mgl data`` commands and the registry behind them: stats (JSON and table), validate, download."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mgl.cli import app, main
from mgl.data.examples import Example
from mgl.data.registry import load_dataset, stats_rows
from mgl.errors import ConfigError, DataError

pytestmark = pytest.mark.unit

runner = CliRunner()


def run_main(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str, str]:
    """Run the real entry point (errors become one line and exit status 2)."""
    monkeypatch.setattr(sys, "argv", ["mgl", *args])
    with pytest.raises(SystemExit) as caught:
        main()
    out, err = capsys.readouterr()
    code = caught.value.code
    return (0 if code is None else int(code)), out, err


def test_stats_rows_sorted_with_split_order() -> None:
    examples = [
        Example("a", "pos", "fr", split="test"),
        Example("b", "neg", "en", split="validation", domain="dvd"),
        Example("c", "pos", "en", split="train", domain="dvd"),
        Example("d", "pos", "en", split="train", domain="dvd"),
        Example("e", "neg", "en", split="train", domain="books"),
    ]
    assert stats_rows(examples) == [
        {"language": "en", "domain": "books", "split": "train", "label": "neg", "count": 1},
        {"language": "en", "domain": "dvd", "split": "train", "label": "pos", "count": 2},
        {"language": "en", "domain": "dvd", "split": "validation", "label": "neg", "count": 1},
        {"language": "fr", "domain": None, "split": "test", "label": "pos", "count": 1},
    ]


def test_load_dataset_names_and_files(make_webis_tree, fixtures: Path) -> None:
    root = make_webis_tree(per_label=5)
    assert load_dataset("Webis-CLS-10", root=root, languages=["fr"], splits=["test"]) == load_dataset(
        "webis-cls-10", root=root.parent, languages="fr", splits=["test"]
    )
    with pytest.raises(ConfigError, match="takes the options"):
        load_dataset("webis-cls-10", root=root, columns="x")
    # anything else is a file, relative to root when given
    examples = load_dataset("lacks_class.csv", root=fixtures)
    assert len(examples) == 4
    with pytest.raises(DataError, match="not a known dataset"):
        load_dataset("no-such-dataset")
    with pytest.raises(DataError, match="no paws-x data here"):
        load_dataset("paws-x", root=fixtures / "absent")


def test_stats_json_on_a_file(fixtures: Path) -> None:
    result = runner.invoke(
        app,
        [
            "data",
            "stats",
            str(fixtures / "reviews.csv"),
            "--json",
            "--columns",
            "text=review,label=stars,language=lang",
            "--labels",
            "1=negative,2=negative,3=,4=positive,5=positive",
        ],
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert rows == [
        {"language": "en", "domain": None, "split": "train", "label": "negative", "count": 1},
        {"language": "en", "domain": None, "split": "train", "label": "positive", "count": 1},
        {"language": "en", "domain": None, "split": "test", "label": "negative", "count": 1},
        {"language": "fr", "domain": None, "split": "train", "label": "positive", "count": 1},
        {"language": "fr", "domain": None, "split": "validation", "label": "negative", "count": 1},
    ]
    only_fr = runner.invoke(
        app,
        [
            "data",
            "stats",
            str(fixtures / "reviews.csv"),
            "--json",
            "--languages",
            "fr",
            "--columns",
            "text=review,label=stars,language=lang",
        ],
    )
    assert {row["language"] for row in json.loads(only_fr.stdout)} == {"fr"}


def test_stats_table_and_fixed_language(tmp_path: Path) -> None:
    path = tmp_path / "mine.tsv"
    path.write_text("text\tlabel\nGut\tpos\nSchlecht\tneg\n", encoding="utf-8")
    result = runner.invoke(app, ["data", "stats", str(path), "--language", "de"])
    assert result.exit_code == 0, result.output
    # rich wraps a long temporary path at the terminal's width (narrow under xdist): compare words
    assert "mine.tsv: 2 examples" in " ".join(result.stdout.split())
    assert "de" in result.stdout and "Schlecht" not in result.stdout


def test_errors_exit_2_with_one_line(monkeypatch, capsys, fixtures: Path) -> None:
    code, out, err = run_main(
        monkeypatch,
        capsys,
        "data",
        "stats",
        str(fixtures / "unknown_label.csv"),
        "--labels",
        "pos=positive,neg=negative",
    )
    assert code == 2 and out == ""
    assert (
        err == f"mgl: error: {fixtures / 'unknown_label.csv'}, record 4: unknown label 'meh' "
        "(column 'label'; the label map knows 'pos', 'neg')\n"
    )
    code, _, err = run_main(
        monkeypatch, capsys, "data", "stats", "webis-cls-10", "--root", str(fixtures), "--labels", "1=a"
    )
    assert code == 2 and "--labels apply to files" in err


def test_validate_command(fixtures: Path, tmp_path: Path) -> None:
    result = runner.invoke(app, ["data", "validate", str(fixtures / "lacks_class.csv")])
    assert result.exit_code == 0, result.output  # training accepts it with a notice: so does validate
    assert result.stdout.startswith("ok: 4 examples") and "2 notice(s)" in result.stdout
    path = tmp_path / "ok.jsonl"
    path.write_text(
        '{"text": "Gut", "label": "pos", "language": "de"}\n{"text": "Schlecht", "label": "neg", "language": "de"}\n',
        encoding="utf-8",
    )
    ok = runner.invoke(app, ["data", "validate", str(path)])
    assert ok.exit_code == 0, ok.output
    assert ok.stdout == "ok: 2 examples; languages de; classes neg, pos\n"


def test_download_command(tmp_path: Path, review_xml) -> None:
    from mgl.data.download import expected_webis_files

    archive = tmp_path / "cls.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for rel in expected_webis_files():
            data = review_xml(["1.0", "5.0"], tag=rel).encode("utf-8")
            info = tarfile.TarInfo(f"cls-acl10-unprocessed/{rel}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    dest = tmp_path / "data"
    result = runner.invoke(
        app, ["data", "download", "webis-cls-10", "--dest", str(dest), "--url", archive.as_uri(), "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(dest / "cls-acl10-unprocessed")
    stats = runner.invoke(app, ["data", "stats", "webis-cls-10", "--root", str(dest), "--json", "--languages", "ja"])
    rows = json.loads(stats.stdout)
    assert {(r["split"], r["count"]) for r in rows if r["domain"] == "music"} == {("train", 1), ("test", 1)}
    refused = runner.invoke(app, ["data", "download", "paws-x", "--dest", str(dest)])
    assert isinstance(refused.exception, ConfigError)


@pytest.mark.integration
def test_stats_json_on_real_webis(webis_root: Path) -> None:
    result = runner.invoke(app, ["data", "stats", "webis-cls-10", "--root", str(webis_root), "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert len(rows) == 4 * 3 * 3 * 2
    assert {row["language"] for row in rows} == {"en", "de", "fr", "ja"}
    expected = {"train": 800, "validation": 200, "test": 1000}
    assert all(row["count"] == expected[row["split"]] for row in rows)
    assert rows == sorted(
        rows, key=lambda r: (r["language"], r["domain"], ["train", "validation", "test"].index(r["split"]), r["label"])
    )
