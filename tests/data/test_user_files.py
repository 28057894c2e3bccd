"""CSV/TSV/JSONL loader and the command-line map parsers: happy paths and every error's location."""

from __future__ import annotations

from pathlib import Path

import pytest

from mgl.data.user_files import load_table, parse_columns, parse_label_map, table_format
from mgl.errors import ConfigError, DataError

pytestmark = pytest.mark.unit

STARS = "1=negative,2=negative,3=,4=positive,5=positive"


def test_parse_label_map() -> None:
    assert parse_label_map(STARS) == {"1": "negative", "2": "negative", "3": None, "4": "positive", "5": "positive"}
    assert parse_label_map(" a = x , b=y,") == {"a": "x", "b": "y"}
    for bad in ("1negative", "=x", "1=a,1=b", "", "1=a=b"):
        with pytest.raises(ConfigError):
            parse_label_map(bad)


def test_parse_columns() -> None:
    assert parse_columns("text=review,label=stars,language=lang") == {
        "text": "review",
        "label": "stars",
        "language": "lang",
    }
    with pytest.raises(ConfigError, match="unknown column role 'body'"):
        parse_columns("body=review")
    with pytest.raises(ConfigError, match="twice"):
        parse_columns("text=a,text=b")
    with pytest.raises(ConfigError, match="ROLE=COLUMN"):
        parse_columns("text=")


def test_format_from_suffix(tmp_path: Path) -> None:
    assert table_format("a.CSV") == "csv" and table_format("a.tsv") == "tsv" and table_format("a.jsonl") == "jsonl"
    assert table_format("a.txt", "tsv") == "tsv"
    with pytest.raises(DataError, match=r"unknown input format '\.txt'"):
        table_format("a.txt")


def test_csv_with_column_and_label_maps(fixtures: Path) -> None:
    path = fixtures / "reviews.csv"
    examples = load_table(
        path, **parse_columns("text=review,label=stars,language=lang"), label_map=parse_label_map(STARS)
    )
    # the 3-star record is dropped; quoted commas and quotes survive; 'dev' means validation
    assert [ex.uid for ex in examples] == [f"reviews.csv#{i}" for i in (1, 2, 4, 5, 6)]
    assert examples[0].text == 'Great, really great "book"'
    assert [ex.label for ex in examples] == ["positive", "negative", "positive", "negative", "negative"]
    assert [ex.language for ex in examples] == ["en", "en", "fr", "fr", "en"]
    assert [ex.split for ex in examples] == ["train", "train", "train", "validation", "test"]


def test_csv_split_column_default_and_fixed_split(fixtures: Path, tmp_path: Path) -> None:
    path = tmp_path / "plain.csv"
    path.write_text("text,label\nGood,pos\nBad,neg\n", encoding="utf-8")
    examples = load_table(path, fixed_language="de")
    assert [(ex.language, ex.split) for ex in examples] == [("de", "train"), ("de", "train")]
    assert {ex.split for ex in load_table(path, fixed_language="de", fixed_split="test")} == {"test"}
    with pytest.raises(DataError, match="no 'language' column"):
        load_table(path)


def test_tsv_is_read_without_quoting(fixtures: Path) -> None:
    examples = load_table(
        fixtures / "pairs.tsv", text="sentence1", text_pair="sentence2", fixed_language="en", uid="id"
    )
    assert [ex.text for ex in examples] == ['He said "hello" twice .', 'A "quoted']
    assert examples[1].text_pair == 'B "unbalanced'
    assert [ex.uid for ex in examples] == ["1", "2"]
    assert [ex.label for ex in examples] == ["1", "0"]


def test_jsonl_numbers_blank_lines_and_split_key(fixtures: Path) -> None:
    examples = load_table(fixtures / "good.jsonl", language="lang", label_map=parse_label_map(STARS))
    assert [(ex.text, ex.label, ex.language, ex.split, ex.uid) for ex in examples] == [
        ("Great book", "positive", "en", "train", "good.jsonl#1"),
        ("Schlechtes Buch", "negative", "de", "test", "good.jsonl#3"),
    ]


@pytest.mark.parametrize(
    "name, options, record, words",
    [
        ("unknown_label.csv", {"label_map": {"pos": "positive", "neg": "negative"}}, 4, "unknown label 'meh'"),
        ("empty_text.csv", {}, 3, "empty text (field 'text')"),
        ("nan_label.csv", {}, 4, "label is NaN"),
        ("nan_label.jsonl", {}, 2, "NaN"),
        ("bad_line.jsonl", {}, 3, "not valid JSON"),
        ("latin1.csv", {}, 3, "not valid UTF-8: byte 0xe9 at column 4"),
    ],
)
def test_bad_records_name_file_and_record(fixtures: Path, name: str, options: dict, record: int, words: str) -> None:
    path = fixtures / name
    with pytest.raises(DataError) as caught:
        load_table(path, **options)
    message = str(caught.value)
    assert message.startswith(f"{path}, record {record}: "), message
    assert words in message
    assert "\n" not in message


def test_missing_column_names_file_and_column(fixtures: Path) -> None:
    path = fixtures / "missing_column.csv"
    with pytest.raises(DataError) as caught:
        load_table(path)
    assert str(caught.value).startswith(f"{path}: missing column(s) ['label']")


@pytest.mark.parametrize(
    "content, record, words",
    [
        ("text,label,language,split\nGood,pos,en,train\nBad,,en,test\n", 3, "a test row needs its label"),
        ("text,label,language\nGood,pos,en\nBad,neg\n", 3, "has 2 field(s), the header has 3"),
        ("text,label,language\nGood,pos,english\n", 2, "language 'english' (column 'language') is not"),
        ("text,label,language,split\nGood,pos,en,holdout\n", 2, "unknown split 'holdout'"),
        ('text,label,language\n"unterminated,pos,en\n', 2, "malformed CSV"),
    ],
)
def test_more_bad_csv_records(tmp_path: Path, content: str, record: int, words: str) -> None:
    path = tmp_path / "data.csv"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(DataError) as caught:
        load_table(path)
    assert str(caught.value).startswith(f"{path}, record {record}: "), str(caught.value)
    assert words in str(caught.value)


@pytest.mark.parametrize(
    "line, words",
    [
        ('["a list"]', "expected a JSON object"),
        ('{"text": "x", "language": "en"}', "no field 'label'"),
        ('{"text": "x", "label": null, "language": "en", "split": "validation"}', "a validation row needs its label"),
        ('{"text": {"nested": 1}, "label": "a", "language": "en"}', "is an object"),
    ],
)
def test_bad_jsonl_records(tmp_path: Path, line: str, words: str) -> None:
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "ok", "label": "a", "language": "en"}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=rf"data\.jsonl, record 2: .*{words}"):
        load_table(path)


def test_file_level_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_table(tmp_path / "absent.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="no header"):
        load_table(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("text,label,language\n", encoding="utf-8")
    with pytest.raises(DataError, match="holds no records"):
        load_table(header_only)
    with pytest.raises(ConfigError, match="not both"):
        load_table(header_only, language="language", fixed_language="en")


def test_utf8_bom_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,label,language\nÉtonnant,pos,fr\n".encode("utf-8"))
    assert load_table(path)[0].text == "Étonnant"


# ------------------------------------------------------------------ encodings and Parquet

ROWS = [
    ("Très bon livre, je l'adore", "5", "fr", "train"),
    ("日本語のレビュー、最悪", "1", "ja", "test"),
    ('Gut, aber "teuer", naja', "4", "de", "validation"),
]


def _csv_text() -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["review", "stars", "lang", "split"])
    writer.writerows(ROWS)
    return buffer.getvalue()


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _load(path: Path, **kw):
    return load_table(path, text="review", label="stars", language="lang", label_map=parse_label_map(STARS), **kw)


@pytest.mark.parametrize("codec", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le-bom", "utf-16-be-bom"])
def test_utf8_and_utf16_with_a_byte_order_mark_read_the_same(tmp_path, codec):
    import codecs

    reference = _load(_write(tmp_path, "ref.csv", _csv_text()))
    text = _csv_text()
    if codec == "utf-16-le-bom":
        data = codecs.BOM_UTF16_LE + text.encode("utf-16-le")
    elif codec == "utf-16-be-bom":
        data = codecs.BOM_UTF16_BE + text.encode("utf-16-be")
    else:
        data = text.encode(codec)
    path = tmp_path / f"{codec}.csv"
    path.write_bytes(data)
    got = _load(path)
    assert [(e.text, e.label, e.language, e.split) for e in got] == [
        (e.text, e.label, e.language, e.split) for e in reference
    ]
    assert got[1].text == "日本語のレビュー、最悪"


def test_other_encodings_are_named(tmp_path):
    text = 'review,stars,lang\n"Très bon, très cher",5,fr\n'
    path = tmp_path / "latin.csv"
    path.write_bytes(text.encode("cp1252"))
    with pytest.raises(DataError, match=r"latin.csv, record 2: not valid UTF-8.*--encoding"):
        _load(path)
    assert _load(path, encoding="cp1252")[0].text == "Très bon, très cher"
    with pytest.raises(ConfigError, match="unknown text encoding"):
        _load(path, encoding="no-such-codec")
    # a UTF-16 file without a byte-order mark is not guessed: named, it is read
    (tmp_path / "le.jsonl").write_bytes('{"review": "gut", "stars": 4, "lang": "de"}\n'.encode("utf-16-le"))
    assert _load(tmp_path / "le.jsonl", encoding="utf-16-le")[0].text == "gut"


def test_parquet_maps_columns_like_csv(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    reference = _load(_write(tmp_path, "ref.csv", _csv_text()))
    table = pa.table(
        {
            "review": [r[0] for r in ROWS],
            "stars": [int(r[1]) for r in ROWS],
            "lang": [r[2] for r in ROWS],
            "split": [r[3] for r in ROWS],
        }
    )
    pq.write_table(table, tmp_path / "reviews.parquet")
    got = _load(tmp_path / "reviews.parquet")
    assert [(e.text, e.label, e.language, e.split) for e in got] == [
        (e.text, e.label, e.language, e.split) for e in reference
    ]
    assert got[0].uid == "reviews.parquet#1"
    pq.write_table(table.drop_columns(["stars"]), tmp_path / "nolabel.parquet")
    with pytest.raises(DataError, match=r"nolabel.parquet: missing column\(s\) \['stars'\]"):
        _load(tmp_path / "nolabel.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(DataError, match=r"broken\.parquet: not a readable Parquet file"):
        _load(tmp_path / "broken.parquet")
