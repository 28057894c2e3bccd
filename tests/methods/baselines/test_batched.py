"""Grouped candidates (mgl.methods.baselines.batched) against the same candidates trained one after the other.

The reference is the sequential code path (``fit_stage(batched=False)`` / ``train_rounds``),
which trains one torch ``MLPClassifier`` with ``torch.optim.Adam`` per grid point. Both paths
must give the same weights after every round (to 1e-5), the same validation history, the same
early stopping and the same winner.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from baseline_helpers import SMALL, run_baseline

from mgl.config import BaselineConfig, MGLConfig
from mgl.encoders.node_features import FrozenFeatures
from mgl.methods import BASELINE_METHODS as BASELINES
from mgl.methods.baselines.batched import BatchedTrainee, CandidateGroup
from mgl.methods.baselines.common import (
    BatchStream,
    Hyper,
    Settings,
    ValidationSet,
    build_classifier,
    pooled_steps,
    supervised_step,
)
from mgl.methods.baselines.reptile import INNER_BETAS
from mgl.methods.baselines.reptile_steps import reptile_steps
from mgl.methods.baselines.tuning import train_rounds
from mgl.methods.rounds import Schedule, train_in_rounds

pytestmark = pytest.mark.unit

GRID = [Hyper(lr, wd) for lr in (1e-4, 1e-3, 3e-2) for wd in (0.0, 1e-2)]


def test_a_group_of_candidates_computes_what_each_model_computes_with_the_same_dropout_mask():
    cfg = MGLConfig(**SMALL)
    models = [build_classifier(cfg, 24, 2, seed=s, heads=("shared", "ja")) for s in range(3)]
    group = CandidateGroup(models)
    group.active = [0, 2]
    group.train()
    h = torch.randn(7, 24)
    torch.manual_seed(5)
    got = group(h, "ja")
    after_group = torch.rand(1)
    assert len(got) == 2
    for out, c in zip(got, [0, 2]):
        torch.manual_seed(5)
        assert torch.equal(out, models[c](h, "ja"))
        assert torch.equal(torch.rand(1), after_group)  # the same draws from the generator, no more


def _stage_factories(data):
    table, sources, target = data.table, data.sources, data.target
    languages = [*sources, target]

    def multi_task(settings):
        streams = {
            lang: BatchStream(table.rows(languages=lang, split="train"), settings.batch_size) for lang in languages
        }

        def step(ctx):
            lang = languages[int(ctx.rng.integers(len(languages)))]
            return supervised_step(ctx, streams[lang].next(ctx.rng), lang)

        return step

    tasks = {lang: table.rows(languages=lang, split="train") for lang in sources}
    return {
        "pooled": (pooled_steps(table.rows(languages=languages, split="train")), (0.9, 0.999), ("shared",), "shared"),
        "multi-task": (multi_task, (0.9, 0.999), tuple(languages), target),
        "reptile": (reptile_steps(tasks, 3, 0.5), INNER_BETAS, ("shared",), "shared"),
    }


@pytest.mark.parametrize("kind", ["pooled", "multi-task", "reptile"])
def test_grouped_candidates_train_exactly_as_one_after_the_other(make_data, kind):
    X, data = make_data()
    features = FrozenFeatures(X)
    cfg = MGLConfig(**{**SMALL, "patience": 1, "max_rounds": 6})
    settings = Settings.from_configs(cfg, BaselineConfig())
    make_step, betas, heads, head = _stage_factories(data)[kind]
    validation = [ValidationSet("ja validation", data.table.rows(languages="ja", split="validation"), head)]
    labels = data.table.labels
    start = build_classifier(cfg, X.shape[1], 2, seed=3, heads=heads)

    sequential = []
    for hyper in GRID:
        model = copy.deepcopy(start)
        report = train_rounds(
            "stage", model, features, make_step(settings), validation, labels, settings, hyper, seed=7, betas=betas
        )
        sequential.append((model, report))

    rng = np.random.default_rng([7, sum(b"stage")])
    trainee = BatchedTrainee(
        copy.deepcopy(start), features, make_step, validation, labels, settings, GRID, rng=rng, betas=betas
    )
    torch.manual_seed(7 * 1000 + sum(b"stage"))
    reports = train_in_rounds(
        "stage",
        trainee,
        Schedule(settings.steps_per_round, settings.max_rounds, settings.patience),
        [("ja", len(validation[0].rows))],
    )
    rounds = [r.rounds for _, r in sequential]
    assert len(set(rounds)) > 1, "the grid should stop its candidates at different rounds"
    for c, (model, ref) in enumerate(sequential):
        got = reports[c]
        assert (got.rounds, got.best_round) == (ref.rounds, ref.best_round)
        assert [h["val_accuracy"] for h in got.history] == [h["val_accuracy"] for h in ref.history]
        np.testing.assert_allclose(
            [h["train_loss"] for h in got.history], [h["train_loss"] for h in ref.history], rtol=0, atol=1e-5
        )
        weights = trainee.candidate(c).state_dict()
        for name, value in model.state_dict().items():
            torch.testing.assert_close(weights[name], value, rtol=0, atol=1e-5, msg=f"candidate {c} {name}")


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_every_baseline_gives_the_same_result_grouped_or_not(make_data, name):
    X, data = make_data()
    cfg = MGLConfig(**{**SMALL, "max_rounds": 4})
    results = {}
    for batched in (True, False):
        options = BaselineConfig(
            lrs=(1e-4, 1e-3, 1e-2), weight_decays=(0.0, 1e-3), reptile_inner_steps=2, batch_candidates=batched
        )
        results[batched] = run_baseline(name, data, FrozenFeatures(X), cfg, seed=1, options=options)
    a, b = results[True], results[False]
    assert a["accuracy"] == b["accuracy"] and a["f1"] == b["f1"]
    for sa, sb in zip(a["stages"], b["stages"], strict=True):
        assert (sa["lr"], sa["weight_decay"], sa["best_round"]) == (sb["lr"], sb["weight_decay"], sb["best_round"])
        assert [c["best_accuracy"] for c in sa["candidates"]] == [c["best_accuracy"] for c in sb["candidates"]]
