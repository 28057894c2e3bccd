"""``mgl data``: inspect, check and download datasets. The work is in :mod:`mgl.data`; this only formats."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated, Any

import typer

from mgl.config import ENCODER_DEFAULTS, load_config
from mgl.data.download import WEBIS_URL, download_webis
from mgl.data.examples import Example, label_vocabulary, languages_of, select
from mgl.data.preparation import make_experiment_data, small_validation_notice
from mgl.data.registry import DATA_HELP, DATASETS, STDIN_HELP, default_data_root, load_dataset, stats_rows
from mgl.data.user_files import parse_columns, parse_label_map
from mgl.data.validation import validate_examples
from mgl.errors import ConfigError, DataError
from mgl.methods import check_run_config, make_method

app = typer.Typer(help="Inspect, check and download datasets.", no_args_is_help=True)

NameArg = Annotated[str, typer.Argument(help=DATA_HELP + STDIN_HELP)]
RootOpt = Annotated[
    Path | None,
    typer.Option("--root", help="Folder of a named dataset (or the folder holding it); default $MGL_HOME/data."),
]
ColumnsOpt = Annotated[
    str | None,
    typer.Option("--columns", help="Files: column map, e.g. 'text=review,label=stars,language=lang'."),
]
LabelsOpt = Annotated[
    str | None,
    typer.Option(
        "--labels", help="Files: label map, e.g. '1=negative,2=negative,3=,4=positive,5=positive' (3= drops)."
    ),
]
LanguageOpt = Annotated[
    str | None, typer.Option("--language", help="Files: the language of every record (no language column).")
]
FormatOpt = Annotated[
    str | None, typer.Option("--format", help="Files: csv, tsv, jsonl or parquet (default: from the suffix).")
]
EncodingOpt = Annotated[
    str | None,
    typer.Option(
        "--encoding", help="Text files: their encoding (default: UTF-8, or UTF-16 detected by its byte-order mark)."
    ),
]
KeepRegionsOpt = Annotated[
    bool,
    typer.Option(
        "--keep-regions",
        help="Files: keep a language code's region (pt-BR and pt-PT two languages; default: fr-FR is read as fr).",
    ),
]
LanguagesOpt = Annotated[
    str | None, typer.Option("--languages", help="Keep only these languages, comma-separated (e.g. en,ja).")
]


def _load(
    name: str,
    root: Path | None,
    columns: str | None,
    labels: str | None,
    language: str | None,
    fmt: str | None,
    languages: str | None,
    encoding: str | None = None,
    keep_regions: bool = False,
) -> list[Example]:
    """Load what the command line names, with the options that apply to it."""
    wanted = [code.strip() for code in languages.split(",") if code.strip()] if languages else None
    if name.strip().lower() in DATASETS:
        given = [
            flag
            for flag, value in (
                ("--columns", columns),
                ("--labels", labels),
                ("--language", language),
                ("--format", fmt),
                ("--encoding", encoding),
                ("--keep-regions", keep_regions or None),
            )
            if value is not None
        ]
        if given:
            raise ConfigError(f"{', '.join(given)} apply to files, not to the dataset {name}")
        return load_dataset(name, root=root, languages=wanted)
    options: dict[str, Any] = parse_columns(columns) if columns else {}
    if labels:
        options["label_map"] = parse_label_map(labels)
    if language:
        options["fixed_language"] = language
    if fmt:
        options["fmt"] = fmt
    if encoding:
        options["encoding"] = encoding
    if keep_regions:
        options["keep_regions"] = True
    examples = load_dataset(name, root=root, **options)
    return select(examples, language=wanted) if wanted else examples


@app.command()
def stats(
    name: NameArg,
    root: RootOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of count rows.")] = False,
    columns: ColumnsOpt = None,
    labels: LabelsOpt = None,
    language: LanguageOpt = None,
    fmt: FormatOpt = None,
    languages: LanguagesOpt = None,
    encoding: EncodingOpt = None,
    keep_regions: KeepRegionsOpt = False,
) -> None:
    """Count examples per language, domain, split and label."""
    rows = stats_rows(_load(name, root, columns, labels, language, fmt, languages, encoding, keep_regions))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{name}: {sum(r['count'] for r in rows)} examples")
    for column in ("language", "domain", "split", "label"):
        table.add_column(column)
    table.add_column("count", justify="right")
    for row in rows:
        table.add_row(row["language"], row["domain"] or "-", row["split"] or "-", row["label"], str(row["count"]))
    Console().print(table)


@app.command()
def validate(
    name: NameArg,
    root: RootOpt = None,
    columns: ColumnsOpt = None,
    labels: LabelsOpt = None,
    language: LanguageOpt = None,
    fmt: FormatOpt = None,
    languages: LanguagesOpt = None,
    encoding: EncodingOpt = None,
    keep_regions: KeepRegionsOpt = False,
    sources: Annotated[
        str | None, typer.Option(help="With --target: also check the experiment as 'mgl train' would set it up.")
    ] = None,
    target: Annotated[str | None, typer.Option(help="The target language of that experiment.")] = None,
    method: Annotated[
        str | None, typer.Option(help="The method 'mgl train' would train (default: the configuration's).")
    ] = None,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="Any setting, as 'mgl train --set' (data.target_fraction=1.0, ...)."),
    ] = None,
) -> None:
    """Load a dataset and check it as training does: an error where training refuses it (texts, labels,
    languages, splits, ids), a notice where training accepts it with one (a class missing in a
    language or split, a class only one language has, unlabelled texts). With --sources and --target,
    the experiment is set up as 'mgl train' sets it up (splits carved, the target's labels kept,
    zero-shot) and the method checks it before any embedding, so validate errors exactly where train
    would, with the same message."""
    examples = _load(name, root, columns, labels, language, fmt, languages, encoding, keep_regions)
    notices = validate_examples(examples, source=name)  # errors exactly where training errors
    for notice in notices:  # what training accepts with a notice, said the same way here
        logging.getLogger("mgl").warning("%s: %s", name, notice)
    if (sources is None) != (target is None):
        raise ConfigError("give --sources and --target together (or neither)")
    if sources is not None and target is not None:
        check_experiment(examples, name, sources, target, method, set_ or [])
    typer.echo(
        f"ok: {len(examples)} examples; languages {', '.join(languages_of(examples))}; "
        f"classes {', '.join(label_vocabulary(examples))}" + (f"; {len(notices)} notice(s)" if notices else "")
    )


def check_experiment(examples: list[Example], name: str, sources: str, target: str, method, overrides) -> None:
    """What 'mgl train' does before it embeds anything: the experiment's data set up from the
    configuration (its notices logged) and the method's own check (:meth:`mgl.methods.base.Method.check_data`)."""

    items = [f"data.sources={sources}", f"data.target={target}", *([f"method={method}"] if method else [])]
    cfg = load_config(None, None, [*items, *overrides]).validate()
    check_run_config(cfg)
    d = cfg.data
    data = make_experiment_data(
        examples,
        d.sources,
        d.target,
        domain=d.domain,
        target_fraction=d.target_fraction,
        target_count=d.target_count,
        max_per_class=d.max_per_class,
        seed=cfg.seed,
        source=name,
        require_test=False,
        positive_label=d.positive_label,
        validation_fraction=d.validation_fraction,
        keep_regions=d.keep_regions,
        rest_unlabelled=d.rest_unlabelled,
    )
    notice = small_validation_notice(data)
    if notice:
        logging.getLogger("mgl").warning("%s: %s", name, notice)
    try:
        make_method(cfg.resolved_method(), cfg, members=cfg.members).check_data(data)
    except DataError as exc:
        if exc.source is None:  # named as 'mgl train' names it: the data the problem was found in
            raise DataError(exc.message, source=name, record=exc.record) from None
        raise
    typer.echo(f"ok: 'mgl train --method {cfg.resolved_method()}' can train {'+'.join(data.sources)} -> {data.target}")


@app.command()
def download(
    name: Annotated[str, typer.Argument(help="The dataset to download: webis-cls-10.")],
    dest: Annotated[Path | None, typer.Option("--dest", help="Folder to unpack into; default $MGL_HOME/data.")] = None,
    url: Annotated[str, typer.Option("--url", help="Where to fetch the archive (file:// works too).")] = WEBIS_URL,
    md5: Annotated[str | None, typer.Option("--md5", help="Expected MD5 digest of the archive.")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")] = True,
    force: Annotated[bool, typer.Option("--force", help="Replace a complete copy already there.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bar (as --no-progress).")] = False,
) -> None:
    """Download and unpack a dataset from its publisher (Webis-CLS-10: Zenodo record 3251672)."""
    if name.strip().lower() != "webis-cls-10":
        raise ConfigError(f"cannot download {name!r}: only webis-cls-10 can be downloaded")
    folder = download_webis(
        dest if dest is not None else default_data_root(),
        url=url,
        md5=md5,
        progress=progress and not quiet,
        force=force,
    )
    typer.echo(str(folder))


@app.command()
def embed(
    name: NameArg,
    root: RootOpt = None,
    columns: ColumnsOpt = None,
    labels: LabelsOpt = None,
    language: LanguageOpt = None,
    fmt: FormatOpt = None,
    languages: LanguagesOpt = None,
    encoder: Annotated[
        str, typer.Option("--encoder", help="Encoder: hub name, local folder, or the embedded default.")
    ] = ENCODER_DEFAULTS.model,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per input.")] = ENCODER_DEFAULTS.max_length,
    device: Annotated[
        str | None, typer.Option("--device", help="cpu, cuda, cuda:N; default: CUDA when present.")
    ] = None,
    batch_size: Annotated[int, typer.Option("--batch-size")] = ENCODER_DEFAULTS.batch_size,
) -> None:
    """Prepare a dataset for training: embed every text into the on-disk cache (frozen encoder).

    Later runs (``mgl run``, ``mgl experiment``) on the same texts then compute nothing.
    """
    from mgl.encoders import EmbeddingCache, EncoderSpec, TextEncoder

    examples = _load(name, root, columns, labels, language, fmt, languages)
    enc = TextEncoder(EncoderSpec(model=encoder, max_length=max_length), device=device)
    cache = EmbeddingCache()
    pairs = [ex.text_pair for ex in examples]
    enc.embed(
        [ex.text for ex in examples],
        pairs if any(p is not None for p in pairs) else None,
        batch_size=batch_size,
        cache=cache,
    )
    stats = cache.stats()
    typer.echo(
        f"{len(examples)} texts embedded with {encoder} into {cache.root}: "
        f"{stats.get('hits', 0)} already cached, {stats.get('misses', 0)} computed"
    )
