"""``mgl experiment``: the paper's experiment grids (Table 1), resumable, and their reports."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(help="Experiment grids: many methods x experiments x seeds, resumable, with tables.",
                  no_args_is_help=True)

DEFAULT_METHODS = "target-only,mix,multi-task,fine-tune,reptile,mgl"
QUICK_OVERRIDES = [
    "data.max_per_class=20", "encoder.max_length=128", "mgl.train_episodes=10", "mgl.max_rounds=3",
    "mgl.patience=2", "mgl.test_episodes=2", "mgl.eval_times=2", "mgl.lr=1e-3",
]
"""``--quick``: a smoke-test scale (20 instances per language, split and class; short training, so
MGL steps at 1e-3 rather than its default 1e-4, as the baselines' quick grid uses 1e-3 and 3e-3)."""
QUICK_LRS = (1e-3, 3e-3)
QUICK_WDS = (0.0,)


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


@app.command("table1")
def table1(
    root: Annotated[Optional[str], typer.Option(help="Folder holding Webis-CLS-10 (cls-acl10-unprocessed, or its parent).")] = None,
    out: Annotated[Path, typer.Option(help="Output folder: cells/, grid.json, table1.{json,csv,md}.")] = Path("runs/table1"),
    seeds: Annotated[Optional[int], typer.Option(help="Seeds 0..N-1 per experiment (default 5; --quick: 2).")] = None,
    methods: Annotated[str, typer.Option(help="Comma-separated methods: target-only, mix, multi-task, fine-tune, "
                                              "reptile, mgl and MGL ablations (mgl-no-meta, mgl-no-l2clt, "
                                              "mgl-no-sigma, mgl-gcnN). logreg-target and logreg-pooled are always added.")] = DEFAULT_METHODS,
    targets: Annotated[Optional[str], typer.Option(help="Comma-separated targets (default fr,ja,de; --quick: ja).")] = None,
    domains: Annotated[Optional[str], typer.Option(help="Comma-separated domains (default books,dvd,music; --quick: books).")] = None,
    quick: Annotated[bool, typer.Option("--quick", help="A reduced grid for tests: one target, one domain, 2 seeds, tiny data, short training.")] = False,
    preset: Annotated[Optional[str], typer.Option(help="Named preset (default amazon).")] = "amazon",
    config: Annotated[Optional[Path], typer.Option(help="A YAML configuration file (on top of the preset).")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="Any setting: section.field=value (repeatable).")] = None,
    baseline_lrs: Annotated[Optional[str], typer.Option(help="Learning rates the neural baselines choose from on validation (default 1e-4,3e-4,1e-3,3e-3).")] = None,
    baseline_wds: Annotated[Optional[str], typer.Option(help="Weight decays the neural baselines choose from (default 0,1e-3).")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu, cuda, cuda:N; default: CUDA when present.")] = None,
    threads: Annotated[int, typer.Option(help="Torch CPU threads while training (embedding keeps torch's default): "
                                              "the classifiers are small, and one thread is as fast and does not "
                                              "stall when other processes share the cores.")] = 1,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
) -> None:
    """The paper's Table 1 grid: FR, JA, DE x books, dvd, music (the other languages as sources), N seeds.

    Every finished cell (method, target, domain, seed) is written to OUT/cells/ at once; a
    re-run skips finished cells. Writes OUT/table1.json, table1.csv and table1.md.
    """
    from mgl.baselines import BaselineOptions
    from mgl.config import load_config
    from mgl.errors import ConfigError
    from mgl.grid import (REFERENCE_METHODS, CellRunner, CellStore, check_methods, config_fingerprint, make_cells,
                          run_cells, table1_experiments, table1_spec, write_tables)
    from mgl.io import write_json_atomic

    if threads < 1:
        raise ConfigError(f"--threads must be >= 1, got {threads}")
    items = list(QUICK_OVERRIDES) if quick else []
    if root is not None:
        items.append(f"data.root={root}")
    if device is not None:
        items.append(f"encoder.device={device}")
    cfg = load_config(preset, config, [*items, *(set_ or [])])
    if cfg.data.root is None:
        raise ConfigError("no data folder: give --root (the folder holding cls-acl10-unprocessed)")
    if cfg.data.name.lower() != "webis-cls-10":
        raise ConfigError(f"table1 runs on webis-cls-10, not {cfg.data.name!r}")
    n_seeds = seeds if seeds is not None else (2 if quick else 5)
    if n_seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {n_seeds}")
    target_list = _split(targets) or (["ja"] if quick else ["fr", "ja", "de"])
    domain_list = _split(domains) or (["books"] if quick else ["books", "dvd", "music"])
    method_list = check_methods([*REFERENCE_METHODS, *_split(methods)])
    options = BaselineOptions(
        lrs=_floats(baseline_lrs, "--baseline-lrs") or (QUICK_LRS if quick else BaselineOptions().lrs),
        weight_decays=_floats(baseline_wds, "--baseline-wds") or (QUICK_WDS if quick else BaselineOptions().weight_decays),
    ).validate()
    # the experiments' own fields (target, sources, domain) are set per cell; check the rest now
    cfg.data.target, cfg.data.sources = target_list[0], [lang for lang in ("en", "fr", "de", "ja") if lang != target_list[0]]
    cfg.validate()
    experiments = table1_experiments(target_list, domain_list)
    fingerprint = config_fingerprint(cfg, {"baselines": options.to_dict()})
    seed_list = list(range(n_seeds))
    cells = make_cells(method_list, experiments, seed_list)
    store = CellStore(out, fingerprint)
    grid_meta = {
        "table": "table1", "methods": method_list, "seeds": seed_list,
        "experiments": [{"target": e.target, "domain": e.domain, "sources": list(e.sources)} for e in experiments],
        "fingerprint": fingerprint, "quick": quick, "config": cfg.to_dict(), "baseline_options": options.to_dict(),
    }
    store.records(cells)  # refuses, before anything is written, cells of another configuration in OUT
    write_json_atomic(out / "grid.json", grid_meta)
    runner = CellRunner(cfg, options, progress=not quiet, train_threads=threads)
    report = run_cells(cells, store, runner, progress=not quiet)
    records = store.records(cells)
    spec = table1_spec(method_list, experiments)
    paths = write_tables(out, records, spec, meta=grid_meta, n_seeds=n_seeds)
    typer.echo(f"{len(report.computed)} cell(s) computed, {len(report.skipped)} already done; "
               f"{len(records)}/{len(cells)} in the table")
    typer.echo(paths["md"].read_text(encoding="utf-8"))
    typer.echo(f"wrote {paths['md']}, {paths['csv']}, {paths['json']}")


@app.command("report")
def report(
    out: Annotated[Path, typer.Argument(help="A grid's output folder (holding grid.json and cells/).")],
) -> None:
    """Rebuild a grid's tables from its finished cells (e.g. while it runs, or after a kill)."""
    import json

    from mgl.errors import DataError
    from mgl.grid import CellStore, Experiment, make_cells, table1_spec, write_tables

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
    paths = write_tables(out, records, table1_spec(methods, experiments, name=meta.get("table", "table1")),
                         meta=meta, n_seeds=len(seeds))
    typer.echo(f"{len(records)}/{len(cells)} cells finished")
    typer.echo(paths["md"].read_text(encoding="utf-8"))
