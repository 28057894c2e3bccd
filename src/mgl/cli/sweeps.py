"""``mgl experiment ablation`` and ``mgl experiment proportion``: the Webis-CLS-10 grids of the paper's
Table 3 (MGL's ablations) and Fig. 5 (the share of the target's labels), registered on
:data:`mgl.cli.experiment.app`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mgl.cli.grid_options import (
    AddressOpt,
    AmazonPresetOpt,
    BaselineLrsOpt,
    BaselineWdsOpt,
    ConfigOpt,
    DeviceOpt,
    ExecutorOpt,
    QuietOpt,
    SetOpt,
    ThreadsOpt,
    WebisDomainsOpt,
    WebisRootOpt,
    WebisSeedsOpt,
    WebisTargetsOpt,
    WorkersOpt,
    _baseline_grid,
    _executor,
    _floats,
    _grid_plan,
    _run_table,
    _split,
    _webis_config,
)
from mgl.errors import ConfigError
from mgl.grid import (
    PROPORTION_FRACTIONS,
    GridPlan,
    ablation_notes,
    ablation_spec,
    ablation_tests,
    check_methods,
    display_name,
    fraction_dir,
    is_mgl,
    summarize_proportion,
    table1_spec,
    write_proportion_tables,
)
from mgl.io import write_json_atomic
from mgl.methods import ABLATION_METHODS, PROPORTION_METHODS
from mgl.plots import plot_proportion

ABLATION_DEFAULT = ",".join(ABLATION_METHODS)
QUICK_FRACTIONS = (0.01, 0.05)
"""The proportion sweep's shares of the target's labels with --quick."""


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

    cfg = _webis_config(
        what="the ablation table",
        root=root,
        quick=quick,
        device=device,
        preset=preset,
        config=config,
        set_=set_,
        quick_scale="ablation",
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
        method_list,
        experiments,
        len(seed_list),
        out=out,
        quick=quick,
        baselines=False,
        threads=threads,
        quiet=quiet,
        annotate=annotate,
        executor=_executor(executor, workers, address, cfg),
    )


PROPORTION_DEFAULT = ",".join(PROPORTION_METHODS)


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
            f"kept (default {','.join(map(str, PROPORTION_FRACTIONS))}; --quick: {','.join(map(str, QUICK_FRACTIONS))})."
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

    cfg = _webis_config(
        what="the proportion sweep", root=root, quick=quick, device=device, preset=preset, config=config, set_=set_
    )
    fraction_list = sorted(
        set(_floats(fractions, "--fractions") or (QUICK_FRACTIONS if quick else PROPORTION_FRACTIONS))
    )
    for f in fraction_list:
        if not 0.0 < f <= 1.0:
            raise ConfigError(f"--fractions must be in (0, 1], got {f:g}")
    method_list = check_methods(_split(methods))
    _baseline_grid(cfg, baseline_lrs, baseline_wds, quick)
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
