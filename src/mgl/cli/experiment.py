"""``mgl experiment``: the paper's experiment grids (Table 1), resumable, and their reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mgl.cli import sweeps
from mgl.cli.grid_options import (
    DEFAULT_METHODS,
    AddressOpt,
    AmazonPresetOpt,
    BaselineLrsOpt,
    BaselineWdsOpt,
    ConfigOpt,
    DeviceOpt,
    ExecutorOpt,
    FileColumnsOpt,
    FileDomainOpt,
    FileLabelsOpt,
    FileLanguageOpt,
    GridMethodsOpt,
    PairSeedsOpt,
    QuietOpt,
    SetOpt,
    ThreadsOpt,
    WebisDomainsOpt,
    WebisRootOpt,
    WebisSeedsOpt,
    WebisTargetsOpt,
    WorkersOpt,
    _baseline_grid,
    _check_threads,
    _executor,
    _grid_plan,
    _n_seeds,
    _run_table,
    _split,
    _webis_config,
)
from mgl.config import DEFAULT_MEMBERS, RunConfig, load_config
from mgl.data.user_files import parse_columns
from mgl.errors import ConfigError, DataError
from mgl.grid import (
    REFERENCE_METHODS,
    CellStore,
    Experiment,
    check_methods,
    grid_spec,
    make_cells,
    table1_spec,
    table2_experiments,
    table2_spec,
    write_tables,
)
from mgl.grid.derived_ensembles import derive_ensemble
from mgl.methods import make_method

app = typer.Typer(
    help="Experiment grids: many methods x experiments x seeds, resumable, with tables.", no_args_is_help=True
)


def grid_methods(cfg, asked: list[str]) -> list[str]:
    """The grid's methods: the references (:data:`mgl.grid.REFERENCE_METHODS`) and those asked; zero-shot
    (``data.target_fraction=0`` or ``data.target_count=0``) the references that need target labels
    are left out, and asking for such a method is an error."""

    names = check_methods([*REFERENCE_METHODS, *asked])
    if cfg.data.target_fraction != 0 and cfg.data.target_count != 0:
        return names
    needs = [m for m in names if make_method(m, cfg).needs_target_labels]
    asked_needs = [m for m in needs if m in asked]
    if asked_needs:
        raise ConfigError(
            f"zero-shot (no target label): {', '.join(asked_needs)} train(s) on the target's labels; leave it out"
        )
    return [m for m in names if m not in needs]


@app.command("table1")
def table1(
    root: WebisRootOpt = None,
    out: Annotated[Path, typer.Option(help="Output folder: cells/, grid.json, table1.{json,csv,md}.")] = Path(
        "runs/table1"
    ),
    seeds: WebisSeedsOpt = None,
    methods: Annotated[
        str,
        typer.Option(
            help="Comma-separated methods: target-only, mix, multi-task, fine-tune, "
            "reptile, mgl and MGL ablations (mgl-no-meta, mgl-no-l2clt, "
            "mgl-no-sigma, mgl-gcnN), ensemble (of --set members=..., default "
            f"{','.join(DEFAULT_MEMBERS)}). logreg-target and logreg-pooled are always added."
        ),
    ] = DEFAULT_METHODS,
    targets: WebisTargetsOpt = None,
    domains: WebisDomainsOpt = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="A reduced grid for tests: one target, one domain, 2 seeds, tiny data, short training."
        ),
    ] = False,
    preset: AmazonPresetOpt = "amazon",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    baseline_lrs: BaselineLrsOpt = None,
    baseline_wds: BaselineWdsOpt = None,
    device: DeviceOpt = None,
    threads: ThreadsOpt = 1,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = 1,
    address: AddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The paper's Table 1 grid: FR, JA, DE x books, dvd, music (the other languages as sources), N seeds.

    Every finished cell (method, target, domain, seed) is written to OUT/cells/ at once; a
    re-run skips finished cells. Writes OUT/table1.json, table1.csv and table1.md.
    """

    cfg = _webis_config(what="table1", root=root, quick=quick, device=device, preset=preset, config=config, set_=set_)
    method_list = grid_methods(cfg, _split(methods))
    _baseline_grid(cfg, baseline_lrs, baseline_wds, quick)
    seed_list, experiments = _grid_plan(
        cfg, quick=quick, seeds=seeds, targets=targets, domains=domains, threads=threads
    )
    _run_table(
        "table1",
        table1_spec,
        cfg,
        method_list,
        experiments,
        len(seed_list),
        out=out,
        quick=quick,
        threads=threads,
        quiet=quiet,
        executor=_executor(executor, workers, address, cfg),
    )


@app.command("report")
def report(
    out: Annotated[Path, typer.Argument(help="A grid's output folder (holding grid.json and cells/).")],
    ensemble: Annotated[
        list[str] | None,
        typer.Option(
            "--ensemble",
            help="Add the row of an ensemble of these finished methods, comma-separated (repeatable), e.g. mgl,mix,logreg-pooled: the mean of their stored probabilities, nothing trained.",
        ),
    ] = None,
) -> None:
    """Rebuild a grid's tables from its finished cells (e.g. while it runs, or after a kill),
    optionally with ensembles of its methods computed from their stored probabilities."""
    import json

    path = out / "grid.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
        experiments = [Experiment(e["target"], e["domain"], tuple(e["sources"])) for e in meta["experiments"]]
        methods, seeds, fingerprint = meta["methods"], meta["seeds"], meta["fingerprint"]
    except FileNotFoundError:
        raise DataError("no grid.json here: not a grid's output folder", source=out) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"not a readable grid description ({exc})", source=path) from None
    cells = make_cells(methods, experiments, seeds)
    store = CellStore(out, fingerprint)
    records = store.records(cells)
    derived = []
    for text in ensemble or []:
        members = _split(text)
        unknown = [m for m in members if m not in methods]
        if len(members) < 2 or unknown:
            raise ConfigError(
                f"--ensemble needs two or more of the grid's methods ({', '.join(methods)}); got {text!r}"
            )
        cfg = RunConfig.from_dict(meta["config"], source=str(path))
        name, rows, missing = derive_ensemble(store, cfg, experiments, seeds, members)
        records += rows
        derived.append(name)
        for experiment, seed, why in missing:
            typer.echo(f"{name}: {experiment.label} seed {seed} left out ({why})", err=True)
    paths = write_tables(
        out,
        records,
        grid_spec(meta.get("table", "table1"), [*methods, *derived], experiments),
        meta={**meta, **({"derived_ensembles": derived} if derived else {})},
        n_seeds=len(seeds),
    )
    typer.echo(
        f"{len(records)}/{len(cells)} cells finished" + (f", {len(derived)} ensemble row(s) derived" if derived else "")
    )
    typer.echo(paths["md"].read_text(encoding="utf-8"))


@app.command("table2")
def table2(
    data: Annotated[str, typer.Option(help="paws-x, or a CSV/TSV/JSONL file (with --columns, --labels).")] = "paws-x",
    root: Annotated[
        str | None,
        typer.Option(help="Folder holding PAWS-X ({lang}/dev_2k.tsv, or its parent); for a file, its folder."),
    ] = None,
    languages: Annotated[
        str, typer.Option(help="Comma-separated languages: every target's sources are the others.")
    ] = "en,de,es,fr,ja",
    targets: Annotated[
        str | None, typer.Option(help="Comma-separated targets (default de,es,fr,ja; --quick: de).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder: cells/, grid.json, table2.{json,csv,md}.")] = Path(
        "runs/table2"
    ),
    seeds: PairSeedsOpt = None,
    methods: GridMethodsOpt = DEFAULT_METHODS,
    columns: FileColumnsOpt = None,
    labels: FileLabelsOpt = None,
    language: FileLanguageOpt = None,
    domain: FileDomainOpt = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A reduced grid for tests: one target, 2 seeds, tiny data, short training.")
    ] = False,
    preset: Annotated[
        str | None, typer.Option(help="Named preset (default search-relevance: Table 4's N 5, R 64, K 100).")
    ] = "search-relevance",
    config: ConfigOpt = None,
    set_: SetOpt = None,
    baseline_lrs: BaselineLrsOpt = None,
    baseline_wds: BaselineWdsOpt = None,
    device: DeviceOpt = None,
    threads: ThreadsOpt = 1,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = 1,
    address: AddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The paper's Table 2 grid on text pairs (PAWS-X): each target with the other languages as sources, N seeds.

    Rows are the methods; per target the precision, recall and F1 of the positive class
    (paraphrase), then the average F1, the difference to MGL and a dagger where MGL beats the
    best baseline (one-sided paired t-test over seeds, p < 0.01). Resumable like table1.
    Writes OUT/table2.json, table2.csv and table2.md.
    """

    _file_grid(
        "table2",
        table2_spec,
        data=data,
        root=root,
        languages=languages,
        targets=targets,
        default_targets=["de"] if quick else ["de", "es", "fr", "ja"],
        out=out,
        seeds=seeds,
        methods=methods,
        columns=columns,
        labels=labels,
        language=language,
        encoding=None,
        domain=domain,
        quick=quick,
        preset=preset,
        config=config,
        set_=set_,
        baseline_lrs=baseline_lrs,
        baseline_wds=baseline_wds,
        device=device,
        threads=threads,
        quiet=quiet,
        placement=(executor, workers, address),
    )


def _file_grid(
    table: str,
    spec_of,
    *,
    data,
    root,
    languages,
    targets,
    default_targets,
    out,
    seeds,
    methods,
    columns,
    labels,
    language,
    encoding,
    domain,
    quick,
    preset,
    config,
    set_,
    baseline_lrs,
    baseline_wds,
    device,
    threads,
    quiet,
    pairs: bool | None = None,
    placement: tuple[str, int, str | None] = ("local", 1, None),
    sources=None,
) -> None:
    """A grid over a data set without Table 1's domains (PAWS-X or a user's file): each target with
    the other languages as sources. ``pairs`` picks the quick scale (None: from the preset)."""

    _check_threads(threads)
    if pairs is None:
        pairs = preset == "search-relevance"
    scales = (("pairs",) if pairs else ("text",)) if quick else ()
    items: list[str] = []
    for key, value in (
        ("data.name", data),
        ("data.root", root),
        ("data.columns", columns),
        ("data.labels", labels),
        ("data.language", language),
        ("data.encoding", encoding),
        ("encoder.device", device),
    ):
        if value is not None:
            items.append(f"{key}={value}")
    cfg = load_config(preset, config, [*items, *(set_ or [])], quick=scales)
    named = cfg.data.name.lower() in ("paws-x", "sib-200")
    if named and cfg.data.root is None:
        raise ConfigError(f"no data folder: give --root (the folder holding {cfg.data.name})")
    if cfg.data.name.lower() == "webis-cls-10":
        raise ConfigError(f"{table} runs on paws-x, sib-200 or a file; for webis-cls-10 use 'mgl experiment table1'")
    if named and (columns or labels or language or encoding):
        raise ConfigError(f"--columns, --labels, --language and --encoding apply to files, not to {cfg.data.name}")
    n_seeds = _n_seeds(seeds, quick)
    language_list = _split(languages)
    target_list = _split(targets) or default_targets
    if sources is None and not language_list:
        raise ConfigError("give --languages (every target's sources are the others) or --sources (fixed sources)")
    experiments = table2_experiments(
        target_list, language_list, domain=domain, sources=_split(sources) if sources is not None else None
    )
    method_list = grid_methods(cfg, _split(methods))
    _baseline_grid(cfg, baseline_lrs, baseline_wds, quick)
    # the experiments' own fields (target, sources) are set per cell; check the rest now
    cfg.data.target, cfg.data.sources = experiments[0].target, list(experiments[0].sources)
    cfg.validate()
    _run_table(
        table,
        spec_of,
        cfg,
        method_list,
        experiments,
        n_seeds,
        out=out,
        quick=quick,
        threads=threads,
        quiet=quiet,
        executor=_executor(*placement, cfg),
    )


@app.command("compare")
def compare(
    data: Annotated[str, typer.Option(help="Your CSV/TSV/JSONL/Parquet file (or paws-x, sib-200).")],
    targets: Annotated[
        str,
        typer.Option(
            help="Comma-separated target languages (each a low-resource target in turn), any spelling (yo, yor, yor_Latn)."
        ),
    ],
    languages: Annotated[
        str | None,
        typer.Option(help="Comma-separated languages of the file to use: every target's sources are the others."),
    ] = None,
    sources: Annotated[
        str | None,
        typer.Option(
            help="Instead of --languages: the same source languages for every target (SIB-200: eng_Latn,fra_Latn,zho_Hans,arb_Arab)."
        ),
    ] = None,
    root: Annotated[
        str | None, typer.Option(help="Folder the file's path is relative to (or PAWS-X's folder).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder: cells/, grid.json, compare.{json,csv,md}.")] = Path(
        "runs/compare"
    ),
    seeds: PairSeedsOpt = None,
    methods: GridMethodsOpt = DEFAULT_METHODS,
    columns: FileColumnsOpt = None,
    labels: FileLabelsOpt = None,
    language: FileLanguageOpt = None,
    encoding: Annotated[
        str | None,
        typer.Option(help="Text files: their encoding (default: UTF-8, or UTF-16 detected by its byte-order mark)."),
    ] = None,
    domain: FileDomainOpt = None,
    quick: Annotated[
        bool, typer.Option("--quick", help="A reduced grid for tests: 2 seeds, tiny data, short training.")
    ] = False,
    preset: Annotated[
        str | None,
        typer.Option(help="Named preset (default: search-relevance for text pairs, amazon for single texts)."),
    ] = None,
    config: ConfigOpt = None,
    set_: SetOpt = None,
    baseline_lrs: BaselineLrsOpt = None,
    baseline_wds: BaselineWdsOpt = None,
    device: DeviceOpt = None,
    threads: ThreadsOpt = 1,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = 1,
    address: AddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Compare every method on your own file: MGL, the paper's baselines and the logistic-regression
    references, each target with the other languages as sources, N seeds, resumable like table1.

    A file of single texts gets the single-text preset (amazon) and a table of accuracies; a file of
    text pairs (a text_pair column, or paws-x) the pair preset (search-relevance) and Table 2's
    precision / recall / F1 layout. Writes OUT/compare.{json,csv,md}.
    """

    pairs = data.strip().lower() == "paws-x" or (columns is not None and "text_pair" in parse_columns(columns))
    preset = preset or ("search-relevance" if pairs else "amazon")
    spec_of = (
        (lambda m, e: table2_spec(m, e, name="compare")) if pairs else (lambda m, e: table1_spec(m, e, name="compare"))
    )
    _file_grid(
        "compare-pairs" if pairs else "compare",
        spec_of,
        data=data,
        root=root,
        languages=languages,
        targets=targets,
        default_targets=[],
        out=out,
        seeds=seeds,
        methods=methods,
        columns=columns,
        labels=labels,
        language=language,
        encoding=encoding,
        domain=domain,
        quick=quick,
        preset=preset,
        config=config,
        set_=set_,
        baseline_lrs=baseline_lrs,
        baseline_wds=baseline_wds,
        device=device,
        threads=threads,
        quiet=quiet,
        pairs=pairs,
        placement=(executor, workers, address),
        sources=sources,
    )


app.command("ablation")(sweeps.ablation)
app.command("proportion")(sweeps.proportion)
