"""``mgl predict``: classify new texts with a saved model.

Two ways: a few texts (one ``.jsonl/.csv/.tsv/.txt`` file or standard input) into one ``.jsonl``
file with each text's explanation; or a corpus (files, folders, globs of CSV/TSV/JSONL/Parquet)
into a folder of output shards, streamed in bounded memory and continued after a kill
(:mod:`mgl.bulk.streaming`)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from mgl.bulk.executors import make_pool
from mgl.bulk.predict import predict_stream
from mgl.bulk.streaming import FORMATS, check_input, expand_inputs
from mgl.data.records import MAX_TEXT_CHARS, RecordReader, file_format, record_id, stdin_bytes
from mgl.errors import ConfigError, DataError, MGLError
from mgl.io import atomic_open
from mgl.model.prediction_model import load_for_prediction
from mgl.outputs import check_output_file, check_shard_folder, check_writable_folder, expand, record_written

SINGLE_FORMATS = ("jsonl", "csv", "tsv", "txt")
PREDICTIONS_KIND = "predictions"
"""The kind a ``.jsonl`` of predictions is recorded under (:func:`mgl.outputs.record_written`)."""


def read_inputs(
    path: str,
    *,
    text_column: str = "text",
    pair_column: str | None = None,
    fmt: str | None = None,
    encoding: str | None = None,
) -> tuple[list[str], list[str | None] | None, list[str]]:
    """Texts, optional pair texts and record ids from a .jsonl, .csv, .tsv or .txt file, or ``-``
    (standard input, one text a line unless ``fmt`` says otherwise), read by the one reader
    (:class:`mgl.data.records.RecordReader`) as training reads it. Ids: the ``id`` field where a
    record has one, else the record's number (the line it starts on). Errors name the input and the
    record; ``encoding`` names a text file's encoding (default: UTF-8, or UTF-16 with a byte-order mark)."""
    source = "<stdin>" if path == "-" else os.path.expanduser(path)
    if path == "-":
        reader = RecordReader(source, fmt or "txt", data=stdin_bytes(), encoding=encoding)
    else:
        if not Path(source).is_file():
            raise DataError("no such input file", source=source)
        reader = RecordReader(source, file_format(source, fmt, allowed=SINGLE_FORMATS), encoding=encoding)
    if reader.header is not None and text_column not in reader.header:
        raise DataError(f"missing column {text_column!r} (columns: {', '.join(reader.header)})", source=source)
    texts: list[str] = []
    pairs: list[str | None] = []
    ids: list[str] = []
    for rec in reader.records():
        values = rec.values
        text, pair = check_input(
            values,
            source=source,
            record=rec.number,
            text_column=text_column,
            pair_column=pair_column or "text_pair",
            pair_required=pair_column is not None,
        )
        texts.append(text)
        pairs.append(pair)
        ids.append(record_id(values, "id", source=source, record=rec.number) if "id" in values else str(rec.number))
    if not texts:
        raise DataError("the input holds no text to predict", source=source)
    return texts, (pairs if any(p is not None for p in pairs) else None), ids


def predict(
    model: Annotated[Path, typer.Option(help="A model directory saved by 'mgl train --save'.")],
    input: Annotated[
        list[str],
        typer.Option(
            "--input",
            help="A .jsonl, .csv, .tsv or .txt file, or - for standard input; or (repeatable) files, folders and globs of .csv/.tsv/.jsonl/.parquet for sharded output; "
            f"each text at most {MAX_TEXT_CHARS:,} characters.",
        ),
    ],
    output: Annotated[
        str,
        typer.Option(
            help="A .jsonl file (a few texts, with explanations), - for standard output (JSON Lines; the summary goes to standard error), or a folder: output shards, each written atomically; a killed run given the same folder continues."
        ),
    ],
    text_column: Annotated[str, typer.Option(help="Field or column holding the text.")] = "text",
    pair_column: Annotated[str | None, typer.Option(help="Field or column holding the second text of a pair.")] = None,
    format: Annotated[str | None, typer.Option("--format", help="Input format when the suffix does not say.")] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            help="One input file or standard input: its text encoding (default: UTF-8, or UTF-16 detected by its byte-order mark)."
        ),
    ] = None,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N; default: CUDA when present.")] = None,
    seed: Annotated[
        int | None, typer.Option(help="MGL: seed of the sampled support sets (default: the model's).")
    ] = None,
    precision: Annotated[
        str | None, typer.Option(help="Embed the inputs in fp32, bf16 or auto (default: as the model was trained).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Keep the inputs' embeddings in the on-disk cache ($MGL_HOME), so a re-run embeds nothing (off by default: a corpus would grow it by ~1.5 kB a text).",
        ),
    ] = False,
    id_column: Annotated[
        str | None,
        typer.Option(
            help="Folder output: the column whose values identify each row in the output (default: FILE:ROW)."
        ),
    ] = None,
    shard_rows: Annotated[int, typer.Option(help="Folder output: rows per output shard.")] = 10_000,
    output_format: Annotated[str, typer.Option(help="Folder output: parquet or jsonl shards.")] = "parquet",
    executor: Annotated[
        str,
        typer.Option(
            help="Folder output: local (this machine) or ray (a Ray Data actor pool; --address joins a cluster)."
        ),
    ] = "local",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Folder output: worker processes (local; default 1, in this process) or Ray actors (default: one per CPU, or per GPU), each loading the model once."
        ),
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="--executor ray: the cluster to join (default: start Ray on this machine).")
    ] = None,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="A .jsonl --output may replace a file mgl did not write (never an input, nor a file inside a model folder); mgl's own earlier predictions are replaced without it.",
        ),
    ] = False,
) -> None:
    """Classify texts: label, class probabilities, the nearest labelled examples (with their texts) and,
    for MGL, which languages' examples the graph leaned on."""
    import time

    import numpy as np

    names_folder = output.endswith(("/", os.sep))  # "pdir/": a folder, even where none exists yet
    to_stdout = output == "-"  # JSON Lines on standard output; the summary goes to standard error
    out = Path(output)
    if to_stdout and is_stream_job(input, Path("predictions.jsonl")):
        raise MGLError("--output - writes the predictions of one input file; a corpus is predicted into a folder")
    if not to_stdout and is_stream_job(input, out):
        if encoding is not None:
            raise ConfigError(
                "--encoding applies to one input file predicted into a .jsonl file; a corpus predicted into "
                "a folder is read as UTF-8 (or UTF-16 with a byte-order mark): convert it first, for example "
                f"with iconv -f {encoding} -t UTF-8"
            )
        return predict_folder(
            model,
            input,
            out,
            text_column=text_column,
            pair_column=pair_column,
            id_column=id_column,
            shard_rows=shard_rows,
            output_format=output_format,
            device=device,
            seed=seed,
            precision=precision,
            quiet=quiet,
            cache=cache,
            executor=executor,
            workers=workers,
            address=address,
        )
    if executor != "local" or workers is not None or address is not None:
        raise MGLError(
            "--executor, --workers and --address apply to predictions into a folder (--output DIR)", source=out
        )
    if len(input) != 1:
        raise MGLError("several inputs are predicted into a folder: give --output DIR", source=out)
    (source,) = input
    if names_folder or expand(out).is_dir():
        raise MGLError(
            "--output names a folder; give a file name (.jsonl), or a folder together with "
            ".csv/.tsv/.jsonl/.parquet inputs for sharded output",
            source=out,
        )
    # before any work: never a user's file, the input itself, or a file inside a model folder
    if not to_stdout:
        out = check_output_file(out, kind=PREDICTIONS_KIND, overwrite=overwrite, inputs=[source], option="--output")
    texts, pairs, ids = read_inputs(
        source, text_column=text_column, pair_column=pair_column, fmt=format, encoding=encoding
    )
    clf = load_for_prediction(model, device=device, precision=precision, seed=seed, cache=cache)
    t0 = time.perf_counter()
    predictions = clf.explain(texts, pairs, progress=not quiet)
    seconds = time.perf_counter() - t0
    records = ({"id": rid, "text": t, **p.to_dict()} for rid, t, p in zip(ids, texts, predictions))
    write_json_lines(records, None if to_stdout else out, kind=PREDICTIONS_KIND)
    agreement = float(np.mean([p.agreement for p in predictions]))
    line = (
        f"wrote {len(predictions)} predictions of {clf.method} to {'standard output' if to_stdout else out} "
        f"({len(predictions) / seconds:.1f} texts/s); nearest labelled examples agree with the label "
        f"{agreement:.0%} of the time"
    )
    if predictions[0].graph is not None:
        self_weight = float(np.mean([p.self_weight for p in predictions]))
        inactive = sum(not p.graph_active for p in predictions)
        line += f"; mean self-weight {self_weight:.4f}" + (
            f", the graph passed on almost nothing (self-weight >= 0.99) for {inactive} of them" if inactive else ""
        )
    typer.echo(line, err=to_stdout)


def write_json_lines(records, out: Path | None, *, kind: str) -> None:
    """Records as JSON Lines to standard output (``out`` None), or atomically to ``out`` (already
    checked by :func:`mgl.outputs.check_output_file`), recorded as mgl's own file of ``kind``."""
    lines = (json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    if out is None:
        sys.stdout.writelines(lines)
        sys.stdout.flush()
        return
    with atomic_open(out, "w") as fh:
        fh.writelines(lines)
    record_written(out, kind)


def register(app: typer.Typer) -> None:
    app.command("predict")(predict)


def is_stream_job(inputs: list[str], output: Path) -> bool:
    """Sharded output for several inputs, a folder or glob, Parquet, or an output folder (an existing
    one, or a name without a suffix) with table inputs; a single text file or stdin into a ``.jsonl``
    file otherwise."""

    if len(inputs) > 1:
        return True
    item = inputs[0]
    if item == "-":
        return False
    path, output = expand(item), expand(output)
    if any(ch in item for ch in "*?[") or path.is_dir() or FORMATS.get(path.suffix.lower()) == "parquet":
        return True
    folder_out = output.is_dir() or output.suffix == ""
    return folder_out and path.suffix.lower() in FORMATS


def predict_folder(
    model: Path,
    inputs: list[str],
    output: Path,
    *,
    text_column,
    pair_column,
    id_column,
    shard_rows,
    output_format,
    device,
    seed,
    precision,
    quiet,
    cache,
    executor="local",
    workers=None,
    address=None,
) -> None:
    """``mgl predict`` into a folder of shards (:func:`mgl.bulk.predict.predict_stream`), here or on workers
    (:mod:`mgl.bulk.executors`)."""

    pool = make_pool(executor, workers=workers, address=address, device=device)
    if pool is not None and cache:
        raise ConfigError("--cache is for predictions in this process (--executor local, one worker)")
    expand_inputs(inputs)  # every input found before the model loads
    output = check_shard_folder(output, inputs)
    check_writable_folder(output, what="--output folder", create=False)  # made by the run, once it starts
    # fails here, before any worker; the workers load it again, each with its share of the CPUs
    clf = load_for_prediction(model, device=device, precision=precision, seed=seed, cache=cache)
    worker = {"model_dir": str(Path(model).resolve()), "device": device, "precision": precision, "seed": seed}
    summary = predict_stream(
        clf,
        inputs,
        output,
        model_dir=model,
        text_column=text_column,
        pair_column=pair_column,
        id_column=id_column,
        shard_rows=shard_rows,
        output_format=output_format,
        progress=not quiet,
        pool=pool,
        worker=worker,
    )
    resumed = (
        f"; continued after {summary['resumed_after_shards']} finished shard(s)"
        if summary["resumed_after_shards"]
        else ""
    )
    where = "" if pool is None else f" on {executor} ({summary['workers'] or workers or 0} workers)"
    typer.echo(
        f"predicted {summary['rows']} texts from {summary['files']} file(s) into {summary['shards']} shard(s) "
        f"in {output} with {clf.method}{where} ({summary['predicted_now']} now, "
        f"{summary['texts_per_second']:.1f} texts/s){resumed}"
    )
