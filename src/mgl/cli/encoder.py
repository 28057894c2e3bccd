"""``mgl encoder``: prepare and inspect text encoders and the embedding cache.

The work is in :mod:`mgl.encoders`; this module only parses options and formats. torch and
transformers are imported inside the commands, so ``mgl --help`` stays fast.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from mgl.bulk.embed import embed_corpus
from mgl.bulk.executors import make_pool
from mgl.config import ENCODER_DEFAULTS, load_config
from mgl.data.preparation import load_examples
from mgl.data.registry import DATA_HELP
from mgl.encoders import embedded_e5
from mgl.encoders.cache import EmbeddingCache
from mgl.encoders.embedded_e5 import is_embedded_name
from mgl.errors import ConfigError

app = typer.Typer(help="Prepare and inspect text encoders and the embedding cache.", no_args_is_help=True)

ModelOpt = Annotated[
    str,
    typer.Option(
        "--model",
        help="Embedded alias (multilingual-e5-small, e5-small, default), a local model directory, or a hub name.",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _print_table(rows: dict[str, object]) -> None:
    width = max(len(k) for k in rows)
    for key, value in rows.items():
        typer.echo(f"{key:<{width}}  {value}")


@app.command()
def prepare(
    model: ModelOpt = ENCODER_DEFAULTS.model,
    home: Annotated[
        Path | None,
        typer.Option(
            "--home", help="Embedded model: the mgl home to prepare it in (default $MGL_HOME or ~/.cache/mgl)."
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Embedded model: convert again even if already prepared.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """Materialise the embedded default encoder, or check that MODEL loads and runs; print its directory."""

    if is_embedded_name(model):
        typer.echo(str(embedded_e5.prepare_embedded_e5(home, force=force, progress=not quiet)))
        return
    if home is not None or force:
        raise ConfigError("--home and --force apply to the embedded encoder only, not to " + repr(model))
    from mgl.encoders.text_encoder import EncoderSpec, TextEncoder

    encoder = TextEncoder(EncoderSpec(model=model), device="cpu")
    encoder.embed(["mgl encoder check"], progress=False)  # loads and runs: fail here, not mid-experiment
    typer.echo(encoder.source_path)


@app.command()
def info(
    model: ModelOpt = ENCODER_DEFAULTS.model,
    pooling: Annotated[str | None, typer.Option("--pooling", help="cls or mean (default: the model's).")] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Text prepended to inputs (default: the model's).")
    ] = None,
    max_length: Annotated[
        int, typer.Option("--max-length", help="Truncate inputs to this many tokens.")
    ] = ENCODER_DEFAULTS.max_length,
    device: Annotated[str | None, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = None,
    precision: Annotated[
        str,
        typer.Option(
            "--precision",
            help="auto (the default of runs), fp32 or bf16; what auto would choose here, and why, is printed too.",
        ),
    ] = ENCODER_DEFAULTS.precision,
    as_json: JsonOpt = False,
) -> None:
    """Load an encoder and print its directory, size, pooling, prefix, precision and cache identity."""
    from mgl.encoders.text_encoder import EncoderSpec, TextEncoder

    encoder = TextEncoder(
        EncoderSpec(model=model, pooling=pooling, prefix=prefix, max_length=max_length, precision=precision),
        device=device,
    )
    rows: dict[str, object] = {
        "model": encoder.spec.model,
        "directory": encoder.source_path,
        "architecture": type(encoder.model).__name__,
        "dim": encoder.dim,
        "layers": encoder.num_layers,
        "parameters": sum(p.numel() for p in encoder.model.parameters()),
        "pooling": encoder.spec.pooling,
        "prefix": encoder.spec.prefix,
        "max_length": encoder.spec.max_length,
        "device": str(encoder.device),
        "precision": encoder.precision
        if precision != "auto"
        else f"{encoder.precision} (auto: {encoder.precision_reason})",
        "auto chooses": _auto_choice(encoder),
        "identity": encoder.identity,
    }
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        _print_table({k: repr(v) if k == "prefix" else v for k, v in rows.items()})


def _auto_choice(encoder) -> str:
    """What ``precision=auto`` picks on this machine for ``encoder``, and why (the encoder is left as it was)."""
    before = (encoder.precision, encoder.precision_reason)
    try:
        choice = encoder.choose_precision("auto")
        return f"{choice} ({encoder.precision_reason})"
    finally:
        encoder.precision, encoder.precision_reason = before


@app.command()
def cache(
    root: Annotated[Path | None, typer.Option("--root", help="Cache folder (default $MGL_HOME/embeddings).")] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Delete every cached embedding.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Show the size of the embedding cache, or empty it with --clear."""

    with EmbeddingCache(root) as store:
        if clear:
            store.clear()
        stats = store.stats()
    rows = {k: stats[k] for k in ("path", "entries", "bytes")}
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        _print_table(rows)


@app.command()
def embed(
    data: Annotated[str, typer.Option("--data", help=DATA_HELP)],
    root: Annotated[
        Path | None,
        typer.Option(
            "--root",
            help="The dataset's folder (default $MGL_HOME/data); for a file, the folder relative paths start from.",
        ),
    ] = None,
    columns: Annotated[
        str | None, typer.Option(help="For files: text=COL,label=COL[,text_pair=COL][,language=COL][,split=COL].")
    ] = None,
    languages: Annotated[
        str | None, typer.Option("--languages", help="Comma-separated languages (default: all).")
    ] = None,
    domain: Annotated[
        str | None, typer.Option("--domain", help="webis-cls-10: one domain (default: all three).")
    ] = None,
    preset: Annotated[str | None, typer.Option("--preset", help="Named preset whose encoder settings to use.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="A YAML configuration file (on top of the preset).")
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="A data or encoder setting: section.field=value (repeatable).")
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local (this machine) or ray (a Ray Data actor pool; --address joins a cluster).")
    ] = "local",
    workers: Annotated[
        int | None,
        typer.Option(
            help="Local worker processes (default 1: this process, all its threads) or Ray actors (default: one per CPU, or per GPU)."
        ),
    ] = None,
    address: Annotated[
        str | None, typer.Option(help="--executor ray: the cluster to join (default: start Ray on this machine).")
    ] = None,
    chunk_rows: Annotated[int, typer.Option(help="Texts per unit of work sent to a worker.")] = 2048,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Fill the embedding cache with a training corpus's embeddings, so that training runs and grids
    with the same encoder settings embed nothing; here, on local worker processes or on Ray."""

    if any(not item.startswith(("encoder.", "data.")) for item in set_ or []):
        raise ConfigError("mgl encoder embed takes data and encoder settings only (--set encoder.field=value)")
    shortcuts = (
        [f"data.name={data}"]
        + ([f"data.root={root}"] if root is not None else [])
        + ([f"data.columns={columns}"] if columns else [])
        + ([f"data.domain={domain}"] if domain else [])
    )
    cfg = load_config(preset, config, [*(set_ or []), *shortcuts])
    cfg.encoder.validate()
    pool = make_pool(executor, workers=workers, address=address, device=cfg.encoder.device)
    wanted = [x.strip() for x in languages.split(",") if x.strip()] if languages else None
    examples = load_examples(cfg.data, wanted)
    pairs = [e.text_pair for e in examples]
    summary = embed_corpus(
        [e.text for e in examples],
        pairs if any(p is not None for p in pairs) else None,
        cfg.encoder,
        pool=pool,
        chunk_rows=chunk_rows,
        progress=not quiet,
    )
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    typer.echo(
        f"{summary['distinct']} distinct texts of {summary['texts']}: {summary['cached_before']} were cached, "
        f"{summary['embedded']} embedded ({summary['texts_per_second']:.1f} texts/s, {executor}) into "
        f"{summary['cache']}"
    )
