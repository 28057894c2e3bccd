"""``mgl experiment``: the paper's experiment grids (Table 1), resumable, and their reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mgl.methods import ABLATION_METHODS, PAPER_METHODS, PROPORTION_METHODS

app = typer.Typer(
    help="Experiment grids: many methods x experiments x seeds, resumable, with tables.", no_args_is_help=True
)

DEFAULT_METHODS = ",".join([*PAPER_METHODS, "ensemble"])
QUICK_OVERRIDES = [
    "data.max_per_class=20",
    "encoder.max_length=128",
    "mgl.train_episodes=10",
    "mgl.max_rounds=3",
    "mgl.patience=2",
    "mgl.test_episodes=2",
    "mgl.eval_times=2",
    "mgl.lr=1e-3",
]
"""``--quick``: a smoke-test scale (20 instances per language, split and class; short training, so
MGL steps at 1e-3 rather than its default 1e-4, as the baselines' quick grid uses 1e-3 and 3e-3)."""
QUICK_LRS = (1e-3, 3e-3)
QUICK_WDS = (0.0,)


# Options that several grid commands share, declared once.
ConfigOpt = Annotated[Path | None, typer.Option(help="A YAML configuration file (on top of the preset).")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", help="Any setting: section.field=value (repeatable).")]
BaselineLrsOpt = Annotated[
    str | None,
    typer.Option(help="Learning rates the neural baselines choose from on validation (default 1e-4,3e-4,1e-3,3e-3)."),
]
BaselineWdsOpt = Annotated[
    str | None, typer.Option(help="Weight decays the neural baselines choose from (default 0,1e-3).")
]
DeviceOpt = Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N; default: CUDA when present.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", help="No progress bars.")]
WebisRootOpt = Annotated[
    str | None, typer.Option(help="Folder holding Webis-CLS-10 (cls-acl10-unprocessed, or its parent).")
]
WebisSeedsOpt = Annotated[int | None, typer.Option(help="Seeds 0..N-1 per experiment (default 5; --quick: 2).")]
WebisTargetsOpt = Annotated[str | None, typer.Option(help="Comma-separated targets (default fr,ja,de; --quick: ja).")]
WebisDomainsOpt = Annotated[
    str | None, typer.Option(help="Comma-separated domains (default books,dvd,music; --quick: books).")
]
PairSeedsOpt = Annotated[int | None, typer.Option(help="Seeds 0..N-1 per target (default 5; --quick: 2).")]
GridMethodsOpt = Annotated[
    str, typer.Option(help="Comma-separated methods (as for table1). logreg-target and logreg-pooled are always added.")
]
FileColumnsOpt = Annotated[
    str | None, typer.Option(help="For files: text=COL,label=COL[,text_pair=COL][,language=COL][,split=COL].")
]
FileLabelsOpt = Annotated[str | None, typer.Option(help="For files: RAW=LABEL,... (RAW= drops the record).")]
FileLanguageOpt = Annotated[str | None, typer.Option(help="For files without a language column: their language.")]
FileDomainOpt = Annotated[str | None, typer.Option(help="For files with a domain column: the domain used.")]
AmazonPresetOpt = Annotated[str | None, typer.Option(help="Named preset (default amazon).")]
ExecutorOpt = Annotated[
    str,
    typer.Option(
        help="Where the (experiment, seed) groups run: local (this machine; see --workers) or ray (a Ray cluster; see --address)."
    ),
]
WorkersOpt = Annotated[
    int,
    typer.Option(
        help="--executor local: worker processes training groups in parallel after one embedding phase (default 1: this process)."
    ),
]
AddressOpt = Annotated[
    str | None, typer.Option(help="--executor ray: the cluster's address (default: start a local one).")
]
ThreadsOpt = Annotated[
    int,
    typer.Option(
        help="Torch CPU threads while training (embedding keeps torch's default): "
        "the classifiers are small, and one thread is as fast and does not "
        "stall when other processes share the cores."
    ),
]


def _split(text: str | None) -> list[str]:
    return [t.strip() for t in (text or "").split(",") if t.strip()]


def _floats(text: str | None, what: str) -> tuple[float, ...] | None:
    from mgl.errors import ConfigError

    if text is None:
        return None
    try:
        values = tuple(float(t) for t in _split(text))
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{what} is empty")
    return values


def _baseline_options(baseline_lrs: str | None, baseline_wds: str | None, quick: bool):
    """The neural baselines' tuning grid: the command line's, else the quick or the full default."""
    from mgl.baselines import BaselineOptions

    default = BaselineOptions()
    return BaselineOptions(
        lrs=_floats(baseline_lrs, "--baseline-lrs") or (QUICK_LRS if quick else default.lrs),
        weight_decays=_floats(baseline_wds, "--baseline-wds") or (QUICK_WDS if quick else default.weight_decays),
    ).validate()


def _check_threads(threads: int) -> None:
    from mgl.errors import ConfigError

    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")


def _n_seeds(seeds: int | None, quick: bool) -> int:
    """Seeds per experiment: the command line's, else 2 with --quick and 5 otherwise."""
    from mgl.errors import ConfigError

    n_seeds = seeds if seeds is not None else (2 if quick else 5)
    if n_seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {n_seeds}")
    return n_seeds


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
            "mgl,mix,logreg-pooled). logreg-target and logreg-pooled are always added."
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
    from mgl.grid import REFERENCE_METHODS, check_methods, table1_spec

    cfg = _webis_config(what="table1", root=root, quick=quick, device=device, preset=preset, config=config, set_=set_)
    method_list = check_methods([*REFERENCE_METHODS, *_split(methods)])
    options = _baseline_options(baseline_lrs, baseline_wds, quick)
    seed_list, experiments = _grid_plan(
        cfg, quick=quick, seeds=seeds, targets=targets, domains=domains, threads=threads
    )
    _run_table(
        "table1",
        table1_spec,
        cfg,
        options,
        method_list,
        experiments,
        len(seed_list),
        out=out,
        quick=quick,
        threads=threads,
        quiet=quiet,
        executor=_executor(executor, workers, address, cfg),
    )


def _executor(name: str, workers: int, address: str | None, cfg):
    """The executor of the command line's --executor, --workers and --address (a GPU per Ray task on CUDA)."""
    from mgl.grid.executors import make_executor

    device = (cfg.encoder.device or "").lower()
    gpus = 1 if device.startswith("cuda") or ((not device or device == "auto") and _cuda_available()) else 0
    return make_executor(name, workers=workers, address=address, gpus_per_task=gpus)


def _cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


def _run_table(
    table: str,
    spec_of,
    cfg,
    options,
    method_list,
    experiments,
    n_seeds: int,
    *,
    out,
    quick: bool,
    threads: int,
    quiet: bool,
    annotate=None,
    executor=None,
) -> None:
    """Run (or resume) a grid's cells, then write and print its table (``spec_of(methods, experiments)``).

    ``options``: the baselines' settings (part of the fingerprint), or None for a grid of MGL
    variants only. ``annotate``: see :meth:`mgl.grid.job.GridPlan.run`.
    """
    from mgl.grid import GridPlan

    plan = GridPlan(table, cfg, options, method_list, experiments, n_seeds, out=out, quick=quick)
    report, records, paths = plan.run(spec_of, threads=threads, quiet=quiet, annotate=annotate, executor=executor)
    typer.echo(
        f"{len(report.computed)} cell(s) computed, {len(report.skipped)} already done; "
        f"{len(records)}/{len(plan.cells)} in the table"
    )
    typer.echo(paths["md"].read_text(encoding="utf-8"))
    typer.echo(f"wrote {paths['md']}, {paths['csv']}, {paths['json']}")


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

    from mgl.errors import ConfigError, DataError
    from mgl.grid import CellStore, Experiment, grid_spec, make_cells, write_tables

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
        from mgl.config import RunConfig
        from mgl.grid.ensembles import derive_ensemble

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


TABLE2_QUICK_OVERRIDES = [
    "data.max_per_class=20",
    "encoder.max_length=64",
    "mgl.n_query=32",
    "mgl.train_episodes=10",
    "mgl.max_rounds=3",
    "mgl.patience=2",
    "mgl.test_episodes=2",
    "mgl.eval_times=2",
    "mgl.lr=1e-3",
]
"""``table2 --quick``: the smoke-test scale of ``table1 --quick`` for text pairs (20 pairs per language,
split and class; 64 tokens per pair; R = 32 so that 20 pairs per class can fill a query set)."""


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
    from mgl.grid import table2_spec

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
    from mgl.config import load_config
    from mgl.errors import ConfigError
    from mgl.grid import REFERENCE_METHODS, check_methods, table2_experiments

    _check_threads(threads)
    if pairs is None:
        pairs = preset == "search-relevance"
    items = (list(TABLE2_QUICK_OVERRIDES) if pairs else list(QUICK_OVERRIDES)) if quick else []
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
    cfg = load_config(preset, config, [*items, *(set_ or [])])
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
    method_list = check_methods([*REFERENCE_METHODS, *_split(methods)])
    options = _baseline_options(baseline_lrs, baseline_wds, quick)
    # the experiments' own fields (target, sources) are set per cell; check the rest now
    cfg.data.target, cfg.data.sources = experiments[0].target, list(experiments[0].sources)
    cfg.validate()
    _run_table(
        table,
        spec_of,
        cfg,
        options,
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
    from mgl.data.tabular import parse_columns
    from mgl.grid import table1_spec, table2_spec

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


def _webis_config(*, what: str, root, quick: bool, device, preset, config, set_, quick_extra=()):
    """The run configuration of a Webis-CLS-10 grid (ablation, proportion): preset, --quick, --root, --set."""
    from mgl.config import load_config
    from mgl.errors import ConfigError

    items = [*QUICK_OVERRIDES, *quick_extra] if quick else []
    if root is not None:
        items.append(f"data.root={root}")
    if device is not None:
        items.append(f"encoder.device={device}")
    cfg = load_config(preset, config, [*items, *(set_ or [])])
    if cfg.data.root is None:
        raise ConfigError("no data folder: give --root (the folder holding cls-acl10-unprocessed)")
    if cfg.data.name.lower() != "webis-cls-10":
        raise ConfigError(f"{what} runs on webis-cls-10, not {cfg.data.name!r}")
    return cfg


def _grid_plan(cfg, *, quick: bool, seeds, targets, domains, threads: int):
    """Seeds, experiments (each target on each domain, the other languages as sources), checked config."""
    from mgl.grid import LANGUAGES, table1_experiments

    _check_threads(threads)
    n_seeds = _n_seeds(seeds, quick)
    target_list = _split(targets) or (["ja"] if quick else ["fr", "ja", "de"])
    domain_list = _split(domains) or (["books"] if quick else ["books", "dvd", "music"])
    experiments = table1_experiments(target_list, domain_list)
    cfg.data.target, cfg.data.sources = target_list[0], [lang for lang in LANGUAGES if lang != target_list[0]]
    cfg.validate()
    return list(range(n_seeds)), experiments


ABLATION_DEFAULT = ",".join(ABLATION_METHODS)
ABLATION_QUICK_EXTRA = ["mgl.n_query=16"]
"""``ablation --quick`` on top of :data:`QUICK_OVERRIDES`: a within-language ("w/o L2CLT") episode takes
its queries from the support's own language, N x M + R/|Y| = 5 x 2 + 8 = 18 of each class, which the
20 instances per class of the quick scale can give (with R = 32 it would need 26)."""


@app.command("ablation")
def ablation(
    root: WebisRootOpt = None,
    out: Annotated[Path, typer.Option(help="Output folder: cells/, grid.json, table3.{json,csv,md}.")] = Path(
        "runs/table3"
    ),
    seeds: WebisSeedsOpt = None,
    methods: Annotated[
        str,
        typer.Option(
            help="Comma-separated MGL variants (the first row, mgl, is the reference): "
            "mgl, mgl-no-meta, mgl-no-l2clt, mgl-no-sigma, mgl-gcnN."
        ),
    ] = ABLATION_DEFAULT,
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
    device: DeviceOpt = None,
    threads: ThreadsOpt = 1,
    executor: ExecutorOpt = "local",
    workers: WorkersOpt = 1,
    address: AddressOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The paper's Table 3: MGL and its ablations (w/o Meta, w/o L2CLT, w/o sigma, 1/3/4 GCN layers).

    The same 9 experiments as Table 1 (FR, JA, DE x books, dvd, music), N seeds; per target
    the accuracy averaged over its domains, the overall average, the difference to the full
    model and a one-sided paired t-test of the full model against each row. Resumable like
    table1 (finished cells in OUT/cells/ are skipped). Writes OUT/table3.{json,csv,md}.
    """
    from mgl.errors import ConfigError
    from mgl.grid import ablation_notes, ablation_spec, ablation_tests, check_methods, is_mgl

    cfg = _webis_config(
        what="the ablation table",
        root=root,
        quick=quick,
        device=device,
        preset=preset,
        config=config,
        set_=set_,
        quick_extra=ABLATION_QUICK_EXTRA,
    )
    method_list = check_methods(["mgl", *_split(methods)])
    bad = [m for m in method_list if not is_mgl(m)]
    if bad:
        raise ConfigError(f"the ablation table takes MGL variants only, not {', '.join(bad)}")
    seed_list, experiments = _grid_plan(
        cfg, quick=quick, seeds=seeds, targets=targets, domains=domains, threads=threads
    )

    def annotate(records, spec) -> dict:
        tests = ablation_tests(records, spec)
        spec.notes.extend(ablation_notes(tests, spec))
        return {"tests_against_full_model": tests}

    _run_table(
        "table3",
        ablation_spec,
        cfg,
        None,
        method_list,
        experiments,
        len(seed_list),
        out=out,
        quick=quick,
        threads=threads,
        quiet=quiet,
        annotate=annotate,
        executor=_executor(executor, workers, address, cfg),
    )


PROPORTION_DEFAULT = ",".join(PROPORTION_METHODS)


@app.command("proportion")
def proportion(
    root: WebisRootOpt = None,
    out: Annotated[
        Path,
        typer.Option(
            help="Output folder: fraction-F/ (cells/, grid.json, table1.*) per fraction, "
            "sweep.json, proportion.{json,csv,md,png}."
        ),
    ] = Path("runs/proportion"),
    fractions: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated shares of the target's training labels "
            "kept (default 0.1,0.2,0.5,1.0; --quick: 0.01,0.05)."
        ),
    ] = None,
    seeds: WebisSeedsOpt = None,
    methods: Annotated[str, typer.Option(help="Comma-separated methods (as for table1).")] = PROPORTION_DEFAULT,
    targets: WebisTargetsOpt = None,
    domains: WebisDomainsOpt = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help="A reduced sweep for tests: one target, one domain, 2 seeds, "
            "tiny data, short training, fractions 0.01 and 0.05 (at most "
            "20 labels per class are kept, so larger shares would be equal).",
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
    """The paper's Fig. 5: accuracy against the share of the target's training labels kept.

    For each fraction, a Table 1 grid of the methods (default MGL, Reptile, Mix, Multi-task,
    Fine-tune and the pooled logistic-regression reference) over the 9 experiments and N seeds,
    in its own folder OUT/fraction-F/ (resumable like table1); then the accuracy averaged over the experiments per fraction:
    OUT/proportion.{json,csv,md} and the line plot OUT/proportion.png.
    """
    from mgl.errors import ConfigError
    from mgl.grid import (
        GridPlan,
        check_methods,
        display_name,
        fraction_dir,
        summarize_proportion,
        table1_spec,
        write_proportion_tables,
    )
    from mgl.io import write_json_atomic
    from mgl.plots import plot_proportion

    cfg = _webis_config(
        what="the proportion sweep", root=root, quick=quick, device=device, preset=preset, config=config, set_=set_
    )
    fraction_list = sorted(set(_floats(fractions, "--fractions") or ((0.01, 0.05) if quick else (0.1, 0.2, 0.5, 1.0))))
    for f in fraction_list:
        if not 0.0 < f <= 1.0:
            raise ConfigError(f"--fractions must be in (0, 1], got {f:g}")
    method_list = check_methods(_split(methods))
    options = _baseline_options(baseline_lrs, baseline_wds, quick)
    seed_list, experiments = _grid_plan(
        cfg, quick=quick, seeds=seeds, targets=targets, domains=domains, threads=threads
    )
    cfg.data.target_count = None
    plans = {}  # every fraction's folder is checked before any cell runs
    for f in fraction_list:
        fcfg = cfg.__class__.from_dict(cfg.to_dict())
        fcfg.data.target_fraction = f
        fcfg.validate()
        plans[f] = GridPlan(
            "table1",
            fcfg,
            options,
            method_list,
            experiments,
            len(seed_list),
            out=fraction_dir(out, f),
            quick=quick,
            extra_meta={"fraction": f},
        )
    sweep_meta = {
        "sweep": "proportion",
        "fractions": fraction_list,
        "methods": method_list,
        "seeds": seed_list,
        "experiments": plans[fraction_list[0]].meta["experiments"],
        "quick": quick,
        "folders": [plan.out.name for plan in plans.values()],
    }
    write_json_atomic(out / "sweep.json", sweep_meta)
    placement = _executor(executor, workers, address, cfg)
    records_by_fraction, computed, skipped = {}, 0, 0
    for f, plan in plans.items():
        if not quiet:
            typer.echo(f"fraction {f:g}: {plan.out}", err=True)
        done, records_by_fraction[f], _ = plan.run(table1_spec, threads=threads, quiet=quiet, executor=placement)
        computed, skipped = computed + len(done.computed), skipped + len(done.skipped)
    summary = summarize_proportion(records_by_fraction, method_list, experiments)
    paths = write_proportion_tables(
        out, summary, meta=sweep_meta, n_experiments=len(experiments), n_seeds=len(seed_list)
    )
    png = plot_proportion(
        fraction_list,
        {display_name(m): summary["mean"][m] for m in method_list},
        out / "proportion.png",
        errors={display_name(m): summary["std"][m] for m in method_list},
        title=f"Accuracy (mean over {len(experiments)} experiment(s), {len(seed_list)} seed(s))",
        note="bars: ±1 standard deviation over seeds",
    )
    n_total = len(fraction_list) * len(method_list) * len(experiments) * len(seed_list)
    typer.echo(
        f"{computed} cell(s) computed, {skipped} already done; "
        f"{sum(len(r) for r in records_by_fraction.values())}/{n_total} in the table"
    )
    typer.echo(paths["md"].read_text(encoding="utf-8"))
    typer.echo(f"wrote {paths['md']}, {paths['csv']}, {paths['json']}, {png}")
