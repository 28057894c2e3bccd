"""Writing a grid's results: Markdown (one renderer for every :class:`~mgl.grid.specs.TableSpec`), CSV and JSON.

The Markdown is joined here rather than by pandas' ``to_markdown``: that needs ``tabulate`` (a new
dependency) and aligns and formats cells its own way, where these tables carry means ± deviations,
bold winners and reference columns laid out as the committed pages show them.
"""

from __future__ import annotations

import copy
import csv
import io
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from mgl.grid.specs import TableSpec
from mgl.grid.stats import summarize
from mgl.io import write_json_atomic, write_text_atomic
from mgl.methods import display_name


def _fmt(value: float | None, digits: int = 2, sign: bool = False) -> str:
    if value is None:
        return "–"
    return f"{value:+.{digits}f}" if sign else f"{value:.{digits}f}"


def render_markdown(summary: dict[str, Any], spec: TableSpec, *, n_seeds: int | None = None) -> str:
    """The table as Markdown: rows = methods, the delta column, daggers, then significance and spread."""
    cells, sig = summary["cells"], summary["significance"]
    last = spec.columns[-1].label if spec.columns else None
    has_delta = spec.delta and spec.reference in spec.methods and last is not None
    header = ["Method", *[c.label for c in spec.columns]] + (
        [f"Δ vs {display_name(spec.reference)}"] if has_delta else []
    )
    lines = [
        f"## {spec.title}",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|",
    ]
    ref_last = cells.get(spec.reference, {}).get(last, {}).get("mean") if has_delta else None
    for method in spec.methods:
        row = [display_name(method)]
        for col in spec.columns:
            text = _fmt(cells[method][col.label]["mean"])
            if method == spec.reference and sig.get(col.label, {}).get("significant"):
                text += "†"
            row.append(text)
        if has_delta:
            mine = cells[method][last]["mean"]
            if method == spec.reference or mine is None or ref_last is None:
                row.append("–")
            else:
                row.append(_fmt(mine - ref_last, sign=True))
        lines.append("| " + " | ".join(row) + " |")
    lines.append("")
    seeds_text = f"{n_seeds} seeds" if n_seeds is not None else "the seeds"
    lines.append(
        f"{spec.metric_label or spec.metric.capitalize()} × {spec.scale:g}, mean over {seeds_text} (each seed also draws the "
        f"target's labelled subsample); – : not computed."
    )
    if has_delta:
        lines.append(f"Δ: the row's {last} minus {display_name(spec.reference)}'s, in points.")
    if spec.significance:
        lines.append(
            f"†: {display_name(spec.reference)} beats the column's best baseline (the highest non-MGL row) "
            f"in a one-sided paired t-test over seeds (scipy.stats.ttest_rel, alternative='greater'), "
            f"p < {spec.alpha:g}."
        )
    lines.extend(spec.notes)
    if sig:
        lines += [
            "",
            f"### {display_name(spec.reference)} against the best baseline of each column",
            "",
            "| Column | Best baseline | Difference | t | p | seeds |",
            "|---|---|---:|---:|---:|---:|",
        ]
        for label, s in sig.items():
            p_text = "–" if s["p"] is None else f"{s['p']:.2g}"
            lines.append(
                f"| {label} | {display_name(s['best_baseline'])} | {_fmt(s['difference'], sign=True)} | "
                f"{_fmt(s['t'])} | {p_text} | {s['n']} |"
            )
    lines += [
        "",
        "### Standard deviation over seeds",
        "",
        "| " + " | ".join(header[: 1 + len(spec.columns)]) + " |",
        "|" + "|".join(["---"] + ["---:"] * len(spec.columns)) + "|",
    ]
    for method in spec.methods:
        lines.append(
            "| "
            + " | ".join([display_name(method)] + [_fmt(cells[method][c.label]["std"]) for c in spec.columns])
            + " |"
        )
    return "\n".join(lines) + "\n"


CSV_FIELDS = (
    "method",
    "target",
    "domain",
    "sources",
    "seed",
    "accuracy",
    "precision",
    "recall",
    "f1",
    "f1_averaging",
    "n_test",
    "n_train",
    "n_train_target",
    "train_seconds",
    "encoder",
)


def render_csv(records: Sequence[dict]) -> str:
    """One line per record (method, experiment, seed)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow({**r, "sources": "+".join(r.get("sources") or [])})
    return buf.getvalue()


def compact(record: dict) -> dict:
    """A record without the per-round training histories (kept in the cell files)."""
    out = {k: v for k, v in record.items() if k != "details"}
    details = copy.deepcopy(record.get("details") or {})
    for stage in details.get("stages", []):
        stage.pop("history", None)
    out["details"] = details
    return out


def sort_records(records: Iterable[dict], spec: TableSpec) -> list[dict]:
    order = {m: i for i, m in enumerate(spec.methods)}
    return sorted(
        records, key=lambda r: (order.get(r["method"], len(order)), r["target"], r["domain"] or "", int(r["seed"]))
    )


def write_tables(
    out: str | Path,
    records: Sequence[dict],
    spec: TableSpec,
    *,
    meta: dict[str, Any] | None = None,
    n_seeds: int | None = None,
) -> dict[str, Path]:
    """``<name>.json`` (records, summary, significance, meta), ``<name>.csv`` and ``<name>.md``, atomically."""
    out = Path(out)
    records = sort_records(records, spec)
    summary = summarize(records, spec)
    paths = {ext: out / f"{spec.name}.{ext}" for ext in ("json", "csv", "md")}
    write_json_atomic(
        paths["json"],
        {
            "table": spec.name,
            "title": spec.title,
            "metric": spec.metric,
            "scale": spec.scale,
            "methods": spec.methods,
            "columns": [{"label": c.label, "experiments": [list(e) for e in c.experiments]} for c in spec.columns],
            "reference": spec.reference,
            "test": {
                "name": "paired t-test over seeds",
                "function": "scipy.stats.ttest_rel",
                "alternative": "greater",
                "sided": "one-sided",
                "alpha": spec.alpha,
                "against": "the non-MGL row with the highest mean in the column",
            },
            "summary": summary["cells"],
            "significance": summary["significance"],
            "meta": meta or {},
            "records": [compact(r) for r in records],
        },
    )
    write_text_atomic(paths["csv"], render_csv(records))
    write_text_atomic(paths["md"], render_markdown(summary, spec, n_seeds=n_seeds))
    return paths


def fraction_dir(out: str | Path, fraction: float) -> Path:
    """The folder of one fraction of a proportion sweep (its own cells/, grid.json and table)."""
    return Path(out) / f"fraction-{fraction:g}"


def render_proportion_markdown(summary: dict[str, Any], n_experiments: int, n_seeds: int) -> str:
    """Rows = methods, columns = fractions; MGL's dagger as in Table 1. Then the standard deviations,
    and (where present) MGL against the best other method per target and overall."""
    fractions = summary["fractions"]
    header = ["Method", *[f"{100 * f:g}%" for f in fractions]]
    rule = "|" + "|".join(["---"] + ["---:"] * len(fractions)) + "|"

    def plain_table(values_by_method: dict[str, list]) -> list[str]:
        return ["| " + " | ".join(header) + " |", rule] + [
            "| " + " | ".join([display_name(m)] + [_fmt(v) for v in values_by_method[m]]) + " |"
            for m in summary["methods"]
        ]

    lines = [
        "## Accuracy (%) against the share of the target's training labels",
        "",
        "| " + " | ".join(header) + " |",
        rule,
    ]
    for m in summary["methods"]:
        row = [display_name(m)]
        for i, value in enumerate(summary["mean"][m]):
            sig = summary["significance"][i]
            text = _fmt(value)
            if m == "mgl" and sig and sig.get("significant"):
                text += "†"
            row.append(text)
        lines.append("| " + " | ".join(row) + " |")
    lines += [
        "",
        f"Mean over {n_seeds} seed(s) of the accuracy averaged over {n_experiments} experiment(s); "
        "– : not computed. †: MGL beats the best other method at that share (one-sided paired t-test over "
        "seeds, scipy.stats.ttest_rel, p < 0.01).",
        "",
        "### Standard deviation over seeds",
        "",
    ]
    lines += plain_table(summary["std"])
    by_target = summary.get("by_target") or {}
    if by_target:
        lines += ["", "### Per target (mean over its domains and the seeds)"]
    for target, by_method in by_target.items():
        lines += ["", f"{target.upper()}:", "", *plain_table(by_method)]
    versus = summary.get("versus_best") or {}
    if any(v for col in versus.values() for v in col):
        labels = list(versus)  # the targets, then "Avg"
        lines += [
            "",
            "### MGL minus the best other method (that method; one-sided paired t-test p)",
            "",
            "| Share | " + " | ".join(label.upper() if label != "Avg" else "Avg" for label in labels) + " |",
            "|---|" + "|".join(["---"] * len(labels)) + "|",
        ]
        for i, f in enumerate(fractions):
            row = [f"{100 * f:g}%"]
            for label in labels:
                test = versus[label][i]
                if not test:
                    row.append("–")
                    continue
                p = "–" if test.get("p") is None else f"{test['p']:.2g}"
                row.append(
                    f"{_fmt(test['difference'], sign=True)} ({display_name(test['best_baseline'])}; p {p})"
                    + ("†" if test.get("significant") else "")
                )
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def render_proportion_csv(summary: dict[str, Any]) -> str:
    """One line per (fraction, method): mean, std and number of seeds."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["fraction", "method", "accuracy_mean", "accuracy_std", "seeds"])
    for i, f in enumerate(summary["fractions"]):
        for m in summary["methods"]:
            mean, std = summary["mean"][m][i], summary["std"][m][i]
            writer.writerow(
                [
                    f"{f:g}",
                    m,
                    "" if mean is None else f"{mean:.4f}",
                    "" if std is None else f"{std:.4f}",
                    summary["n"][m][i],
                ]
            )
    return buf.getvalue()


def write_proportion_tables(
    out: str | Path, summary: dict[str, Any], *, meta: dict[str, Any], n_experiments: int, n_seeds: int
) -> dict[str, Path]:
    """``proportion.json`` (summary, meta), ``proportion.csv`` and ``proportion.md``, atomically."""
    out = Path(out)
    paths = {ext: out / f"proportion.{ext}" for ext in ("json", "csv", "md")}
    write_json_atomic(
        paths["json"], {"table": "proportion", "metric": "accuracy", "scale": 100.0, "summary": summary, "meta": meta}
    )
    write_text_atomic(paths["csv"], render_proportion_csv(summary))
    write_text_atomic(paths["md"], render_proportion_markdown(summary, n_experiments, n_seeds))
    return paths


def ablation_notes(tests: dict[str, dict[str, Any]], spec: TableSpec, alpha: float = 0.01) -> list[str]:
    """Markdown lines for :func:`ablation_tests` (appended to the table's notes)."""
    if not tests:
        return []
    label = spec.columns[-1].label
    lines = [
        "",
        f"### {display_name(spec.reference)} against each ablation ({label})",
        "",
        f"One-sided paired t-test over seeds (scipy.stats.ttest_rel, alternative='greater'): is the full model "
        f"better? Difference = full model minus the row, in points; * : p < {alpha:g}.",
        "",
        "| Row | Difference | t | p | seeds |",
        "|---|---:|---:|---:|---:|",
    ]
    for method, t in tests.items():
        p_text = "–" if t["p"] is None else f"{t['p']:.2g}" + ("*" if t["p"] < alpha else "")
        lines.append(
            f"| {display_name(method)} | {_fmt(t['difference'], sign=True)} | {_fmt(t['t'])} | {p_text} | {t['n']} |"
        )
    return lines
