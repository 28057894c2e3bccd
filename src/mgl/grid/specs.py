"""Table layouts: a :class:`TableSpec` names a table's rows (methods) and columns (averages over experiments).

:func:`table1_spec` lays out the paper's Table 1 (accuracy), :func:`table2_spec` its Table 2
(text pairs: precision, recall and F1 per target, then the average F1), :func:`ablation_spec`
Table 3; :func:`grid_spec` picks one by a grid's name. One renderer
(:func:`mgl.grid.tables.render_markdown`) draws them all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from mgl.grid.plan import Experiment
from mgl.methods import is_mgl


@dataclass(frozen=True)
class Column:
    """A table column: the mean of the metric over some experiments (one, or a group for an average)."""

    label: str
    experiments: tuple[tuple[str, str | None], ...]  # (target, domain)
    average: bool = False
    metric: str | None = None
    """The record field averaged in this column; None: the table's ``metric``."""
    test: bool = True
    """Whether the column gets the significance test (and so possibly a dagger)."""


@dataclass
class TableSpec:
    """Rows (methods), columns, the reference row and how significance is marked."""

    name: str
    title: str
    methods: list[str]
    columns: list[Column]
    reference: str = "mgl"
    metric: str = "accuracy"
    scale: float = 100.0
    alpha: float = 0.01
    significance: bool = True
    delta: bool = True
    notes: list[str] = field(default_factory=list)
    metric_label: str | None = None
    """How the footnote names the values (None: the metric's name)."""

    def baselines(self) -> list[str]:
        """The rows MGL is tested against: every method that is not MGL or an MGL variant."""
        return [m for m in self.methods if not is_mgl(m)]


def table1_spec(methods: Sequence[str], experiments: Sequence[Experiment], *, name: str = "table1") -> TableSpec:
    """The paper's Table 1: per target its domains and average, then the overall average."""
    columns: list[Column] = []
    targets = list(dict.fromkeys(e.target for e in experiments))
    for target in targets:
        mine = [e for e in experiments if e.target == target]
        for e in mine:
            columns.append(Column(e.label, ((e.target, e.domain),)))
        if len(mine) > 1:
            columns.append(Column(f"{target.upper()} avg", tuple((e.target, e.domain) for e in mine), average=True))
    if len(experiments) > 1:
        columns.append(Column("Avg", tuple((e.target, e.domain) for e in experiments), average=True))
    return TableSpec(name, "Accuracy (%) on the target's test split", list(methods), columns)


def table2_spec(methods: Sequence[str], experiments: Sequence[Experiment], *, name: str = "table2") -> TableSpec:
    """The paper's Table 2 (text pairs): per target precision, recall and F1, then the average F1.

    P / R / F1 are those of the positive class of a binary task (PAWS-X: ``paraphrase``; see
    :func:`mgl.data.preparation.positive_index`), their macro averages with more than two classes. The
    significance test (and dagger) is made on the F1 columns only; Δ is the last column's.
    """
    columns: list[Column] = []
    for e in experiments:
        key = ((e.target, e.domain),)
        columns += [
            Column(f"{e.label} P", key, metric="precision", test=False),
            Column(f"{e.label} R", key, metric="recall", test=False),
            Column(f"{e.label} F1", key, metric="f1"),
        ]
    if len(experiments) > 1:
        columns.append(Column("Avg F1", tuple((e.target, e.domain) for e in experiments), average=True, metric="f1"))
    notes = [
        "P / R / F1: precision, recall and F1 of the positive class (PAWS-X: paraphrase) on the target's test "
        "split; with more than two classes, their macro averages over the classes. The test (†) is made on the "
        "F1 columns only."
    ]
    return TableSpec(
        name,
        "Precision, recall and F1 (%) on the target's test split",
        list(methods),
        columns,
        metric="f1",
        metric_label="Precision, recall and F1",
        notes=notes,
    )


def ablation_spec(methods: Sequence[str], experiments: Sequence[Experiment], *, name: str = "table3") -> TableSpec:
    """Table 3: per target the average over its domains, then the overall average; Δ to the full model.

    No daggers (every row is MGL); :func:`ablation_tests` tests the full model against each row.
    """
    columns: list[Column] = []
    targets = list(dict.fromkeys(e.target for e in experiments))
    for target in targets:
        mine = tuple((e.target, e.domain) for e in experiments if e.target == target)
        columns.append(Column(target.upper(), mine, average=len(mine) > 1))
    if len(targets) > 1:
        columns.append(Column("Avg", tuple((e.target, e.domain) for e in experiments), average=True))
    return TableSpec(
        name,
        "Ablations: accuracy (%) on the target's test split, averaged over domains",
        list(methods),
        columns,
        reference="mgl",
        significance=False,
    )


def grid_spec(table: str, methods: Sequence[str], experiments: Sequence[Experiment]) -> TableSpec:
    """The layout of a grid's table by its name (``grid.json``'s ``table``): table2, else Table 1's."""
    if table == "table2":
        return table2_spec(methods, experiments, name=table)
    if table == "compare-pairs":
        return table2_spec(methods, experiments, name="compare")
    if table == "table3":
        return ablation_spec(methods, experiments, name=table)
    return table1_spec(methods, experiments, name=table)
