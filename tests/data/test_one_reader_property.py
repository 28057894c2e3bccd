"""One reader for every file (Hypothesis): random records written in every format are read as the
same records, in the same order, by training (:func:`mgl.data.user_files.load_table`), ``mgl data
stats``, ``mgl predict`` on one file (:func:`mgl.cli.predict.read_inputs`) and on a folder, both in
one process (:func:`mgl.bulk.streaming.read_rows`) and as planned shards read by workers
(:func:`mgl.bulk.plan.plan_shards` / :func:`~mgl.bulk.plan.read_shard`), or all refuse it naming
the same record.

Texts hold what breaks readers: quotes at the start, middle and end, unbalanced quotes, tabs,
commas, ``\\r``, U+2028, form feeds, ``\\x85``, surrounding spaces, empty or blank texts, and ids
with lone surrogates (as JSON escapes); files come as UTF-8 with or without a BOM and UTF-16
with its BOM, with ``\\n`` or ``\\r\\n`` line ends. Where the writer is unambiguous under the
reader's rules (CSV and JSON Lines as Python writes them, Parquet, TSV as pandas writes it for
texts without tabs and line breaks), the texts read are the texts written.
"""

from __future__ import annotations

import csv
import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mgl.bulk.plan import plan_shards, read_shard
from mgl.bulk.streaming import read_rows
from mgl.cli.predict import read_inputs
from mgl.data.user_files import load_table
from mgl.errors import MGLError

pytestmark = pytest.mark.unit


def run_mgl(*args: str) -> tuple[int, str, str]:
    """``mgl ARGS`` in this process: (exit status, stdout, stderr)."""
    import contextlib

    from mgl.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
    return code, out.getvalue(), err.getvalue()


PIECES = [
    '"',
    '""',
    "'",
    "\t",
    ",",
    "\r",
    "\u2028",
    "\x0c",
    "\x85",
    " ",
    "a",
    "b",
    "é",
    "本",
    "😀",
    "x y",
    "\\",
    "{",
    "}",
    "\n",
]
TEXTS = st.one_of(
    st.lists(st.sampled_from(PIECES), min_size=0, max_size=8).map("".join),
    st.sampled_from(
        [
            '"Great" book',
            '"Unclosed start',
            "row three",
            'row "four"',
            "row five",
            '"quoted"',
            "  padded  ",
            "",
            "   ",
            'end quote"',
            'a ""b"" c',
        ]
    ),
)
IDS = st.one_of(st.integers(0, 99).map(str), st.sampled_from(["id-1", "\ud800", "x\udfffy", "", "  "]))
RECORDS = st.lists(st.tuples(TEXTS, IDS), min_size=0, max_size=6)


def _write_delimited(records, delimiter: str, ending: str, quoting: int) -> str:
    buf = io.StringIO()
    writer = csv.writer(
        buf,
        delimiter=delimiter,
        lineterminator=ending,
        quoting=quoting,
        escapechar=None if quoting != csv.QUOTE_NONE else "\\",
    )
    writer.writerow(["text", "label", "language", "id"])
    for text, rid in records:
        writer.writerow([text, "pos", "en", rid])
    return buf.getvalue()


@st.composite
def files(draw):
    """(suffix, bytes, the texts as written, whether the writer is unambiguous under the rules)."""
    records = draw(RECORDS)
    fmt = draw(st.sampled_from(["csv", "tsv", "tsv-raw", "jsonl", "parquet"]))
    ending = draw(st.sampled_from(["\n", "\r\n"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "utf-16"]))
    texts = [t for t, _ in records]
    if fmt == "parquet":
        import pyarrow as pa
        import pyarrow.parquet as pq

        ok = all(_encodable(t) and _encodable(i) for t, i in records)
        rows = (
            records
            if ok
            else [(t.encode("utf-8", "replace").decode(), i.encode("utf-8", "replace").decode()) for t, i in records]
        )
        sink = io.BytesIO()
        pq.write_table(
            pa.table(
                {
                    "text": pa.array([t for t, _ in rows], pa.string()),
                    "label": pa.array(["pos"] * len(rows), pa.string()),
                    "language": pa.array(["en"] * len(rows), pa.string()),
                    "id": pa.array([i for _, i in rows], pa.string()),
                }
            ),
            sink,
            row_group_size=draw(st.integers(1, 4)),
        )
        return ".parquet", sink.getvalue(), [t for t, _ in rows], True
    if fmt == "jsonl":
        lines = []
        for text, rid in records:
            if draw(st.booleans()):
                lines.append("")  # blank lines are not records
            lines.append(
                json.dumps(
                    {"text": text, "label": "pos", "language": "en", "id": rid}, ensure_ascii=draw(st.booleans())
                )
            )
        content = ending.join(lines) + (ending if draw(st.booleans()) else "")
        return ".jsonl", _encode(content, encoding), texts, True
    if fmt == "csv":
        content = _write_delimited(records, ",", ending, csv.QUOTE_MINIMAL)
        return ".csv", _encode(content, encoding), texts, True
    if fmt == "tsv":  # quoted where needed, as pandas and Python's csv write TSV
        content = _write_delimited(records, "\t", ending, csv.QUOTE_MINIMAL)
        clean = all("\n" not in t and "\t" not in t and not t.endswith("\r") for t in texts)
        return ".tsv", _encode(content, encoding), texts, clean
    # raw TSV: fields joined with tabs, as SIB-200-like files without quoting are
    content = ending.join(["text\tlabel\tlanguage\tid"] + [f"{t}\tpos\ten\t{i}" for t, i in records]) + ending
    return ".tsv", _encode(content, encoding), texts, False


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _encode(content: str, encoding: str) -> bytes:
    return content.encode(encoding, errors="surrogatepass" if encoding.startswith("utf-8") else "replace")


def _outcome(call):
    """('ok', texts) or ('error', record number) of one reader."""
    try:
        return "ok", call()
    except MGLError as exc:
        assert exc.source is not None and "Traceback" not in str(exc)
        return "error", exc.record


def _record_of(message: str) -> int | None:
    found = re.search(r", record (\d+):", message)
    return int(found.group(1)) if found else None


@settings(max_examples=520, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True)
@given(files())
@pytest.mark.slow
def test_every_path_reads_the_same_records_or_refuses_the_same_record(case):
    suffix, data, written, unambiguous = case
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(data)
        outcomes = {
            "training": _outcome(lambda: [ex.text for ex in load_table(path, uid="id")]),
            "folder": _outcome(lambda: [t for rows in read_rows([path], id_column="id") for t in rows.texts]),
            "workers": _outcome(
                lambda: [
                    t for spec in plan_shards([path], 2, id_column="id") for t in read_shard(spec, id_column="id").texts
                ]
            ),
        }
        if suffix != ".parquet":
            outcomes["predict"] = _outcome(lambda: read_inputs(str(path))[0])
        for name in ("folder", "workers"):  # predict_stream refuses an input without rows, naming no record
            if outcomes[name] == ("ok", []):
                outcomes[name] = ("error", None)
        code, out, err = run_mgl(
            "data", "stats", str(path), "--json", "--columns", "text=text,label=label,language=language,uid=id"
        )
        if code == 0:
            assert outcomes["training"][0] == "ok", err
            stats = ("ok", sum(row["count"] for row in json.loads(out)))
        else:
            assert code == 2 and "Traceback" not in err, err
            stats = ("error", _record_of(err))
        kinds = {name: o[0] for name, o in outcomes.items()}
        assert len(set(kinds.values())) == 1, (kinds, outcomes, data[:300])
        kind, value = outcomes["training"]
        for name, o in outcomes.items():
            if kind == "ok":
                # the folder path keeps empty-id rows too: only the texts and their order are compared
                assert o[1] == value, (name, o, value, data[:300])
            else:
                assert o[1] == value, (name, o, value, data[:300])  # the same record named
        assert stats[0] == kind, (stats, kind, err)
        assert stats[1] == (len(value) if kind == "ok" else value), (stats, value, err)
        if kind == "ok" and unambiguous:
            assert value == written, (value, written, data[:300])
