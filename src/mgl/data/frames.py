"""Tables in memory, in and out: pandas DataFrames, Hugging Face ``datasets.Dataset`` and pyarrow
Tables read as a file is read, and examples or predictions given back as a DataFrame or a Dataset.

A table in memory is written to Parquet bytes and read by the one reader of every file
(:class:`mgl.data.records.RecordReader`, through :func:`mgl.data.user_files.load_table`), so a
DataFrame is held to exactly the rules a CSV is (texts as written, the length limit, labels, any
language spelling, splits) and its errors name ``<DataFrame>`` and the row, counted from 1.

pandas and ``datasets`` are imported only when such an object is passed or asked for: neither is
needed by the core install (``pip install 'mgl-clt[frames]'`` brings both).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mgl.errors import ConfigError

__all__ = ["examples_to_frame", "is_table", "records_to_frame", "table_name", "table_parquet", "to_hf_dataset"]


def _kind(obj: Any) -> str | None:
    """``pandas``, ``datasets``, ``arrow`` for a table in memory, else None (checked by the class's module,
    so nothing is imported to ask)."""
    module = type(obj).__module__.split(".")[0]
    name = type(obj).__name__
    if module == "pandas" and name == "DataFrame":
        return "pandas"
    if module == "datasets" and name == "Dataset":
        return "datasets"
    if module == "pyarrow" and name == "Table":
        return "arrow"
    return None


def is_table(obj: Any) -> bool:
    """Whether ``obj`` is a pandas DataFrame, a ``datasets.Dataset`` or a pyarrow Table."""
    return _kind(obj) is not None


def table_name(obj: Any) -> str:
    """How errors name a table in memory: ``<DataFrame>``, ``<Dataset>`` or ``<Table>``."""
    return {"pandas": "<DataFrame>", "datasets": "<Dataset>", "arrow": "<Table>"}.get(_kind(obj) or "", "<table>")


def table_parquet(obj: Any) -> bytes:
    """The table as Parquet bytes (a DataFrame's index is not a column; a Dataset's Arrow table as it is)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    kind = _kind(obj)
    if kind == "pandas":
        table = pa.Table.from_pandas(obj, preserve_index=False)
    elif kind == "datasets":
        table = obj.with_format("arrow")[:]
        if not isinstance(table, pa.Table):  # a Dataset of another format gives its Arrow table here
            table = obj.data.table
    elif kind == "arrow":
        table = obj
    else:
        raise ConfigError(
            f"expected a pandas DataFrame, a datasets.Dataset or a pyarrow Table, got {type(obj).__name__}"
        )
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def records_to_frame(records: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None):
    """A pandas DataFrame of plain records (pandas imported here, with a clear error where it is missing)."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas comes with the frames and test extras
        raise ConfigError("pandas is not installed: pip install 'mgl-clt[frames]'") from None
    return pd.DataFrame(list(records), columns=list(columns) if columns is not None else None)


EXAMPLE_COLUMNS = ("text", "label", "language", "text_pair", "domain", "split", "uid")
"""The columns of a DataFrame of examples: the roles ``--columns`` names, under their own names."""


def _example_rows(examples: Iterable[Any]) -> list[dict[str, Any]]:
    return [{c: getattr(ex, c) for c in EXAMPLE_COLUMNS} for ex in examples]


def examples_to_frame(examples: Iterable[Any]):
    """Examples as a DataFrame with the columns :data:`EXAMPLE_COLUMNS` (read back by
    ``load_dataset(frame)`` with the default column names)."""
    return records_to_frame(_example_rows(examples), EXAMPLE_COLUMNS)


def to_hf_dataset(examples: Iterable[Any]):
    """Examples as a Hugging Face ``datasets.Dataset`` with the columns :data:`EXAMPLE_COLUMNS`."""
    try:
        import datasets
    except ImportError:  # pragma: no cover - datasets comes with the frames and test extras
        raise ConfigError("Hugging Face datasets is not installed: pip install 'mgl-clt[frames]'") from None
    return datasets.Dataset.from_list(_example_rows(examples))
