"""``mgl predict --encoding``: a file in another encoding is read as training reads it (the reader's
rule: UTF-8, or UTF-16 with its byte-order mark, else the encoding named); ``--save '~/m'`` reports
the folder it wrote."""

import json

import pytest
from cli_helpers import run_mgl

pytestmark = pytest.mark.unit


def test_predict_reads_a_utf16_file_without_its_mark_when_told_the_encoding(tiny_logreg, tmp_path):
    texts = ["très bon livre", "schlechtes Buch, gar nicht gut"]
    path = tmp_path / "in.txt"
    path.write_bytes("\n".join(texts).encode("utf-16-le") + "\n".encode("utf-16-le"))
    out = tmp_path / "p.jsonl"
    code, _, err = run_mgl("predict", "--model", tiny_logreg, "--input", path, "--output", out, "--quiet")
    assert code == 2 and "--encoding utf-16-le" in err  # the reader's advice names an option predict has
    code, _, err = run_mgl(
        "predict", "--model", tiny_logreg, "--input", path, "--output", out, "--quiet", "--encoding", "utf-16-le"
    )
    assert code == 0, err
    assert [json.loads(line)["text"] for line in out.read_text(encoding="utf-8").splitlines()] == texts
    utf8 = tmp_path / "in8.txt"
    utf8.write_text("\n".join(texts) + "\n", encoding="utf-8")
    code, _, err = run_mgl("predict", "--model", tiny_logreg, "--input", utf8, "--output", tmp_path / "q.jsonl")
    assert code == 0, err
    same = [json.loads(line)["probabilities"] for line in (tmp_path / "q.jsonl").read_text().splitlines()]
    assert same == [json.loads(line)["probabilities"] for line in out.read_text(encoding="utf-8").splitlines()]
