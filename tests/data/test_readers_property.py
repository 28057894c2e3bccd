"""Property-based tests (Hypothesis) of every file reader: any bytes either load or fail with a
:class:`~mgl.errors.DataError` that names the file (and the record where there is one), never
another exception (which the CLI would show as a traceback).

Readers: the training tables (:func:`mgl.data.user_files.load_table`: CSV, TSV, JSONL, Parquet) and
``mgl predict``'s inputs (:func:`mgl.cli.predict.read_inputs`: JSONL, CSV, TSV, TXT). Inputs are
raw bytes, and text built to look like the format (delimiters, quotes, blank lines, a BOM, NUL
bytes, non-ASCII, JSON escapes of lone surrogates, values of every JSON type), so that most
reach the record-level checks rather than failing at the first byte. Bounded: 300 examples per
format and reader (60 in the fast tier, see ``tiers.property_examples``), no deadline (the first
example imports pyarrow).
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mgl.cli.predict import read_inputs
from mgl.data.user_files import load_table
from mgl.errors import DataError, MGLError
from tiers import property_examples

pytestmark = pytest.mark.unit

EXAMPLES = property_examples(300)
SETTINGS = settings(
    max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)

ALPHABET = st.sampled_from(
    [*list("abcxyz ,\t\"'\\\n\r;:{}[]0123456789-."), "é", "本", "😀", "\x00", "\ufeff", "\u2028"]
)
CELLS = st.one_of(
    st.sampled_from(
        [
            "text",
            "label",
            "language",
            "split",
            "en",
            "fr",
            "train",
            "test",
            "validation",
            "pos",
            "neg",
            "",
            "nan",
            "NaN",
            "english",
            "\\ud800",
        ]
    ),
    st.text(ALPHABET, max_size=12),
)
JSON_VALUES = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=True),
        st.text(ALPHABET, max_size=10),
        st.sampled_from(["en", "pos", "neg", "train", "\ud800", "a\udfffb"]),
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=6,
)


def delimited(delimiter: str) -> st.SearchStrategy[bytes]:
    header = st.lists(st.sampled_from(["text", "label", "language", "split", "id", "x"]), min_size=1, max_size=5)
    rows = st.lists(st.lists(CELLS, max_size=6), max_size=6)
    encodings = st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "latin-1"])

    @st.composite
    def build(draw) -> bytes:
        lines = [draw(header), *draw(rows)]
        text = "\n".join(delimiter.join(cells) for cells in lines) + draw(st.sampled_from(["", "\n", "\r\n", "\n\n"]))
        return text.encode(draw(encodings), errors="replace")

    return st.one_of(build(), st.binary(max_size=200))


@st.composite
def jsonl_bytes(draw) -> bytes:
    lines = []
    for _ in range(draw(st.integers(0, 6))):
        kind = draw(st.sampled_from(["record", "value", "raw", "blank"]))
        if kind == "record":
            obj = draw(
                st.fixed_dictionaries(
                    {},
                    optional={
                        "text": JSON_VALUES,
                        "label": JSON_VALUES,
                        "language": JSON_VALUES,
                        "split": JSON_VALUES,
                        "id": JSON_VALUES,
                        "text_pair": JSON_VALUES,
                    },
                )
            )
            lines.append(json.dumps(obj))  # lone surrogates travel as \ud800 escapes, as in the wild
        elif kind == "value":
            lines.append(json.dumps(draw(JSON_VALUES)))
        elif kind == "raw":
            lines.append(draw(st.text(ALPHABET, max_size=20)))
        else:
            lines.append("")
    return "\n".join(lines).encode("utf-8", errors="surrogatepass") if lines else draw(st.binary(max_size=100))


def parquet_bytes() -> st.SearchStrategy[bytes]:
    @st.composite
    def build(draw) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        n = draw(st.integers(0, 5))
        columns = {}
        for name in draw(st.lists(st.sampled_from(["text", "label", "language", "split", "id"]), unique=True)):
            kind = draw(st.sampled_from(["str", "int", "float", "null"]))
            if kind == "str":
                columns[name] = pa.array(
                    draw(st.lists(st.one_of(st.none(), st.text(ALPHABET, max_size=8)), min_size=n, max_size=n)),
                    pa.string(),
                )
            elif kind == "int":
                columns[name] = pa.array(draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), pa.int64())
            elif kind == "float":
                columns[name] = pa.array(
                    draw(st.lists(st.floats(allow_nan=True), min_size=n, max_size=n)), pa.float64()
                )
            else:
                columns[name] = pa.nulls(n)
        sink = io.BytesIO()
        pq.write_table(pa.table(columns) if columns else pa.table({"x": pa.nulls(n)}), sink)
        data = sink.getvalue()
        cut = draw(st.sampled_from([None, None, len(data) // 2, 4]))
        return data if cut is None else data[:cut]

    return st.one_of(build(), st.binary(max_size=200))


def assert_loads_or_names_the_file(call, path: Path) -> None:
    try:
        call()
    except MGLError as exc:  # the CLI's exit-2 errors
        assert exc.source is not None and Path(exc.source).name == path.name, str(exc)
        assert "Traceback" not in str(exc)
        if exc.record is not None:
            assert exc.record >= 1
        assert not re.search(r"\\x00|\x00", exc.message[:40]) or "NUL" in exc.message


def _table(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"data{suffix}"
        path.write_bytes(data)
        assert_loads_or_names_the_file(lambda: load_table(path, text="text", label="label"), path)
        assert_loads_or_names_the_file(
            lambda: load_table(
                path, text="text", label="label", fixed_language="en", label_map={"pos": "positive", "neg": None}
            ),
            path,
        )


def _predict_input(data: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"in{suffix}"
        path.write_bytes(data)
        assert_loads_or_names_the_file(lambda: read_inputs(str(path)), path)


@SETTINGS
@given(delimited(","))
def test_csv_tables(data):
    _table(data, ".csv")


@SETTINGS
@given(delimited("\t"))
def test_tsv_tables(data):
    _table(data, ".tsv")


@SETTINGS
@given(jsonl_bytes())
def test_jsonl_tables(data):
    _table(data, ".jsonl")


@SETTINGS
@given(parquet_bytes())
def test_parquet_tables(data):
    _table(data, ".parquet")


@SETTINGS
@given(st.one_of(jsonl_bytes(), delimited(","), delimited("\t")), st.sampled_from([".jsonl", ".csv", ".tsv", ".txt"]))
def test_predict_inputs(data, suffix):
    _predict_input(data, suffix)


def test_a_lone_surrogate_is_named_by_file_and_record(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(
        '{"text": "ok", "label": "pos", "language": "en"}\n{"text": "bad \\ud800 text", "label": "pos", '
        '"language": "en"}\n',
        encoding="utf-8",
    )
    with pytest.raises(
        DataError, match=r"data.jsonl, record 2: the text \(field 'text'\) is not valid Unicode: a lone surrogate"
    ):
        load_table(path)
    inputs = tmp_path / "in.jsonl"
    inputs.write_text('{"text": "ok"}\n\n{"text": "bad \\ud800"}\n', encoding="utf-8")
    with pytest.raises(DataError, match=r"in.jsonl, record 3: the text \(field 'text'\) is not valid Unicode"):
        read_inputs(str(inputs))


def test_utf16_without_a_bom_is_named_as_such(tmp_path):
    path = tmp_path / "data.csv"
    path.write_bytes("text,label,language\nok,pos,en\n".encode("utf-16-le"))
    with pytest.raises(DataError, match=r"UTF-16 without a byte-order mark.*--encoding utf-16-le"):
        load_table(path)
