"""``mgl plot``: figures: the meta-graph map of a trained model (Fig. 4), the proportion sweep (Fig. 5),
a saved model's reliability diagram."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from mgl.data.preparation import prepare_data
from mgl.errors import ConfigError, DataError
from mgl.grid import display_name
from mgl.io import write_json_atomic
from mgl.outputs import check_output_file, expand, record_written
from mgl.plots import plot_graph_map, plot_language_matrix, plot_proportion, plot_reliability

app = typer.Typer(
    help="Figures: the meta-graph map of a trained model, the proportion sweep's line plot.", no_args_is_help=True
)


PLOT_KIND = "plot"
"""The kind a figure and its numbers are recorded under (:func:`mgl.outputs.record_written`)."""
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Replace files at --out that mgl did not write (mgl's own earlier figures are replaced without it).",
    ),
]


def _companions(out: Path) -> tuple[Path, Path]:
    """``FILE.png`` -> (``FILE_languages.png``, ``FILE.json``)."""
    return out.with_name(out.stem + "_languages.png"), out.with_suffix(".json")


def claim_outputs(paths: list[Path], *, overwrite: bool, inputs: Sequence[Path] = ()) -> list[Path]:
    """Every file a plot command writes, checked before any work (:func:`mgl.outputs.check_output_file`)."""

    return [check_output_file(p, kind=PLOT_KIND, overwrite=overwrite, inputs=inputs, option="--out") for p in paths]


def record_outputs(paths: list[Path]) -> None:
    for p in paths:
        record_written(p, PLOT_KIND)


def target_examples(clf, *, data: str | None = None, root: str | None = None) -> list:
    """The target's labelled training instances the model was trained with: the model's data
    configuration (its file or named data set; ``data``/``root`` override where it lies now),
    with the same seeded subsample of the target's labels."""

    cfg = clf.config
    if data is not None:
        cfg.data.name = data
    if root is not None:
        cfg.data.root = root
    cfg.data.sources, cfg.data.target = list(clf.sources), clf.target
    named = cfg.data.name.lower() in ("webis-cls-10", "paws-x")
    if named and cfg.data.root is None:
        raise DataError(f"the model was trained on {cfg.data.name}: give --root (the folder holding it)")
    prepared = prepare_data(cfg.data, cfg.seed)
    examples = [ex for ex in prepared.examples if ex.language == clf.target and ex.split == "train"]
    if not examples:
        raise DataError(
            f"no labelled training instances of the target {clf.target!r}", source=cfg.data.root or cfg.data.name
        )
    return examples


@app.command("graph")
def graph(
    model: Annotated[Path, typer.Option(help="A saved model directory (mgl run --save DIR).")],
    out: Annotated[
        Path, typer.Option(help="The heatmap PNG; FILE_languages.png and FILE.json are written beside it.")
    ] = Path("graph.png"),
    root: Annotated[
        str | None, typer.Option(help="Where the model's data set lies now (default: as when trained).")
    ] = None,
    data: Annotated[
        str | None, typer.Option(help="The model's data file, if it moved (default: as when trained).")
    ] = None,
    k: Annotated[int, typer.Option("--k", help="Neighbours kept per row of the adjacency (the paper's map: 2).")] = 2,
    samples: Annotated[int, typer.Option(help="Draws of one node per (language, class) averaged.")] = 100,
    seed: Annotated[int, typer.Option(help="Seed of the draws.")] = 0,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, cuda:N; default: CUDA when present.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress bars.")] = False,
    overwrite: OverwriteOpt = False,
) -> None:
    """The meta-graph map (the paper's Fig. 4) of a trained model.

    One instance per (language, class) — the sources' from the model's support bank, the
    target's from its labelled training instances (read again from the model's data, the
    same seeded subsample) — K = 2, the normalised adjacency averaged over SAMPLES draws.
    Writes the heatmap (all weights; and the diagonal masked, on its own colour scale),
    the language x language matrix (FILE_languages.png) and the numbers (FILE.json).
    """
    from mgl.model.classifier import Classifier
    from mgl.model.graph_map import classifier_graph_map

    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {out}")
    if k < 1 or samples < 1:
        raise ConfigError(f"--k and --samples must be >= 1, got {k} and {samples}")
    out, lang_png, json_path = claim_outputs([out, *_companions(out)], overwrite=overwrite)
    clf = Classifier.load(model, device=device)
    examples = target_examples(clf, data=data, root=root)
    from mgl.encoders import EmbeddingCache

    clf.embedding_cache = EmbeddingCache()  # the data set's texts: embedded once, kept for later runs
    emb = clf.embed(
        [ex.text for ex in examples],
        [ex.text_pair for ex in examples] if any(ex.text_pair for ex in examples) else None,
        progress=not quiet,
    )
    gm = classifier_graph_map(clf, examples, emb, k=k, samples=samples, seed=seed, progress=not quiet)
    subtitle = (
        f"{'+'.join(s.upper() for s in clf.sources)} → {(clf.target or '?').upper()}; K = {k}; "
        f"mean of {samples} draws of one instance per language and class"
    )
    plot_graph_map(gm.mean, gm.nodes, out, title="Meta graph Ã", subtitle=subtitle)
    plot_language_matrix(gm.language_matrix, gm.languages, lang_png)
    write_json_atomic(
        json_path,
        {
            "model": str(model),
            "sources": clf.sources,
            "target": clf.target,
            "seed": seed,
            "n_target_instances": len(examples),
            **gm.to_dict(),
        },
    )
    s = gm.summary()
    typer.echo(
        f"diagonal share of the weight {s['diagonal_share']:.3f} (mean self-loop {s['diagonal_mean']:.3g}, "
        f"mean off-diagonal {s['off_diagonal_mean']:.3g}, largest {s['off_diagonal_max']:.3g})"
        + ("; the graph is close to the identity (self-loops only)" if s["near_identity"] else "")
    )
    record_outputs([out, lang_png, json_path])
    typer.echo(f"wrote {out}, {lang_png}, {json_path}")


@app.command("proportion")
def proportion(
    sweep: Annotated[
        Path, typer.Argument(help="The output folder of 'mgl experiment proportion' (holding proportion.json).")
    ],
    out: Annotated[Path | None, typer.Option(help="The PNG (default SWEEP/proportion.png).")] = None,
    overwrite: OverwriteOpt = False,
) -> None:
    """Redraw the proportion sweep's line plot from its proportion.json."""
    import json

    path = sweep / "proportion.json"
    default_out = out is None
    (png_path,) = claim_outputs(
        [out or sweep / "proportion.png"], overwrite=overwrite or default_out
    )  # the sweep's own figure, redrawn
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))["summary"]
        fractions, methods = summary["fractions"], summary["methods"]
        means, stds = summary["mean"], summary["std"]
    except FileNotFoundError:
        raise DataError("no proportion.json here: not a proportion sweep's folder", source=sweep) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DataError(f"not a readable proportion summary ({exc})", source=path) from None
    png = plot_proportion(
        fractions,
        {display_name(m): means[m] for m in methods},
        png_path,
        errors={display_name(m): stds[m] for m in methods},
        note="bars: ±1 standard deviation over seeds",
    )
    record_outputs([png_path])
    typer.echo(f"wrote {png}")


@app.command("reliability")
def reliability(
    model: Annotated[Path, typer.Option(help="A saved model directory (mgl train --save DIR).")],
    out: Annotated[Path, typer.Option(help="The PNG; FILE.json is written beside it.")] = Path("reliability.png"),
    overwrite: OverwriteOpt = False,
) -> None:
    """The model's reliability diagram, before and after its temperature scaling, on the target's
    validation rows (and test rows where it had them), from the bins its training recorded."""
    if out.suffix.lower() != ".png":
        raise ConfigError(f"--out must name a .png file, got {out}")
    from mgl.model.saving import model_description

    model = expand(model)
    path = model / "mgl_model.json"
    out, json_out = claim_outputs([out, out.with_suffix(".json")], overwrite=overwrite)
    meta = model_description(model)  # the one loader's checks: checksums, format
    if not isinstance(meta.get("report") or {}, dict):
        raise DataError("not an mgl model's description (its report is not a JSON object)", source=path)
    cal = (meta.get("report") or {}).get("calibration") or {}
    bins = cal.get("reliability")
    if not bins:
        raise DataError(
            "the model holds no calibration bins (saved by an mgl before calibration, or "
            "without validation rows): train it again",
            source=path,
        )
    names = {
        "validation_before": "validation, before",
        "validation_after": f"validation, T = {cal['temperature']:.2f}",
        "test_before": "test, before",
        "test_after": f"test, T = {cal['temperature']:.2f}",
    }
    png = plot_reliability(
        {names[k]: v for k, v in bins.items() if k in names},
        out,
        title=f"{meta.get('method', 'mgl')}: {'+'.join(meta.get('sources', []))} -> {meta.get('target')}",
    )
    write_json_atomic(json_out, dict(cal.items()))
    record_outputs([out, json_out])
    ece = ", ".join(f"{k.replace('ece_', '')} {v:.4f}" for k, v in cal.items() if k.startswith("ece_"))
    typer.echo(f"wrote {png} and {json_out} (expected calibration error: {ece})")
