"""Episodic training of the MGL meta-learner: meta-train, then meta-test (Sec. 4.3.1, 4.3.5).

Stage 1, *meta-train*: the leave-one-out CLT pairs over the sources (or, for the
"w/o L2CLT" ablation, within-language pairs); support and query from the sources'
training data; early stopping on the sources' validation data (each held-out source's
validation instances as queries).

Stage 2, *meta-test*: the pair sources -> target; supports from the sources' training
data, queries from the target's few labelled training instances; early stopping on the
target's validation data. Stage 2 starts from stage 1's best checkpoint.

Each stage: Adam (the graph and GCN at ``lr``, trainable encoder weights at
``encoder_lr``), gradient-norm clipping at 40, the summed query cross-entropy of eq. 6;
``train_episodes`` steps per round, then a validation check; the best checkpoint by
validation accuracy (ties: lower validation NLL) is kept and restored at the end;
``patience`` rounds without improvement stop the stage (see :mod:`mgl.config`).
"""

from __future__ import annotations

import contextlib
import copy
import time
from dataclasses import asdict, dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch

from mgl.config import MGLConfig
from mgl.episodes import CLTPair, EpisodeSampler, Pool, meta_test_pair, meta_train_pairs, within_language_pairs
from mgl.evaluation import mean_nll, predict_proba
from mgl.meta_graph import MetaGraphNetwork, query_loss
from mgl.selection import better, require_finite, require_rows


@dataclass
class ValidationTask:
    """Queries with known labels, scored against supports drawn by ``sampler``."""

    sampler: EpisodeSampler
    query: np.ndarray
    labels: np.ndarray


@dataclass
class StageReport:
    name: str
    rounds: int = 0
    steps: int = 0
    best_round: int = 0
    best_accuracy: float = float("nan")
    best_nll: float = float("nan")
    seconds: float = 0.0
    history: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class ExampleTable:
    """The instances of one experiment in one table: features are looked up by row index."""

    languages: np.ndarray  # str per row
    labels: np.ndarray  # class id per row
    splits: np.ndarray  # "train" / "validation" / "test" per row
    label_names: list[str]

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def rows(self, *, languages: Sequence[str] | str, split: str) -> np.ndarray:
        langs = [languages] if isinstance(languages, str) else list(languages)
        return np.flatnonzero(np.isin(self.languages, langs) & (self.splits == split))

    def pool(self, *, languages: Sequence[str] | str, split: str, name: str) -> Pool:
        rows = self.rows(languages=languages, split=split)
        return Pool(rows, self.languages[rows].tolist(), self.labels[rows].tolist(), name=name)


def validate(model: MetaGraphNetwork, features, tasks: Sequence[ValidationTask], cfg: MGLConfig,
             seed: Sequence[int]) -> tuple[float, float]:
    """Mean accuracy and NLL over the tasks; supports drawn from a fixed seed (same at every check)."""
    accs, nlls = [], []
    for i, task in enumerate(tasks):
        rng = np.random.default_rng([*seed, i])
        probs = predict_proba(model, features, task.sampler, task.query, n_query=cfg.n_query,
                              eval_times=cfg.eval_times, rng=rng)
        accs.append(float((probs.argmax(1) == task.labels).mean()))
        nlls.append(mean_nll(probs, task.labels))
    return float(np.mean(accs)), float(np.mean(nlls))


def task_languages(task: ValidationTask) -> str:
    """The language(s) a validation task's queries are in (for messages)."""
    return task.sampler.pair.target


def validation_subset(rows: np.ndarray, cfg: MGLConfig, rng: np.random.Generator) -> np.ndarray:
    """At most ``test_episodes * n_query`` validation rows, a fixed random subset."""
    limit = cfg.test_episodes * cfg.n_query
    if len(rows) <= limit:
        return rows
    return np.sort(rng.choice(rows, size=limit, replace=False))


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
    """Run one stage; on return ``model`` (and a trainable encoder) hold the best checkpoint.

    ``checkpoint(state)``, if given, is called after every round with everything needed
    to continue exactly (``resume_state``): weights, optimiser, random states, best so far.
    """
    from tqdm.auto import tqdm

    require_rows(name, [(task_languages(task), len(task.query)) for task in validation])
    val_languages = [task_languages(task) for task in validation]
    device = next(model.parameters()).device
    groups = [{"params": list(model.parameters()), "lr": cfg.lr}]
    enc_params = features.parameters()
    if enc_params:
        groups.append({"params": enc_params, "lr": cfg.encoder_lr})
    optimizer = torch.optim.Adam(groups, weight_decay=cfg.weight_decay, foreach=True)
    all_params = [p for g in groups for p in g["params"]]
    stage_id = sum(name.encode())
    rng = np.random.default_rng([seed, stage_id])
    torch.manual_seed(seed * 1000 + stage_id)
    report = StageReport(name)
    best: dict | None = None
    since_best = 0
    start_round = 0
    if resume_state is not None:
        model.load_state_dict(resume_state["model"])
        features.load_state_dict(resume_state["encoder"])
        optimizer.load_state_dict(resume_state["optimizer"])
        rng.bit_generator.state = resume_state["numpy_rng"]
        torch.set_rng_state(resume_state["torch_rng"])
        best = resume_state["best"]
        since_best = resume_state["since_best"]
        report = StageReport(**resume_state["report"])
        start_round = report.rounds
    t0 = time.perf_counter() - report.seconds
    total = cfg.max_rounds * cfg.train_episodes
    bar = tqdm(total=total, initial=start_round * cfg.train_episodes, desc=name, disable=not progress,
               unit="ep", leave=False, dynamic_ncols=True)
    try:
        for rnd in range(start_round, cfg.max_rounds):
            if since_best >= cfg.patience:
                break
            model.train()
            features.train()
            losses = []
            for _ in range(cfg.train_episodes):
                sampler = samplers[int(rng.integers(len(samplers)))]
                ep = sampler.sample(rng)
                h = features(ep.nodes)
                log_probs = model(h, torch.as_tensor(ep.support_labels, device=device))
                loss = query_loss(log_probs, torch.as_tensor(ep.query_labels, device=device))
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(all_params, cfg.grad_clip)
                optimizer.step()
                losses.append(loss.item() / len(ep.query))
                bar.update(1)
            acc, nll = validate(model, features, validation, cfg, seed=(seed, stage_id, 1))
            require_finite(name, val_languages, accuracy=acc, nll=nll)
            report.rounds = rnd + 1
            report.steps = report.rounds * cfg.train_episodes
            report.history.append({"round": rnd + 1, "train_loss": float(np.mean(losses)),
                                   "val_accuracy": acc, "val_nll": nll})
            if best is None or better(acc, nll, report.best_accuracy, report.best_nll):
                report.best_accuracy, report.best_nll, report.best_round = acc, nll, rnd + 1
                best = {"model": copy.deepcopy(model.state_dict()), "encoder": copy.deepcopy(features.state_dict())}
                since_best = 0
            else:
                since_best += 1
            bar.set_postfix(loss=f"{np.mean(losses):.3f}", val_acc=f"{acc:.4f}", best=f"{report.best_accuracy:.4f}")
            report.seconds = time.perf_counter() - t0
            if checkpoint is not None:
                checkpoint({
                    "model": model.state_dict(), "encoder": features.state_dict(),
                    "optimizer": optimizer.state_dict(), "numpy_rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(), "best": best, "since_best": since_best,
                    "report": report.to_dict(),
                })
    finally:
        bar.close()
    if best is not None:
        model.load_state_dict(best["model"])
        features.load_state_dict(best["encoder"])
    report.seconds = time.perf_counter() - t0
    return report


def build_model(cfg: MGLConfig, in_dim: int, num_classes: int) -> MetaGraphNetwork:
    return MetaGraphNetwork(
        in_dim, num_classes, hidden_dim=cfg.hidden_dim, num_layers=cfg.gcn_layers, k=cfg.k_neighbours,
        learn_sigma=cfg.learn_sigma, dropout=cfg.dropout, negative_slope=cfg.negative_slope,
        distance_scale=cfg.distance_scale, label_features=cfg.label_features, init_range=cfg.init_range,
    )


def _sampler(pair: CLTPair, support: Pool, query: Pool | None, table: ExampleTable, cfg: MGLConfig) -> EpisodeSampler:
    return EpisodeSampler(pair, support, query, num_classes=table.num_classes, n_support=cfg.n_support,
                          n_query=cfg.n_query, label_names=table.label_names)


def meta_train_tasks(table: ExampleTable, sources: Sequence[str], cfg: MGLConfig,
                     rng: np.random.Generator) -> tuple[list[EpisodeSampler], list[ValidationTask]]:
    """Stage 1: samplers over the sources' training data, validation on the sources' validation data."""
    support = table.pool(languages=sources, split="train", name="sources' training data")
    pairs = meta_train_pairs(sources) if cfg.l2clt else within_language_pairs(sources)
    samplers = [_sampler(p, support, support, table, cfg) for p in pairs]
    tasks = []
    for pair in pairs:
        rows = validation_subset(table.rows(languages=pair.target, split="validation"), cfg, rng)
        tasks.append(ValidationTask(_sampler(pair, support, None, table, cfg), rows, table.labels[rows]))
    return samplers, tasks


def meta_test_tasks(table: ExampleTable, sources: Sequence[str], target: str, cfg: MGLConfig,
                    rng: np.random.Generator) -> tuple[EpisodeSampler, ValidationTask, EpisodeSampler]:
    """Stage 2: the sampler sources -> target, its validation task, and the sampler used at test time."""
    pair = meta_test_pair(sources, target)
    support = table.pool(languages=sources, split="train", name="sources' training data")
    query = table.pool(languages=target, split="train", name=f"{target} training data")
    sampler = _sampler(pair, support, query, table, cfg)
    rows = validation_subset(table.rows(languages=target, split="validation"), cfg, rng)
    test_sampler = _sampler(pair, support, None, table, cfg)
    return sampler, ValidationTask(test_sampler, rows, table.labels[rows]), test_sampler


@dataclass
class FitReport:
    stages: list[StageReport]
    test_sampler: EpisodeSampler

    @property
    def seconds(self) -> float:
        return sum(s.seconds for s in self.stages)


@contextlib.contextmanager
def small_graph_threads(features, device: torch.device):
    """One intra-op thread while training on frozen features on a CPU.

    An episode's graph is tens of nodes: its matrices are far too small to gain from several
    threads, and on a loaded machine OpenMP's spinning threads make each step many times slower.
    """
    if getattr(features, "trainable", False) or torch.device(device).type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def fit_mgl(model: MetaGraphNetwork, features, table: ExampleTable, sources: Sequence[str], target: str,
            cfg: MGLConfig, *, seed: int, progress: bool = True,
            checkpoint: Callable[[str, dict], None] | None = None,
            resume: dict[str, dict] | None = None) -> FitReport:
    """Both stages of MGL on one experiment's table. ``resume`` maps stage names to saved states."""
    rng = np.random.default_rng([seed, 99])
    stages = []
    resume = resume or {}
    with small_graph_threads(features, next(model.parameters()).device):
        if cfg.meta_train:
            samplers, tasks = meta_train_tasks(table, sources, cfg, rng)
            stages.append(_run_stage("meta-train", model, features, samplers, tasks, cfg, seed, progress, checkpoint,
                                     resume))
        sampler, val_task, test_sampler = meta_test_tasks(table, sources, target, cfg, rng)
        stages.append(_run_stage("meta-test", model, features, [sampler], [val_task], cfg, seed, progress, checkpoint,
                                 resume))
    return FitReport(stages, test_sampler)


def _run_stage(name, model, features, samplers, tasks, cfg, seed, progress, checkpoint, resume) -> StageReport:
    state = resume.get(name)
    if state is not None and state.get("done"):
        model.load_state_dict(state["best"]["model"])
        features.load_state_dict(state["best"]["encoder"])
        return StageReport(**state["report"])
    save = (lambda s: checkpoint(name, s)) if checkpoint is not None else None
    report = train_stage(name, model, features, samplers, tasks, cfg, seed=seed, progress=progress,
                         checkpoint=save, resume_state=state)
    if checkpoint is not None:
        checkpoint(name, {"done": True, "best": {"model": model.state_dict(), "encoder": features.state_dict()},
                          "report": report.to_dict()})
    return report
