"""Figures (matplotlib, Agg backend: no display needed): the meta-graph map (Fig. 4), its language x
language matrix, and the target-label proportion sweep (Fig. 5).

Every function takes plain arrays (see :mod:`mgl.model.graph_map` for the graph computation), writes
one PNG atomically and returns its path. Each colour bar is labelled with what it shows and its
range, so a reader can read values off the figure; cells are also annotated with their values.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from mgl.io import write_bytes_atomic


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path, dpi: int = 150) -> Path:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    path = Path(path)
    write_bytes_atomic(path, buf.getvalue())
    return path


def _value_format(vmax: float) -> str:
    """Annotations with enough digits for the colour scale: 2 decimals, 3 below 0.1, scientific below 0.01."""
    if vmax < 0.01:
        return "{:.1e}"
    return "{:.3f}" if vmax < 0.1 else "{:.2f}"


def _heatmap(
    ax,
    matrix: np.ndarray,
    rows: Sequence[str],
    cols: Sequence[str],
    *,
    vmin: float,
    vmax: float,
    cmap: str,
    cbar_label: str,
    fmt: str = "{:.2f}",
    masked: np.ndarray | None = None,
):
    plt = _pyplot()
    data = np.ma.masked_array(matrix, mask=masked) if masked is not None else matrix
    cm = plt.get_cmap(cmap).with_extremes(bad="#dddddd")
    im = ax.imshow(data, cmap=cm, vmin=vmin, vmax=vmax)
    ax.set_xticks(range(len(cols)), labels=list(cols))
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.tick_params(top=True, labeltop=True, bottom=False, labelbottom=False)
    if max((len(c) for c in cols), default=0) > 4:  # long names ("EN:neutral") would overlap
        plt.setp(ax.get_xticklabels(), rotation=45, ha="left", rotation_mode="anchor")
    span = vmax - vmin if vmax > vmin else 1.0
    for i in range(matrix.shape[0]):
        for j in range(matrix.shape[1]):
            if masked is not None and masked[i, j]:
                ax.text(j, i, "×", ha="center", va="center", color="#888888", fontsize=8)
                continue
            value = matrix[i, j]
            if not np.isfinite(value):
                continue
            r, g, b, _ = cm(min(max((value - vmin) / span, 0.0), 1.0))
            dark = 0.299 * r + 0.587 * g + 0.114 * b < 0.5  # white text on dark cells
            ax.text(
                j,
                i,
                fmt.format(value),
                ha="center",
                va="center",
                fontsize=7 if len(fmt.format(value)) < 6 else 6,
                color="white" if dark else "black",
            )
    bar = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    bar.set_label(cbar_label)
    return im


def plot_graph_map(
    mean: np.ndarray, nodes: Sequence[str], path: str | Path, *, title: str = "Meta graph", subtitle: str | None = None
) -> Path:
    """Two panels: the mean normalised adjacency A~ (linear colour scale 0 to its maximum), and the
    same with the diagonal (self-loops) masked, on its own scale 0 to the largest off-diagonal weight,
    so that the structure between nodes stays visible when self-loops dominate."""
    plt = _pyplot()
    mean = np.asarray(mean, dtype=float)
    v = len(nodes)
    if mean.shape != (v, v):
        raise ValueError(f"the matrix is {mean.shape}, the nodes {v}")
    eye = np.eye(v, dtype=bool)
    off = mean[~eye]
    full_max = float(np.nanmax(mean)) if mean.size else 1.0
    off_max = float(np.nanmax(off)) if off.size and np.nanmax(off) > 0 else 1.0
    size = max(4.0, 0.55 * v + 2.0)
    fig, axes = plt.subplots(1, 2, figsize=(2 * size + 1.5, size))
    _heatmap(
        axes[0],
        mean,
        nodes,
        nodes,
        vmin=0.0,
        vmax=max(full_max, 1e-12),
        cmap="viridis",
        cbar_label=f"mean Ã_ij (linear, 0 to {full_max:.3g})",
    )
    axes[0].set_title("all weights (diagonal: self-loops)", fontsize=10, pad=24)
    fmt = _value_format(off_max)
    _heatmap(
        axes[1],
        mean,
        nodes,
        nodes,
        vmin=0.0,
        vmax=off_max,
        cmap="magma_r",
        cbar_label=f"mean Ã_ij, i ≠ j (linear, 0 to {off_max:.3g})",
        masked=eye,
        fmt=fmt,
    )
    axes[1].set_title("diagonal masked (own scale)", fontsize=10, pad=24)
    trace_share = float(np.trace(mean) / mean.sum()) if mean.sum() > 0 else float("nan")
    head = f"{title}: diagonal holds {100 * trace_share:.1f}% of the weight"
    fig.suptitle(head + (f"\n{subtitle}" if subtitle else ""), fontsize=11)
    fig.tight_layout()
    return _save(fig, path)


def plot_language_matrix(
    matrix: np.ndarray,
    languages: Sequence[str],
    path: str | Path,
    *,
    title: str = "Mean weight between languages' nodes",
) -> Path:
    """A language x language heatmap (linear colour scale 0 to the maximum), values annotated."""
    plt = _pyplot()
    matrix = np.asarray(matrix, dtype=float)
    names = [lang.upper() for lang in languages]
    vmax = float(np.nanmax(matrix)) if np.isfinite(matrix).any() and np.nanmax(matrix) > 0 else 1.0
    size = max(3.5, 0.8 * len(names) + 2.0)
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    fmt = _value_format(vmax)
    _heatmap(
        ax,
        matrix,
        names,
        names,
        vmin=0.0,
        vmax=vmax,
        cmap="magma_r",
        cbar_label=f"mean Ã_ij, i ≠ j (linear, 0 to {vmax:.3g})",
        fmt=fmt,
    )
    ax.set_title(title + "\n(self-loops left out)", fontsize=10, pad=24)
    fig.tight_layout()
    return _save(fig, path)


def plot_proportion(
    fractions: Sequence[float],
    series: Mapping[str, Sequence[float | None]],
    path: str | Path,
    *,
    errors: Mapping[str, Sequence[float | None]] | None = None,
    ylabel: str = "Accuracy (%)",
    title: str = "Accuracy vs. share of the target's labels",
    highlight: str | None = "MGL",
    note: str | None = None,
    dashed: Sequence[str] = ("LogReg (pooled)", "LogReg (target)"),
) -> Path:
    """Accuracy against the fraction of target labels kept (log-scaled x axis): one line per method
    (missing values skipped), error bars from ``errors`` (e.g. the standard deviation over seeds),
    the methods' points nudged sideways so that their bars do not hide each other; ``note`` is
    printed under the axis; the ``dashed`` series (the references, not learned methods) are drawn dashed."""
    plt = _pyplot()
    x = np.asarray(fractions, dtype=float) * 100
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    markers = "osD^v<>ph*"
    n = max(len(series), 1)
    for i, (name, values) in enumerate(series.items()):
        xs = x * 10 ** (0.012 * (i - (n - 1) / 2))  # a small sideways nudge on the log axis
        y = np.array([np.nan if v is None else v for v in values], dtype=float)
        err = None
        if errors is not None and name in errors:
            err = np.array([np.nan if e is None else e for e in errors[name]], dtype=float)
            err = np.where(np.isfinite(err), err, 0.0)
        ok = np.isfinite(y)
        strong = name == highlight
        ax.errorbar(
            xs[ok],
            y[ok],
            yerr=None if err is None else err[ok],
            label=name,
            marker=markers[i % len(markers)],
            linewidth=2.2 if strong else 1.3,
            markersize=6 if strong else 4.5,
            capsize=3,
            linestyle="--" if name in dashed else "-",
            zorder=3 if strong else 2,
        )
    ax.set_xscale("log")
    ax.set_xticks(x, labels=[f"{v:g}%" for v in x])
    ax.minorticks_off()
    ax.set_xlabel("Share of the target language's training labels kept" + (f"\n{note}" if note else ""))
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def plot_reliability(
    curves: Mapping[str, Sequence[Mapping[str, float]]], path: str | Path, *, title: str = "Reliability diagram"
) -> Path:
    """Accuracy against mean confidence per confidence bin, one line per curve (each a list of
    :func:`mgl.model.calibration.reliability` bins), the diagonal being perfect calibration; the marker
    area grows with the bin's count."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.2, 5.0))
    ax.plot([0, 1], [0, 1], color="#999", linestyle="--", linewidth=1, label="perfect calibration")
    for name, bins in curves.items():
        if not bins:
            continue
        conf = [b["confidence"] for b in bins]
        acc = [b["accuracy"] for b in bins]
        total = sum(b["count"] for b in bins)
        ax.plot(conf, acc, marker="o", linewidth=1.5, label=name, markersize=3)
        ax.scatter(conf, acc, s=[400 * b["count"] / total for b in bins], alpha=0.25)
    lows = [min(b["low"], b["accuracy"]) for bins in curves.values() for b in bins]
    lo = max(0.0, min(lows) - 0.05) if lows else 0.0
    ax.set_xlim(lo, 1.0)
    ax.set_ylim(lo, 1.0)
    ax.set_xlabel("mean confidence in the bin")
    ax.set_ylabel("accuracy in the bin")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    ax.grid(alpha=0.3)
    return _save(fig, path)
