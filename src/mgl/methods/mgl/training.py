"""Episodic training of the MGL meta-learner: meta-train, then meta-test (Sec. 4.3.1, 4.3.5).

Stage 1, *meta-train*: the leave-one-out CLT pairs over the sources (or, for the
"w/o L2CLT" ablation, within-language pairs); support and query from the sources'
training data; early stopping on the sources' validation data (each held-out source's
validation instances as queries).

Stage 2, *meta-test*: the pair sources -> target; supports from the sources' training
data, queries from the target's few labelled training instances; early stopping on the
target's validation data. Stage 2 starts from stage 1's best checkpoint. Zero-shot (no target
label) there is no stage 2: the meta-trained model predicts the target with the sources as
supports, as the paper's meta-test pair does at test time.

Each stage: Adam (the graph and GCN at ``lr``, trainable encoder weights at
``encoder_lr``), gradient-norm clipping at 40, the summed query cross-entropy of eq. 6;
``train_episodes`` steps per round, then a validation check; the best checkpoint by
validation accuracy (ties: lower validation NLL) is kept and restored at the end;
``patience`` rounds without improvement stop the stage (see :mod:`mgl.config`).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from mgl.config import MGLConfig
from mgl.data.example_table import ExampleTable
from mgl.errors import ConfigError, DataError, MGLError
from mgl.methods.metrics import mean_nll
from mgl.methods.mgl.episodes import (
    CLTPair,
    EpisodeSampler,
    Pool,
    meta_test_pair,
    meta_train_pairs,
    within_language_pairs,
)
from mgl.methods.mgl.meta_graph import MetaGraphNetwork, query_loss
from mgl.methods.mgl.queries import predict_proba
from mgl.methods.rounds import Schedule, StageReport, make_adam, small_model_threads, train_in_rounds
from mgl.methods.validation_rows import ValidationRows, validation_rows


@dataclass
class ValidationTask:
    """Queries with known labels, scored against supports drawn by ``sampler``."""

    sampler: EpisodeSampler
    query: np.ndarray
    labels: np.ndarray


def table_pool(table: ExampleTable, *, languages: Sequence[str] | str, split: str, name: str) -> Pool:
    """The table's rows of ``languages`` and ``split`` as an episode :class:`~mgl.methods.mgl.episodes.Pool`."""
    rows = table.rows(languages=languages, split=split)
    return Pool(rows, table.languages[rows].tolist(), table.labels[rows].tolist(), name=name)


def validate(
    model: MetaGraphNetwork, features, tasks: Sequence[ValidationTask], cfg: MGLConfig, seed: Sequence[int]
) -> tuple[float, float]:
    """Mean accuracy and NLL over the tasks; supports drawn from a fixed seed (same at every check)."""
    accs, nlls = [], []
    for i, task in enumerate(tasks):
        rng = np.random.default_rng([*seed, i])
        probs = predict_proba(
            model, features, task.sampler, task.query, n_query=cfg.n_query, eval_times=cfg.eval_times, rng=rng
        )
        accs.append(float((probs.argmax(1) == task.labels).mean()))
        nlls.append(mean_nll(probs, task.labels))
    return float(np.mean(accs)), float(np.mean(nlls))


def task_languages(task: ValidationTask) -> str:
    """The language(s) a validation task's queries are in (for messages)."""
    return task.sampler.pair.target


class MGLTrainee:
    """One MGL model (and a trainable encoder's weights) as the single candidate of :func:`mgl.methods.rounds.train_in_rounds`.

    A step: an episode from a sampler drawn at random, the summed query cross-entropy of
    eq. 6, Adam with the gradient norm clipped at ``grad_clip``.
    """

    size = 1

    def __init__(
        self,
        model: MetaGraphNetwork,
        features,
        samplers: Sequence[EpisodeSampler],
        validation: Sequence[ValidationTask],
        cfg: MGLConfig,
        *,
        seed: int,
        stage_id: int,
    ):
        from mgl import distributed

        self.model, self.features, self.samplers, self.validation, self.cfg = model, features, samplers, validation, cfg
        self.device = next(model.parameters()).device
        groups: list[dict[str, Any]] = [{"params": list(model.parameters()), "lr": cfg.lr}]
        enc_params = features.parameters()
        if enc_params:
            groups.append({"params": enc_params, "lr": features.lr or cfg.encoder_lr})
        self.optimizer = make_adam(groups, weight_decay=cfg.weight_decay)
        self.params = [p for g in groups for p in g["params"]]
        self.net = model  # what the forward pass runs: the model, or its DistributedDataParallel wrapper
        self.accelerator = distributed.accelerator()
        rank_part = [distributed.rank()] if self.accelerator is not None else []  # each process its own episodes
        if self.accelerator is not None:
            if enc_params:
                # DDP wraps the model; weights outside it (a trained encoder, a pooling head) would not
                # have their gradients averaged, and the processes would drift apart

                raise ConfigError(
                    "several processes train only frozen features: run a trained encoder or pooling head in one process"
                )
            self.net, self.optimizer = self.accelerator.prepare(model, self.optimizer)
        self.rng = np.random.default_rng([seed, stage_id, *rank_part])
        self.validation_seed = (seed, stage_id, 1)
        self.best: dict | None = None

    def train_round(self, active: np.ndarray, steps: int, tick) -> np.ndarray:
        self.model.train()
        self.features.train()
        losses = []
        for _ in range(steps):
            sampler = self.samplers[int(self.rng.integers(len(self.samplers)))]
            ep = sampler.sample(self.rng)
            h = self.features(ep.nodes)
            log_probs = self.net(h, torch.as_tensor(ep.support_labels, device=self.device))
            loss = query_loss(log_probs, torch.as_tensor(ep.query_labels, device=self.device))
            self.optimizer.zero_grad(set_to_none=True)
            if self.accelerator is not None:  # gradients averaged over the processes
                self.accelerator.backward(loss)
                self.accelerator.clip_grad_norm_(self.params, self.cfg.grad_clip)
            else:
                loss.backward()
                torch.nn.utils.clip_grad_norm_(self.params, self.cfg.grad_clip)
            self.optimizer.step()
            losses.append(loss.item() / len(ep.query))
            tick(1)
        return np.array([np.mean(losses)])

    def validate(self, active: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc, nll = validate(self.model, self.features, self.validation, self.cfg, seed=self.validation_seed)
        return np.array([acc]), np.array([nll])

    def keep(self, which: np.ndarray) -> None:
        self.best = {
            "model": copy.deepcopy(self.model.state_dict()),
            "encoder": copy.deepcopy(self.features.state_dict()),
        }

    def restore(self) -> None:
        if self.best is not None:
            self.model.load_state_dict(self.best["model"])
            self.features.load_state_dict(self.best["encoder"])

    def state(self) -> dict:
        """Everything to continue exactly; the random streams of every process (gathered where several run)."""
        from mgl import distributed

        streams = distributed.gather({"numpy_rng": self.rng.bit_generator.state, **distributed.random_states()})
        return {
            "model": self.model.state_dict(),
            "encoder": self.features.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "numpy_rng": streams[0]["numpy_rng"],
            "torch_rng": streams[0]["torch"],
            "streams": streams,
            "best": self.best,
        }

    def load_state(self, state: dict) -> None:
        from mgl import distributed

        self.model.load_state_dict(state["model"])
        self.features.load_state_dict(state["encoder"])
        self.optimizer.load_state_dict(state["optimizer"])
        streams = state.get("streams") or [{"numpy_rng": state["numpy_rng"], "torch": state["torch_rng"]}]
        if len(streams) != distributed.world_size():
            raise MGLError(
                f"the checkpoint was written by {len(streams)} process(es), this run has "
                f"{distributed.world_size()}: resume with as many"
            )
        mine = streams[distributed.rank()]
        self.rng.bit_generator.state = mine["numpy_rng"]
        distributed.set_random_states(mine)
        self.best = state["best"]


def train_stage(
    name: str,
    model: MetaGraphNetwork,
    features,
    samplers: Sequence[EpisodeSampler],
    validation: Sequence[ValidationTask],
    cfg: MGLConfig,
    *,
    seed: int,
    progress: bool = True,
    checkpoint: Callable[[dict], None] | None = None,
    resume_state: dict | None = None,
) -> StageReport:
    """Run one stage (:func:`mgl.methods.rounds.train_in_rounds`); on return ``model`` (and a trainable encoder) hold the best round.

    ``checkpoint(state)``, if given, is called after every round with everything needed
    to continue exactly (``resume_state``): weights, optimiser, random states, best so far.
    """
    stage_id = sum(name.encode())
    trainee = MGLTrainee(model, features, samplers, validation, cfg, seed=seed, stage_id=stage_id)
    from mgl import distributed

    torch.manual_seed(seed * 1000 + stage_id + 7919 * distributed.rank())  # rank 0 (one process): as ever
    schedule = Schedule(cfg.train_episodes, cfg.max_rounds, cfg.patience)
    [report] = train_in_rounds(
        name,
        trainee,
        schedule,
        [(task_languages(t), len(t.query)) for t in validation],
        progress=progress,
        checkpoint=checkpoint,
        resume_state=resume_state,
    )
    return report


def build_model(cfg: MGLConfig, in_dim: int, num_classes: int) -> MetaGraphNetwork:
    return MetaGraphNetwork(
        in_dim,
        num_classes,
        hidden_dim=cfg.hidden_dim,
        num_layers=cfg.gcn_layers,
        k=cfg.k_neighbours,
        learn_sigma=cfg.learn_sigma,
        dropout=cfg.dropout,
        negative_slope=cfg.negative_slope,
        distance_scale=cfg.distance_scale,
        label_features=cfg.label_features,
        init_range=cfg.init_range,
    )


def _sampler(pair: CLTPair, support: Pool, query: Pool | None, table: ExampleTable, cfg: MGLConfig) -> EpisodeSampler:
    return EpisodeSampler(
        pair,
        support,
        query,
        num_classes=table.num_classes,
        n_support=cfg.n_support,
        n_query=cfg.n_query,
        label_names=table.label_names,
    )


def meta_train_tasks(
    table: ExampleTable, sources: Sequence[str], cfg: MGLConfig, validation: ValidationRows
) -> tuple[list[EpisodeSampler], list[ValidationTask]]:
    """Stage 1: samplers over the sources' training data, validation on the sources' validation rows
    (``validation.sources``, one set per held-out source, in the pairs' order)."""
    support = table_pool(table, languages=sources, split="train", name="sources' training data")
    pairs = meta_train_pairs(sources) if cfg.l2clt else within_language_pairs(sources)
    samplers = [_sampler(p, support, support, table, cfg) for p in pairs]
    by_language = dict(validation.sources)
    tasks = []
    for pair in pairs:
        rows = by_language[pair.target]
        tasks.append(ValidationTask(_sampler(pair, support, None, table, cfg), rows, table.labels[rows]))
    return samplers, tasks


def meta_test_tasks(
    table: ExampleTable, sources: Sequence[str], target: str, cfg: MGLConfig, validation: ValidationRows
) -> tuple[EpisodeSampler | None, ValidationTask | None, EpisodeSampler]:
    """Stage 2: the sampler sources -> target, its validation task, and the sampler used at test time.

    Zero-shot (the target has no training row) there is no stage 2: ``(None, None, test sampler)``."""
    pair = meta_test_pair(sources, target)
    support = table_pool(table, languages=sources, split="train", name="sources' training data")
    test_sampler = _sampler(pair, support, None, table, cfg)
    if len(table.rows(languages=target, split="train")) == 0:
        return None, None, test_sampler
    query = table_pool(table, languages=target, split="train", name=f"{target} training data")
    sampler = _sampler(pair, support, query, table, cfg)
    rows = validation.target
    return sampler, ValidationTask(test_sampler, rows, table.labels[rows]), test_sampler


@dataclass
class FitReport:
    stages: list[StageReport]
    test_sampler: EpisodeSampler

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)


def fit_mgl(
    model: MetaGraphNetwork,
    features,
    table: ExampleTable,
    sources: Sequence[str],
    target: str,
    cfg: MGLConfig,
    *,
    seed: int,
    progress: bool = True,
    checkpoint: Callable[[str, dict], None] | None = None,
    resume: dict[str, dict] | None = None,
) -> FitReport:
    """Both stages of MGL on one experiment's table, choosing on the rows every method chooses on
    (:func:`mgl.methods.validation_rows.validation_rows`). ``resume`` maps stage names to saved states."""
    rows = validation_rows(table, sources, target, cfg, seed, sources_first=cfg.meta_train)
    stages = []
    resume = resume or {}
    with small_model_threads(features, next(model.parameters()).device):
        if cfg.meta_train:
            samplers, tasks = meta_train_tasks(table, sources, cfg, rows)
            stages.append(
                _run_stage("meta-train", model, features, samplers, tasks, cfg, seed, progress, checkpoint, resume)
            )
        sampler, val_task, test_sampler = meta_test_tasks(table, sources, target, cfg, rows)
        if sampler is not None and val_task is not None:
            stages.append(
                _run_stage("meta-test", model, features, [sampler], [val_task], cfg, seed, progress, checkpoint, resume)
            )
        else:
            require_a_stage(table, target, cfg)
    return FitReport(stages, test_sampler)


def require_a_stage(table: ExampleTable, target: str, cfg: MGLConfig) -> None:
    """Zero-shot (no target training row) MGL trains its meta-train stage only: without one
    (``mgl.meta_train=false``) nothing would be trained, a DataError."""
    if not cfg.meta_train and len(table.rows(languages=target, split="train")) == 0:
        raise DataError(
            f"zero-shot: the target {target!r} has no training label and this MGL variant has no meta-train "
            "stage, so nothing would be trained; give the target labels or keep meta-train"
        )


def _run_stage(name, model, features, samplers, tasks, cfg, seed, progress, checkpoint, resume) -> StageReport:
    state = resume.get(name)
    if state is not None and state.get("done"):
        model.load_state_dict(state["best"]["model"])
        features.load_state_dict(state["best"]["encoder"])
        return StageReport(**state["report"])
    save = (lambda s: checkpoint(name, s)) if checkpoint is not None else None
    report = train_stage(
        name, model, features, samplers, tasks, cfg, seed=seed, progress=progress, checkpoint=save, resume_state=state
    )
    if checkpoint is not None:
        checkpoint(
            name,
            {
                "done": True,
                "best": {"model": model.state_dict(), "encoder": features.state_dict()},
                "report": report.to_dict(),
            },
        )
    return report
