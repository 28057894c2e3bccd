"""Benchmark results go through mgl's one output guard (benchmarks/_common.py): a file mgl did not
write is refused before the work, an earlier benchmark result is replaced."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import _common

pytestmark = pytest.mark.unit


def test_a_users_file_at_out_is_refused_and_kept(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MGL_OVERWRITE", raising=False)
    target = tmp_path / "result.json"
    target.write_bytes(b"my numbers")
    with pytest.raises(SystemExit) as caught:
        _common.claim_out(target)
    assert caught.value.code == 2 and "mgl did not write it" in capsys.readouterr().err
    assert target.read_bytes() == b"my numbers"


def test_a_benchmarks_own_result_is_replaced(tmp_path, monkeypatch):
    monkeypatch.delenv("MGL_OVERWRITE", raising=False)
    target = tmp_path / "out" / "result.json"
    _common.write_out(target, {"run": 1})
    _common.claim_out(target)  # its own earlier result: allowed
    _common.write_out(target, {"run": 2})
    assert json.loads(target.read_text()) == {"run": 2}
