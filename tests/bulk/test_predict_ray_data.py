"""``mgl predict --executor ray`` reads the inputs on the workers with Ray Data (``read_parquet``;
CSV/TSV/JSONL pieces by mgl's reader in a ``map_batches``): the driver reads no Parquet row, the
shards and probabilities are the single process's bit for bit (default ids, many files, a
``path`` column, a mixed folder), the first bad record of the stream is named, and a run
started again predicts only the missing shards."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from bulk_helpers import corpus, read_output
from cli_helpers import run_mgl

pytestmark = [pytest.mark.process, pytest.mark.ray]


def _folder(path, rows, sizes, *, id_name="doc", text_name="body"):
    """Parquet files of the given sizes (small row groups), then a JSONL and a CSV file."""
    path.mkdir(parents=True, exist_ok=True)
    at = 0
    for f, size in enumerate(sizes):
        part = rows[at : at + size]
        at += size
        pq.write_table(
            pa.table({id_name: [r[0] for r in part], text_name: [r[1] for r in part]}),
            path / f"a-{f:02d}.parquet",
            row_group_size=7,
        )
    rest = rows[at:]
    half = len(rest) // 2
    (path / "b.jsonl").write_text(
        "".join(json.dumps({id_name: r[0], text_name: r[1]}) + "\n" for r in rest[:half]), encoding="utf-8"
    )
    (path / "c.csv").write_text(
        f"{id_name},{text_name}\n" + "".join(f'{r[0]},"{r[1]}"\n' for r in rest[half:]), encoding="utf-8"
    )
    return path


def _predict(model, src, out, *extra):
    return run_mgl(
        "predict", "--model", model, "--input", src, "--output", out, "--text-column", "body", "--quiet", *extra
    )


def test_ray_data_reads_on_the_workers_and_writes_the_single_process_shards_bit_for_bit(
    tiny_model, tmp_path, ray_cluster, monkeypatch
):
    rows = corpus(700, seed=11)
    src = _folder(tmp_path / "in", rows, [90, 3, 0, 211, 150])  # an empty file too
    one = tmp_path / "one"
    code, _, err = _predict(tiny_model, src, one, "--shard-rows", "64")  # default ids: <file>:<row>
    assert code == 0, err
    from mgl.data import records

    original = records.RecordReader._parquet_records
    monkeypatch.setattr(
        records.RecordReader, "_parquet_records", lambda self, start: pytest.fail(f"driver read {self.source}")
    )
    ray = tmp_path / "ray"
    code, stdout, err = _predict(
        tiny_model, src, ray, "--shard-rows", "64", "--executor", "ray", "--address", ray_cluster, "--workers", "2"
    )
    monkeypatch.setattr(records.RecordReader, "_parquet_records", original)
    assert code == 0, err
    assert "predicted 700 texts from 7 file(s) into 11 shard(s)" in stdout
    a, parts_a = read_output(one)
    b, parts_b = read_output(ray)
    assert [p.name for p in parts_b] == [p.name for p in parts_a]
    assert b["id"] == a["id"] and b["id"][0] == "a-00.parquet:1" and len(set(b["id"])) == 700
    assert b["label"] == a["label"]
    for col in a:
        if col.startswith("p_"):
            np.testing.assert_array_equal(b[col], a[col])  # bit for bit
    assert json.loads((ray / "_mgl_predict.json").read_text()) == json.loads((one / "_mgl_predict.json").read_text())


def test_a_column_named_path_is_the_users_not_rays(tiny_model, tmp_path, ray_cluster):
    rows = corpus(120, seed=12)
    src = tmp_path / "in"
    src.mkdir()
    for f in range(2):
        part = rows[f * 60 : (f + 1) * 60]
        pq.write_table(pa.table({"path": [r[0] for r in part], "body": [r[1] for r in part]}), src / f"{f}.parquet")
    code, _, err = _predict(
        tiny_model, src, tmp_path / "out", "--id-column", "path", "--executor", "ray", "--address", ray_cluster
    )
    assert code == 0, err
    out, _ = read_output(tmp_path / "out")
    assert out["path"] == [r[0] for r in rows]


def test_the_first_bad_record_of_the_stream_is_named_before_any_work(tiny_model, tmp_path, ray_cluster):
    rows = corpus(300, seed=13)
    src = _folder(tmp_path / "in", rows, [100, 100])
    for name, bad_row in (("a-00.parquet", 57), ("a-01.parquet", 3)):  # two bad files: the first is named
        table = pq.read_table(src / name).to_pydict()
        table["body"][bad_row - 1] = "  "
        pq.write_table(pa.table(table), src / name, row_group_size=7)
    out = tmp_path / "out"
    code, _, err = _predict(tiny_model, src, out, "--executor", "ray", "--address", ray_cluster)
    assert code == 2, err
    assert "a-00.parquet, record 57: empty text (field 'body')" in err and "Traceback" not in err
    assert not out.exists()  # refused before the output folder was made


def test_a_ray_run_started_again_predicts_only_the_missing_shards(tiny_model, tmp_path, ray_cluster):
    rows = corpus(400, seed=14)
    src = _folder(tmp_path / "in", rows, [150, 150])
    args = ["--shard-rows", "50", "--id-column", "doc", "--executor", "ray", "--address", ray_cluster]
    whole, part = tmp_path / "whole", tmp_path / "part"
    assert _predict(tiny_model, src, whole, *args)[0] == 0
    assert _predict(tiny_model, src, part, *args)[0] == 0
    for k in (0, 1, 2, 5):  # as if a run had been killed before writing these
        (part / f"part-{k:05d}.parquet").unlink()
    code, stdout, err = _predict(tiny_model, src, part, *args)
    assert code == 0, err
    assert "200 now" in stdout and "continued after 4 finished shard(s)" in stdout
    a, _ = read_output(whole)
    b, _ = read_output(part)
    assert a == b
