"""What the ``mgl experiment`` grid commands share: their settings for ``--quick``, the options they
declare alike, and the helpers that turn options into a grid run (seeds, baseline grids, executors)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mgl.config import load_config
from mgl.errors import ConfigError
from mgl.grid import LANGUAGES, GridPlan, table1_experiments
from mgl.grid.executors import make_executor
from mgl.methods import PAPER_METHODS

DEFAULT_METHODS = ",".join([*PAPER_METHODS, "ensemble"])
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
    if text is None:
        return None
    try:
        values = tuple(float(t) for t in _split(text))
    except ValueError:
        raise ConfigError(f"{what} must be comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{what} is empty")
    return values


def _baseline_grid(cfg, baseline_lrs: str | None, baseline_wds: str | None, quick: bool) -> None:
    """The neural baselines' tuning grid into ``cfg.baselines``: the command line's, else ``--quick``'s,
    else the configuration's."""
    lrs = _floats(baseline_lrs, "--baseline-lrs") or (QUICK_LRS if quick else None)
    wds = _floats(baseline_wds, "--baseline-wds") or (QUICK_WDS if quick else None)
    if lrs is not None:
        cfg.baselines.lrs = list(lrs)
    if wds is not None:
        cfg.baselines.weight_decays = list(wds)
    cfg.baselines.validate()


def _check_threads(threads: int) -> None:
    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")


def _n_seeds(seeds: int | None, quick: bool) -> int:
    """Seeds per experiment: the command line's, else 2 with --quick and 5 otherwise."""

    n_seeds = seeds if seeds is not None else (2 if quick else 5)
    if n_seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {n_seeds}")
    return n_seeds


def _executor(name: str, workers: int, address: str | None, cfg):
    """The executor of the command line's --executor, --workers and --address (a GPU per Ray task on CUDA)."""

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
    method_list,
    experiments,
    n_seeds: int,
    *,
    out,
    quick: bool,
    baselines: bool = True,
    threads: int,
    quiet: bool,
    annotate=None,
    executor=None,
) -> None:
    """Run (or resume) a grid's cells, then write and print its table (``spec_of(methods, experiments)``).

    ``baselines``: whether the baselines' settings (``cfg.baselines``) are part of the fingerprint (not
    for a grid of MGL variants only). ``annotate``: see :meth:`mgl.grid.job.GridPlan.run`.
    """

    plan = GridPlan(table, cfg, method_list, experiments, n_seeds, out=out, quick=quick, baselines=baselines)
    report, records, paths = plan.run(spec_of, threads=threads, quiet=quiet, annotate=annotate, executor=executor)
    typer.echo(
        f"{len(report.computed)} cell(s) computed, {len(report.skipped)} already done; "
        f"{len(records)}/{len(plan.cells)} in the table"
    )
    typer.echo(paths["md"].read_text(encoding="utf-8"))
    typer.echo(f"wrote {paths['md']}, {paths['csv']}, {paths['json']}")


def _webis_config(*, what: str, root, quick: bool, device, preset, config, set_, quick_scale="text"):
    """The run configuration of a Webis-CLS-10 grid (table1, ablation, proportion): preset, --quick
    (the ``text`` scale, and ``quick_scale`` on top), --root, --set."""

    items = []
    if root is not None:
        items.append(f"data.root={root}")
    if device is not None:
        items.append(f"encoder.device={device}")
    scales = tuple(dict.fromkeys(("text", quick_scale))) if quick else ()
    cfg = load_config(preset, config, [*items, *(set_ or [])], quick=scales)
    if cfg.data.root is None:
        raise ConfigError("no data folder: give --root (the folder holding cls-acl10-unprocessed)")
    if cfg.data.name.lower() != "webis-cls-10":
        raise ConfigError(f"{what} runs on webis-cls-10, not {cfg.data.name!r}")
    return cfg


def _grid_plan(cfg, *, quick: bool, seeds, targets, domains, threads: int):
    """Seeds, experiments (each target on each domain, the other languages as sources), checked config."""

    _check_threads(threads)
    n_seeds = _n_seeds(seeds, quick)
    target_list = _split(targets) or (["ja"] if quick else ["fr", "ja", "de"])
    domain_list = _split(domains) or (["books"] if quick else ["books", "dvd", "music"])
    experiments = table1_experiments(target_list, domain_list)
    cfg.data.target, cfg.data.sources = target_list[0], [lang for lang in LANGUAGES if lang != target_list[0]]
    cfg.validate()
    return list(range(n_seeds)), experiments
