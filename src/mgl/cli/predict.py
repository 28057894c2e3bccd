"""``mgl predict``: classify new texts with a saved model.

Two ways: a few texts (one ``.jsonl/.csv/.tsv/.txt`` file or standard input) into one ``.jsonl``
file with each text's explanation; or a corpus (files, folders, globs of CSV/TSV/JSONL/Parquet)
into a folder of output shards, streamed in bounded memory and continued after a kill
(:mod:`mgl.streaming`)."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from mgl.errors import DataError, check_text
from mgl.streaming import check_input, jsonl_record


def read_inputs(path: str, *, text_column: str = "text", pair_column: str | None = None,
                fmt: str | None = None) -> tuple[list[str], list[str | None] | None, list[str]]:
    """Texts, optional pair texts and record ids from .jsonl, .csv, .tsv, .txt or ``-`` (stdin, one text a line).

    Errors name the input and the record by its line number (for CSV/TSV, the line a record ends on)."""
    source = "<stdin>" if path == "-" else path
    if path == "-":
        raw = sys.stdin.buffer.read()
        fmt = fmt or "txt"
    else:
        p = Path(path)
        if not p.is_file():
            raise DataError("no such input file", source=p)
        raw = p.read_bytes()
        fmt = fmt or {".jsonl": "jsonl", ".json": "jsonl", ".csv": "csv", ".tsv": "tsv", ".txt": "txt"}.get(p.suffix.lower())
        if fmt is None:
            raise DataError("unknown input format: use .jsonl, .csv, .tsv or .txt (or --format)", source=p)
    from mgl.data.tabular import detect_encoding

    codec = detect_encoding(raw)  # UTF-8 (BOM or not), or UTF-16 with its BOM
    if codec == "utf-8-sig" and b"\x00" in raw[:4096]:
        raise DataError("holds NUL bytes: it looks like UTF-16 without a byte-order mark; re-save it as UTF-8",
                        source=source)
    try:
        content = raw.decode(codec)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(f"not valid {'UTF-8' if codec == 'utf-8-sig' else codec} (byte {exc.start})", source=source,
                        record=line) from None
    content = content.removeprefix("\ufeff")
    texts: list[str] = []
    pairs: list[str | None] = []
    ids: list[str] = []
    lines: list[int] = []  # every record is named by its line in the input, in every message
    if fmt == "txt":
        for i, line in enumerate(content.splitlines(), 1):
            if line.strip():
                texts.append(line)
                pairs.append(None)
                ids.append(str(i))
                lines.append(i)
    elif fmt == "jsonl":
        for i, line in enumerate(content.splitlines(), 1):
            if not line.strip():
                continue
            rec = jsonl_record(line, source=source, record=i, fields=[text_column])
            texts.append(rec[text_column])
            pairs.append(rec.get(pair_column) if pair_column else rec.get("text_pair"))
            rid = rec.get("id", i)
            if isinstance(rid, str):
                check_text(rid, what="the id", source=source, record=i)
            ids.append(str(rid))
            lines.append(i)
    elif fmt in ("csv", "tsv"):
        reader = csv.DictReader(io.StringIO(content), delimiter="," if fmt == "csv" else "\t")
        if reader.fieldnames is None or text_column not in reader.fieldnames:
            raise DataError(f"missing column {text_column!r} (columns: {reader.fieldnames})", source=source)
        try:
            for row in reader:
                texts.append(row[text_column])
                pairs.append(row.get(pair_column) if pair_column else row.get("text_pair"))
                ids.append(str(row.get("id") or reader.line_num))
                lines.append(reader.line_num)
        except csv.Error as exc:
            raise DataError(f"malformed {fmt.upper()} ({exc})", source=source, record=reader.line_num) from None
    else:
        raise DataError(f"unknown input format {fmt!r}", source=source)
    if not texts:
        raise DataError("the input holds no text to predict", source=source)
    for line, text, pair in zip(lines, texts, pairs):
        check_input(text, pair, source=source, record=line)
    return texts, (pairs if any(p is not None for p in pairs) else None), ids


def register(app: typer.Typer) -> None:
    @app.command("predict")
    def predict(
        model: Annotated[Path, typer.Option(help="A model directory saved by 'mgl train --save'.")],
        input: Annotated[list[str], typer.Option("--input", help="A .jsonl, .csv, .tsv or .txt file, or - for standard input; or (repeatable) files, folders and globs of .csv/.tsv/.jsonl/.parquet for sharded output.")],
        output: Annotated[Path, typer.Option(help="A .jsonl file (a few texts, with explanations), or a folder: output shards, each written atomically; a killed run given the same folder continues.")],
        text_column: Annotated[str, typer.Option(help="Field or column holding the text.")] = "text",
        pair_column: Annotated[Optional[str], typer.Option(help="Field or column holding the second text of a pair.")] = None,
        format: Annotated[Optional[str], typer.Option("--format", help="Input format when the suffix does not say.")] = None,
        device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:N; default: CUDA when present.")] = None,
        seed: Annotated[Optional[int], typer.Option(help="MGL: seed of the sampled support sets (default: the model's).")] = None,
        precision: Annotated[Optional[str], typer.Option(help="Embed the inputs in fp32, bf16 or auto (default: as the model was trained).")] = None,
        quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
        cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Keep the inputs' embeddings in the on-disk cache ($MGL_HOME), so a re-run embeds nothing (off by default: a corpus would grow it by ~1.5 kB a text).")] = False,
        id_column: Annotated[Optional[str], typer.Option(help="Folder output: the column whose values identify each row in the output (default: FILE:ROW).")] = None,
        shard_rows: Annotated[int, typer.Option(help="Folder output: rows per output shard.")] = 10_000,
        output_format: Annotated[str, typer.Option(help="Folder output: parquet or jsonl shards.")] = "parquet",
        executor: Annotated[str, typer.Option(help="Folder output: local (this machine) or ray (a Ray Data actor pool; --address joins a cluster).")] = "local",
        workers: Annotated[Optional[int], typer.Option(help="Folder output: worker processes (local; default 1, in this process) or Ray actors (default: one per CPU, or per GPU), each loading the model once.")] = None,
        address: Annotated[Optional[str], typer.Option(help="--executor ray: the cluster to join (default: start Ray on this machine).")] = None,
    ) -> None:
        """Classify texts: label, class probabilities, the nearest labelled examples (with their texts) and,
        for MGL, which languages' examples the graph leaned on."""
        import time

        import numpy as np

        from mgl.classifier import Classifier
        from mgl.io import atomic_open

        from mgl.errors import MGLError
        from mgl.outputs import check_writable_folder

        if is_stream_job(input, output):
            return predict_folder(model, input, output, text_column=text_column, pair_column=pair_column,
                                  id_column=id_column, shard_rows=shard_rows, output_format=output_format,
                                  device=device, seed=seed, precision=precision, quiet=quiet, cache=cache,
                                  executor=executor, workers=workers, address=address)
        if executor != "local" or workers is not None or address is not None:
            raise MGLError("--executor, --workers and --address apply to predictions into a folder (--output DIR)",
                           source=output)
        if len(input) != 1:
            raise MGLError("several inputs are predicted into a folder: give --output DIR", source=output)
        input = input[0]
        if output.is_dir():
            raise MGLError("--output names a folder; give a file name (.jsonl), or a folder together with "
                           ".csv/.tsv/.jsonl/.parquet inputs for sharded output", source=output)
        check_writable_folder(output.parent, what="folder of --output")  # before any work
        texts, pairs, ids = read_inputs(input, text_column=text_column, pair_column=pair_column, fmt=format)
        clf = Classifier.from_pretrained(model, device=device, precision=precision)
        if seed is not None:
            clf.reseed(seed)
        if cache:
            from mgl.encoders import EmbeddingCache

            clf.embedding_cache = EmbeddingCache()
        t0 = time.perf_counter()
        predictions = clf.explain(texts, pairs, progress=not quiet)
        seconds = time.perf_counter() - t0
        with atomic_open(output, "w") as fh:
            for rid, text, pred in zip(ids, texts, predictions):
                fh.write(json.dumps({"id": rid, "text": text, **pred.to_dict()}, ensure_ascii=False) + "\n")
        agreement = float(np.mean([p.agreement for p in predictions]))
        line = (f"wrote {len(predictions)} predictions of {clf.method} to {output} "
                f"({len(predictions) / seconds:.1f} texts/s); nearest labelled examples agree with the label "
                f"{agreement:.0%} of the time")
        if predictions[0].graph is not None:
            self_weight = float(np.mean([p.self_weight for p in predictions]))
            inactive = sum(not p.graph_active for p in predictions)
            line += (f"; mean self-weight {self_weight:.4f}"
                     + (f", the graph passed on almost nothing (self-weight >= 0.99) for {inactive} of them"
                        if inactive else ""))
        typer.echo(line)


STREAM_SUFFIXES = (".csv", ".tsv", ".jsonl", ".parquet")


def is_stream_job(inputs: list[str], output: Path) -> bool:
    """Sharded output for several inputs, a folder or glob, Parquet, or an output folder (an existing
    one, or a name without a suffix) with table inputs; a single text file or stdin into a ``.jsonl``
    file otherwise."""
    if len(inputs) > 1:
        return True
    item = inputs[0]
    if item == "-":
        return False
    if any(ch in item for ch in "*?[") or Path(item).is_dir() or Path(item).suffix.lower() == ".parquet":
        return True
    folder_out = output.is_dir() or output.suffix == ""
    return folder_out and Path(item).suffix.lower() in STREAM_SUFFIXES


def predict_folder(model: Path, inputs: list[str], output: Path, *, text_column, pair_column, id_column, shard_rows,
                   output_format, device, seed, precision, quiet, cache, executor="local", workers=None,
                   address=None) -> None:
    """``mgl predict`` into a folder of shards (:func:`mgl.bulk.predict.predict_stream`), here or on workers
    (:mod:`mgl.bulk.executors`)."""
    from mgl.bulk.executors import make_pool
    from mgl.classifier import Classifier
    from mgl.errors import ConfigError
    from mgl.outputs import check_writable_folder
    from mgl.bulk.predict import predict_stream
    from mgl.streaming import expand_inputs

    pool = make_pool(executor, workers=workers, address=address, device=device)
    if pool is not None and cache:
        raise ConfigError("--cache is for predictions in this process (--executor local, one worker)")
    expand_inputs(inputs)  # every input found before the model loads
    check_writable_folder(output, what="--output folder")
    clf = Classifier.from_pretrained(model, device=device, precision=precision)  # fails here, before any worker
    if seed is not None:
        clf.reseed(seed)
    if cache:
        from mgl.encoders import EmbeddingCache

        clf.embedding_cache = EmbeddingCache()
    worker = {"model_dir": str(Path(model).resolve()), "device": device, "precision": precision, "seed": seed}
    summary = predict_stream(clf, inputs, output, model_dir=model, text_column=text_column, pair_column=pair_column,
                             id_column=id_column, shard_rows=shard_rows, output_format=output_format,
                             progress=not quiet, pool=pool, worker=worker)
    resumed = (f"; continued after {summary['resumed_after_shards']} finished shard(s)"
               if summary["resumed_after_shards"] else "")
    where = "" if pool is None else f" on {executor} ({summary['workers'] or workers or 0} workers)"
    typer.echo(f"predicted {summary['rows']} texts from {summary['files']} file(s) into {summary['shards']} shard(s) "
               f"in {output} with {clf.method}{where} ({summary['predicted_now']} now, "
               f"{summary['texts_per_second']:.1f} texts/s){resumed}")
