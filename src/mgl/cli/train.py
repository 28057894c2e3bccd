"""``mgl run``: train and evaluate one experiment."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from mgl.config import RunConfig, load_config
from mgl.data.registry import DATA_HELP
from mgl.errors import MGLError
from mgl.io import write_json_atomic
from mgl.outputs import (
    check_free_space,
    check_model_destination,
    check_output_file,
    check_writable_folder,
    expand,
    folders_kept_on_success,
    record_written,
    written_by_mgl,
)
from mgl.run import run_experiment

RESULT_KIND = "run-result"
"""The kind ``result.json`` is recorded under (:func:`mgl.outputs.record_written`)."""
MIN_FREE_BYTES = 16 << 20
"""Free space a model folder's file system needs before training (a frozen encoder's model is a few MB;
a full disk fails here, before the work, rather than at the end)."""

PresetOpt = Annotated[str | None, typer.Option("--preset", help="Named preset: amazon or search-relevance.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="A YAML configuration file (on top of the preset).")]


DEFAULT_CONFIG = RunConfig()
"""The configuration a run starts from when no --preset or --config is given."""
#: Each training option and the setting it sets: ``build_run_config`` applies them, and ``--help``
#: shows the default configuration's value of each (one source for both).
OPTION_SETTINGS: dict[str, str] = {
    "data": "data.name",
    "root": "data.root",
    "domain": "data.domain",
    "sources": "data.sources",
    "target": "data.target",
    "target_fraction": "data.target_fraction",
    "target_count": "data.target_count",
    "columns": "data.columns",
    "labels": "data.labels",
    "language": "data.language",
    "encoding": "data.encoding",
    "unlabelled": "data.unlabelled",
    "validation_fraction": "data.validation_fraction",
    "seed": "seed",
    "method": "method",
    "members": "members",
    "encoder": "encoder.model",
    "encoder_train": "encoder.train",
    "top_layers": "encoder.top_layers",
    "pooling_head": "encoder.pooling_head",
    "device": "encoder.device",
    "gcn_layers": "mgl.gcn_layers",
    "n_support": "mgl.n_support",
    "n_query": "mgl.n_query",
    "k_neighbours": "mgl.k_neighbours",
    "train_episodes": "mgl.train_episodes",
    "test_episodes": "mgl.test_episodes",
    "eval_times": "mgl.eval_times",
    "lr": "mgl.lr",
    "max_rounds": "mgl.max_rounds",
    "patience": "mgl.patience",
}


def preset_default(option: str) -> str:
    """The default configuration's value of an option's setting, as ``--help`` shows it."""
    section, _, name = OPTION_SETTINGS[option].rpartition(".")
    value = getattr(getattr(DEFAULT_CONFIG, section) if section else DEFAULT_CONFIG, name)
    if value is None:
        return {"method": "ensemble", "encoder.device": "CUDA when present, else CPU"}.get(
            OPTION_SETTINGS[option], "none"
        )
    return ",".join(map(str, value)) if isinstance(value, list) else str(value)


def build_run_config(
    *,
    preset,
    config,
    overrides,
    options: dict,
    no_meta: bool = False,
    no_l2clt: bool = False,
    no_sigma: bool = False,
) -> RunConfig:
    """The preset, then the config file, then the explicit options (``options``: the command's
    parameters by name; those of :data:`OPTION_SETTINGS` that were given set their settings), then
    ``--set`` overrides. It is validated once, by the run (:meth:`mgl.model.Classifier.checked_config`)."""
    items: list[str] = []
    if options.get("target_count") is not None:
        items.append("data.target_fraction=")  # a count replaces the fraction
    for option, key in OPTION_SETTINGS.items():
        if options.get(option) is not None:
            items.append(f"{key}={options[option]}")
    for given, setting in ((no_meta, "mgl.meta_train"), (no_l2clt, "mgl.l2clt"), (no_sigma, "mgl.learn_sigma")):
        if given:
            items.append(f"{setting}=false")
    return load_config(preset, config, [*items, *(overrides or [])])


def print_result(result: dict) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=f"{result['method']}: {'+'.join(result['sources'])} -> {result['target']}"
        + (f" ({result['domain']})" if result.get("domain") else "")
    )
    for col in ("seed", "accuracy", "precision", "recall", "f1", "n_test", "train s"):
        table.add_column(col, justify="right")

    def fmt(value) -> str:
        return "-" if value is None else f"{value:.4f}"

    table.add_row(
        str(result["seed"]),
        fmt(result["accuracy"]),
        fmt(result["precision"]),
        fmt(result["recall"]),
        fmt(result["f1"]),
        str(result["n_test"]),
        f"{result['train_seconds']:.1f}",
    )
    Console(stderr=False).print(table)
    if not result.get("evaluated", True):
        print(f"mgl: {result.get('note', 'nothing was evaluated')}", file=sys.stderr)


def run(
    ctx: typer.Context,
    preset: PresetOpt = None,
    config: ConfigOpt = None,
    method: Annotated[
        str | None,
        typer.Option(
            show_default=preset_default("method"),
            help="What to train: ensemble (default: the mean of its members' probabilities), mgl (the paper's method alone; its ablation flags and --set mgl.* apply to MGL wherever it runs), mix, multi-task, fine-tune, reptile, target-only, logreg-pooled, logreg-target, logreg-chars, setfit or setfit-pooled (SetFit through its own library: the extra setfit), or an MGL variant (mgl-no-meta, mgl-gcn3, ...).",
        ),
    ] = None,
    members: Annotated[
        str | None,
        typer.Option(
            show_default=preset_default("members"),
            help="The ensemble's members, comma-separated.",
        ),
    ] = None,
    data: Annotated[str | None, typer.Option(show_default=preset_default("data"), help=DATA_HELP)] = None,
    root: Annotated[
        str | None,
        typer.Option(
            show_default=preset_default("root"), help="Folder holding the data set (or the data file's folder)."
        ),
    ] = None,
    domain: Annotated[
        str | None,
        typer.Option(show_default=preset_default("domain"), help="Domain (webis-cls-10: books, dvd, music)."),
    ] = None,
    sources: Annotated[
        str | None,
        typer.Option(show_default=preset_default("sources"), help="Comma-separated source languages, e.g. en,fr,de."),
    ] = None,
    target: Annotated[
        str | None, typer.Option(show_default=preset_default("target"), help="Target language, e.g. ja.")
    ] = None,
    target_fraction: Annotated[
        float | None,
        typer.Option(
            show_default=preset_default("target_fraction"),
            help="Share of the target's training labels kept (0: zero-shot, from the sources alone).",
        ),
    ] = None,
    target_count: Annotated[
        int | None,
        typer.Option(
            show_default=preset_default("target_count"),
            help="Number of target training labels kept (instead of a fraction; 0: zero-shot).",
        ),
    ] = None,
    seed: Annotated[
        int | None,
        typer.Option(
            show_default=preset_default("seed"), help="Random seed (episodes, initialisation, target subsample)."
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="Output folder: result.json is written there atomically.")] = Path(
        "runs/latest"
    ),
    encoder: Annotated[
        str | None,
        typer.Option(
            show_default=preset_default("encoder"),
            help="Encoder: hub name, local folder, or multilingual-e5-small (embedded default).",
        ),
    ] = None,
    encoder_train: Annotated[
        str | None,
        typer.Option(
            show_default=preset_default("encoder_train"),
            help="none (frozen, cached embeddings), top-k (the top layers, trained over cached lower-layer states; --set encoder.prefix_cache=false runs the whole encoder) or all.",
        ),
    ] = None,
    top_layers: Annotated[
        int | None,
        typer.Option(show_default=preset_default("top_layers"), help="Layers trained with --encoder-train top-k."),
    ] = None,
    pooling_head: Annotated[
        str | None,
        typer.Option(
            show_default=preset_default("pooling_head"),
            help="none (the encoder's mean pooling) or attention: a trainable pooling over the frozen encoder's cached final token states, starting as mean pooling, trained with the model (--set encoder.pooling_queries=Q, encoder.pooling_lr=LR).",
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option(show_default=preset_default("device"), help="cpu, cuda, cuda:N; default: CUDA when present."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            show_default=preset_default("columns"),
            help="For files: text=COL,label=COL[,text_pair=COL][,language=COL][,split=COL].",
        ),
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            show_default=preset_default("encoding"),
            help="For text files: their encoding (default: UTF-8, or UTF-16 detected by its byte-order mark).",
        ),
    ] = None,
    unlabelled: Annotated[
        str | None,
        typer.Option(
            metavar="FILE",
            show_default=preset_default("unlabelled"),
            help="Unlabelled target texts (a 'text' column, or .txt with one per line); rows of --data with an "
            "empty label are unlabelled texts too.",
        ),
    ] = None,
    validation_fraction: Annotated[
        float | None,
        typer.Option(
            show_default=preset_default("validation_fraction"),
            help="Share of a language's training rows carved out as validation where it has none (0: none).",
        ),
    ] = None,
    labels: Annotated[
        str | None,
        typer.Option(show_default=preset_default("labels"), help="For files: RAW=LABEL,... (RAW= drops the record)."),
    ] = None,
    language: Annotated[
        str | None,
        typer.Option(
            show_default=preset_default("language"), help="For files without a language column: their language."
        ),
    ] = None,
    no_meta: Annotated[bool, typer.Option("--no-meta", help="Ablation: skip the meta-train stage.")] = False,
    no_l2clt: Annotated[
        bool, typer.Option("--no-l2clt", help="Ablation: meta-train tasks within one language.")
    ] = False,
    no_sigma: Annotated[bool, typer.Option("--no-sigma", help="Ablation: sigma fixed to 1.")] = False,
    gcn_layers: Annotated[
        int | None, typer.Option(show_default=preset_default("gcn_layers"), help="GCN depth.")
    ] = None,
    n_support: Annotated[
        int | None,
        typer.Option(show_default=preset_default("n_support"), help="N: support instances per class and language."),
    ] = None,
    n_query: Annotated[
        int | None, typer.Option(show_default=preset_default("n_query"), help="R: query instances per episode.")
    ] = None,
    k_neighbours: Annotated[
        int | None,
        typer.Option(
            "--k", "--k-neighbours", show_default=preset_default("k_neighbours"), help="K: neighbours kept per row."
        ),
    ] = None,
    train_episodes: Annotated[
        int | None,
        typer.Option(show_default=preset_default("train_episodes"), help="Training episodes (steps) per round."),
    ] = None,
    test_episodes: Annotated[
        int | None, typer.Option(show_default=preset_default("test_episodes"), help="Validation episodes per check.")
    ] = None,
    eval_times: Annotated[
        int | None,
        typer.Option(show_default=preset_default("eval_times"), help="Support sets per query batch at evaluation."),
    ] = None,
    lr: Annotated[
        float | None, typer.Option(show_default=preset_default("lr"), help="Learning rate of the meta graph and GCN.")
    ] = None,
    max_rounds: Annotated[
        int | None, typer.Option(show_default=preset_default("max_rounds"), help="Most rounds per stage.")
    ] = None,
    patience: Annotated[
        int | None,
        typer.Option(show_default=preset_default("patience"), help="Rounds without improvement before stopping."),
    ] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="Any setting: section.field=value (repeatable).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    save: Annotated[
        Path | None,
        typer.Option(
            help="Also save the trained model to this directory (missing or empty; an existing mgl model only with --overwrite)."
        ),
    ] = None,
    no_support_texts: Annotated[
        bool,
        typer.Option(
            "--no-support-texts",
            help="--save keeps the support examples' ids and labels, not their texts (the model card says which).",
        ),
    ] = False,
    overwrite: Annotated[
        bool,
        typer.Option(
            "--overwrite",
            help="--save may replace the mgl model in that folder (never a folder holding anything else, nor a model edited since it was saved); --out may replace a result.json or checkpoint.pt mgl did not write.",
        ),
    ] = False,
    discard_edits: Annotated[
        bool,
        typer.Option(
            "--discard-edits",
            help="With --overwrite: replace a saved model even where its card or files were edited since it was saved.",
        ),
    ] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue from OUT/checkpoint.pt if a killed run left one.")
    ] = False,
) -> None:
    """Train a classifier (default: the ensemble; --method mgl for MGL alone) on one cross-lingual
    experiment, evaluate on the target's test split, write result.json."""

    cfg = build_run_config(
        preset=preset,
        config=config,
        overrides=set_,
        options=ctx.params,
        no_meta=no_meta,
        no_l2clt=no_l2clt,
        no_sigma=no_sigma,
    )
    from mgl.model.checkpoint import CHECKPOINT_KIND

    out_given, out = out, expand(out)  # '~' expanded once, and used as expanded
    result_path, checkpoint = out / "result.json", out / "checkpoint.pt"
    # every refusal before any work: nothing is found only at the end
    if save is not None:
        saved = check_model_destination(save, overwrite=overwrite, discard_edits=discard_edits)
        out_abs = out.absolute().resolve()
        if out_abs == saved or saved in out_abs.parents:
            raise MGLError(
                "--out names the --save folder (or a folder inside it): a model folder holds the "
                "model alone; give --out another folder",
                source=out_given,
            )
        check_free_space(saved.parent, MIN_FREE_BYTES, what="model", given=save)
    check_writable_folder(out, what="--out folder", given=out_given, create=False)
    check_free_space(out, MIN_FREE_BYTES // 16, what="--out folder's result and checkpoint", given=out_given)
    with folders_kept_on_success(out):  # a run that fails leaves no empty --out folder behind
        check_writable_folder(out, what="--out folder", given=out_given)
        check_output_file(result_path, kind=RESULT_KIND, overwrite=overwrite, option="--out's result.json")
        if checkpoint.exists() and not resume and not overwrite and not written_by_mgl(checkpoint, CHECKPOINT_KIND):
            raise MGLError(
                "--out holds a checkpoint.pt that mgl did not write (or that changed since); give --resume "
                "to continue from it, --overwrite to replace it, or another --out",
                source=out_given,
            )
        # 'mgl train' may train a target that has no test rows (nothing is then evaluated); 'mgl run' reports
        # test metrics, so it needs them
        training_only = ctx.info_name == "train"
        result = run_experiment(
            cfg,
            progress=not quiet,
            save_dir=save,
            checkpoint_path=checkpoint,
            resume=resume,
            require_test=not training_only,
            overwrite=overwrite,
            support_texts=not no_support_texts,
            discard_edits=discard_edits,
            save_checked=True,
        )
        from mgl import distributed

        if not distributed.is_main_process():  # under accelerate launch: one record, written by the main process
            distributed.finish()
            return
        write_json_atomic(result_path, result)
        record_written(result_path, RESULT_KIND)
        if written_by_mgl(checkpoint, CHECKPOINT_KIND):  # the run is complete: its own checkpoint goes
            checkpoint.unlink(missing_ok=True)
        print_result(result)
        typer.echo(f"wrote {result_path}" + (f"; model saved to {expand(save)}" if save else ""))
        distributed.finish()  # every process ends together (launched runs; nothing otherwise)


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("train", help="The same as 'mgl run'; give --save DIR to keep the trained model for 'mgl predict'.")(
        run
    )
