"""Typed configuration: dataclasses, YAML presets (the paper's Table 4), command-line overrides.

A run is described by :class:`RunConfig`, seven sections:

* ``mgl``: the method's hyper-parameters (:class:`MGLConfig`), Table 4 and the
  decisions the paper leaves open;
* ``encoder``: which encoder, how it pools, whether it trains (:class:`EncoderConfig`);
* ``data``: which data set, languages, domain and target budget (:class:`DataConfig`);
* ``chars``: the character n-gram regression ``logreg-chars`` (:class:`CharNgramConfig`);
* ``logistic``: the logistic regressions on the embeddings, ``logreg-pooled`` and ``logreg-target``
  (:class:`LogisticConfig`);
* ``baselines``: the neural baselines' tuning grid and Reptile's steps (:class:`BaselineConfig`);
* ``setfit``: SetFit run through its own library, for comparison (:class:`SetFitConfig`).

Presets are YAML files of the same shape, shipped in ``mgl/presets/``
(``amazon``, ``search-relevance``); any field can be overridden with
``section.field=value`` (or just ``field=value`` when the name is unique).

What the episode counts count (the paper does not say)
------------------------------------------------------
``train_episodes`` is the number of training episodes in one *round*: each episode is
one optimisation step (one sampled support/query set, one Adam update). After each
round the model is validated and the best checkpoint kept; training stops after
``patience`` rounds without improvement or after ``max_rounds`` rounds. A stage therefore
runs at most ``max_rounds * train_episodes`` optimisation steps (with the defaults,
50 * 75 = 3,750 for ``amazon`` and 50 * 100 = 5,000 for ``search-relevance``).
``test_episodes`` is the number of validation episodes per check: that many batches of
``n_query`` validation instances (a fixed subset, the same at every check), each scored
against ``eval_times`` independently sampled support sets, probabilities averaged.
At test time every test instance is scored, in batches of ``n_query``, each against
``eval_times`` support sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from mgl.config_values import apply_dict, apply_override
from mgl.data.languages import canonical_language
from mgl.errors import ConfigError

DISTANCE_SCALES = ("mean", "dim", "none")
"""The values of ``mgl.distance_scale`` (how the meta graph scales squared distances, :mod:`mgl.methods.mgl.meta_graph`)."""

NO_EFFECT = {"no_effect": True}
"""Field metadata of a setting that changes no result (where the data lies, how it is decoded, the
device, batch sizes, activation checkpointing): left out of every fingerprint (grid cells,
checkpoints). Two more marks: ``acts_when=(field, value)`` / ``acts_unless=(field, value)``, a
setting that does nothing unless a sibling field has (or has not) a value; ``added_at=value``, a
setting added after fingerprints were first computed, left out while it has the value that
reproduces the earlier behaviour, so that earlier fingerprints hold.
:func:`mgl.fingerprints.result_settings` applies them; the fingerprints derive from it."""


@dataclass
class MGLConfig:
    """Hyper-parameters of the MGL meta-learner (defaults: the paper's Amazon setting)."""

    # Table 4
    n_support: int = 5
    """N: support instances per class and per source language."""
    n_query: int = 32
    """R: query instances per episode (spread evenly over the classes in training)."""
    k_neighbours: int = 10
    """K: entries kept per row of the adjacency."""
    train_episodes: int = 75
    """Training episodes (= optimisation steps) per round, between two validations."""
    test_episodes: int = 10
    """Validation episodes per check (batches of ``n_query`` validation instances)."""
    eval_times: int = 5
    """Support sets sampled per query batch at evaluation; probabilities averaged."""
    encoder_lr: float = 1e-5
    """Table 4's learning rate: the encoder's, when it is trained."""
    hidden_dim: int = 768
    """Width of the hidden GCN layers (Table 4: dim0 = dim1 = 768)."""

    # the paper's text
    gcn_layers: int = 2
    dropout: float = 0.5
    grad_clip: float = 40.0
    init_range: float = 0.01
    negative_slope: float = 0.01

    # mgl's decisions (documented in methods/mgl/meta_graph.py and above)
    lr: float = 1e-4
    """Adam learning rate of the meta graph and GCN (trained from U(-0.01, 0.01)). Chosen on the
    target's validation split of EN+FR+DE -> JA books (the pair the paper tuned on) among 3e-5,
    1e-4, 3e-4 and 1e-3 (``benchmarks/tune_mgl.py``; see docs/results/mgl_ja_books.md)."""
    weight_decay: float = 0.0
    max_rounds: int = 50
    patience: int = 5
    distance_scale: str = "mean"
    label_features: bool = False

    # ablation switches (Table 3)
    meta_train: bool = True
    """False: the "w/o Meta" ablation, no meta-train stage."""
    l2clt: bool = True
    """False: the "w/o L2CLT" ablation, meta-train support and query from one language."""
    learn_sigma: bool = True
    """False: the "w/o sigma" ablation, sigma fixed to 1."""

    def validate(self) -> None:
        positive = [
            "n_support",
            "n_query",
            "k_neighbours",
            "train_episodes",
            "test_episodes",
            "eval_times",
            "hidden_dim",
            "gcn_layers",
            "max_rounds",
            "patience",
        ]
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"mgl.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"mgl.dropout must be in [0, 1), got {self.dropout}")
        for name in ("lr", "encoder_lr", "grad_clip", "init_range"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"mgl.{name} must be > 0, got {getattr(self, name)}")
        if self.distance_scale not in DISTANCE_SCALES:
            raise ConfigError(
                f"mgl.distance_scale must be one of {', '.join(DISTANCE_SCALES)}, got {self.distance_scale!r}"
            )


ENCODER_TRAIN_MODES = ("none", "top-k", "all")
"""The values of ``encoder.train``."""
POOLINGS = ("cls", "mean")
"""The values of ``encoder.pooling`` (None: the model's default)."""
POOLING_HEADS = ("none", "attention")
CENTRING_MODES = ("none", "language")
"""The values of ``encoder.pooling_head`` (trainable poolings over the frozen encoder's final token states)."""
PRECISIONS = ("fp32", "bf16", "auto")
"""The values of ``encoder.precision``."""
MIN_MAX_LENGTH = 8
"""The shortest ``encoder.max_length`` accepted (special tokens and a prefix take up to 5)."""


def check_encoder_identity(model, pooling, prefix, max_length, precision) -> None:
    """The settings that identify an encoder (:class:`mgl.encoders.spec.EncoderSpec`), checked
    once for the configuration and the spec alike; ConfigError names the first bad one."""
    if not isinstance(model, str) or not model.strip():
        raise ConfigError(f"encoder.model must be a non-empty name or directory, not {model!r}")
    if pooling is not None and pooling not in POOLINGS:
        raise ConfigError(f"encoder.pooling must be one of {', '.join(POOLINGS)}, got {pooling!r}")
    if prefix is not None and not isinstance(prefix, str):
        raise ConfigError(f"encoder.prefix must be a string, not {prefix!r}")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < MIN_MAX_LENGTH:
        raise ConfigError(f"encoder.max_length must be an integer >= {MIN_MAX_LENGTH}, got {max_length!r}")
    if precision not in PRECISIONS:
        raise ConfigError(f"encoder.precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")


@dataclass
class EncoderConfig:
    """The encoder: a Hugging Face hub name, a local directory, or the embedded default."""

    model: str = "multilingual-e5-small"
    pooling: str | None = None
    """``cls`` or ``mean``; None: the model's default (mean for e5, else cls)."""
    prefix: str | None = None
    """Prepended to every input (the first text of a pair); None: the model's default, which for the
    embedded e5 is ``"query: "``, the prefix its model card gives for every task but retrieval.

    Chosen on validation data: over the Table 1 grid (9 experiments x 5 seeds, bf16, 256 tokens),
    ``"query: "`` against the former default ``"passage: "`` lifted the mean validation accuracy
    of MGL, Mix and the pooled logistic regression by about a point each, and their test accuracy
    likewise (docs/results/prefix.md, with a PAWS-X target). 512 tokens instead of 256 moved the
    validation accuracy on the three books experiments by +0.06 to +0.25 points, which test did
    not confirm, for 1.31x the embedding time, so ``max_length`` stays 256. On the command line:
    ``--set "encoder.prefix='passage: '"`` (YAML quotes keep the space). The prefix is part of the
    encoder's identity: cached vectors, grid cells and saved models of two prefixes never mix, and
    a model saved while the default was ``"passage: "`` keeps embedding with it."""
    max_length: int = 256
    train: str = "none"
    """``none`` (frozen, cached embeddings), ``top-k`` (the last ``top_layers`` layers) or ``all``.

    Frozen is the default, chosen from ``benchmarks/bench_adaptation.py`` (docs/results/adaptation.md):
    on 2 CPU cores, training the top 2 layers gained +0.7 to +0.9 points over the same short
    frozen schedule, for MGL and Mix alike, at 170-350 times the training time, and stayed below
    the frozen encoder with the full schedule."""
    top_layers: int = 0
    gradient_checkpointing: bool = field(default=False, metadata=NO_EFFECT)
    """When the encoder trains (``top-k`` without the prefix cache, or ``all``): recompute each
    transformer layer's activations in the backward pass instead of keeping them (Hugging Face
    ``activation_checkpointing_enable``): less memory for larger encoders, about a third more
    compute. Changes no result, so it is left out of grid fingerprints."""
    prefix_cache: bool = field(default=True, metadata={"acts_when": ("train", "top-k")})
    """top-k only: compute the states entering the top layers once, cache them on disk (float16)
    and run only the top layers per episode (see :mod:`mgl.encoders.prefix_states`); false:
    run the whole encoder on the texts every episode."""
    device: str | None = field(default=None, metadata=NO_EFFECT)
    """None/"auto": CUDA when present, else CPU."""
    batch_size: int = field(default=32, metadata=NO_EFFECT)
    precision: str = field(default="auto", metadata={"added_at": "fp32"})
    """``auto`` (the default: bf16 where the hardware has it natively and it agrees with fp32 on
    probe texts, else fp32), ``fp32``, or ``bf16`` (a bfloat16 copy of the weights for inference,
    bfloat16 autocast over float32 master weights when the encoder trains; pooled vectors stay
    float32). The precision in use is part of the encoder's identity (so of cache keys and of
    saved models) whenever it is not fp32, so vectors of two precisions never mix."""

    pooling_head: str = field(default="none", metadata={"added_at": "none"})
    """``none``: the encoder's own pooling (frozen, cached vectors); ``attention``: a trainable
    attention pooling over the frozen encoder's cached final token states, initialised to mean
    pooling and trained jointly with MGL (or each baseline's classifier); see
    :mod:`mgl.encoders.pooling_head`. Needs ``train=none`` (the encoder stays frozen)."""
    pooling_queries: int = field(default=4, metadata={"acts_unless": ("pooling_head", "none")})
    """``pooling_head=attention``: the number of learned queries."""
    centring: str = field(default="none", metadata={"added_at": "none"})
    """``language``: each language's mean vector (over its training, validation and unlabelled texts,
    never its test texts) taken from its vectors (:mod:`mgl.encoders.centring`); the target's
    unlabelled texts give its mean with no label. ``none``: the vectors as the encoder gives them.
    Needs the frozen encoder's own pooling (``train=none``, no pooling head)."""
    pooling_lr: float = field(default=1e-3, metadata={"acts_unless": ("pooling_head", "none")})
    """``pooling_head=attention``: the head's learning rate (its weight decay is the run's)."""

    def validate(self) -> None:
        if self.pooling_head not in POOLING_HEADS:
            raise ConfigError(
                f"encoder.pooling_head must be one of {', '.join(POOLING_HEADS)}, got {self.pooling_head!r}"
            )
        if self.pooling_head != "none":
            if self.train != "none":
                raise ConfigError(
                    f"encoder.pooling_head={self.pooling_head} pools a frozen encoder's cached token "
                    f"states: it needs encoder.train=none, not {self.train!r}"
                )
            if self.pooling == "cls":
                raise ConfigError(
                    "encoder.pooling_head starts as mean pooling: it cannot be combined with encoder.pooling=cls"
                )
            if self.pooling_queries < 1:
                raise ConfigError(f"encoder.pooling_queries must be >= 1, got {self.pooling_queries}")
            if not self.pooling_lr > 0:
                raise ConfigError(f"encoder.pooling_lr must be > 0, got {self.pooling_lr}")
        if self.train not in ENCODER_TRAIN_MODES:
            raise ConfigError(f"encoder.train must be one of {', '.join(ENCODER_TRAIN_MODES)}, got {self.train!r}")
        if self.train == "top-k" and self.top_layers < 1:
            raise ConfigError("encoder.train=top-k needs encoder.top_layers >= 1")
        if self.centring not in CENTRING_MODES:
            raise ConfigError(f"encoder.centring must be one of {', '.join(CENTRING_MODES)}, got {self.centring!r}")
        if self.centring != "none" and (self.train != "none" or self.pooling_head != "none"):
            raise ConfigError(
                "encoder.centring=language centres the frozen encoder's own vectors: it needs encoder.train=none "
                "and no pooling head"
            )
        check_encoder_identity(self.model, self.pooling, self.prefix, self.max_length, self.precision)


ENCODER_DEFAULTS = EncoderConfig()
"""The encoder's defaults, read (never changed) by whatever states them elsewhere: the command
line's options, :class:`mgl.encoders.spec.EncoderSpec`."""


VALIDATION_FRACTION = 0.2
"""The share of each language's training rows carved into a validation split where the data has none."""


@dataclass
class DataConfig:
    """Which data: a named data set (``webis-cls-10``, ``paws-x``) or a CSV/TSV/JSONL file."""

    name: str = "webis-cls-10"
    root: str | None = field(default=None, metadata=NO_EFFECT)
    domain: str | None = None
    sources: list[str] = field(default_factory=lambda: ["en", "fr", "de"])
    target: str = "ja"
    target_fraction: float | None = 0.1
    """Share of the target's training labels kept (0.1: the paper's 160 of 1600; 0: zero-shot)."""
    target_count: int | None = None
    """Alternatively, a number of target training labels kept (overrides the fraction; 0: zero-shot)."""
    unlabelled: str | None = field(default=None, metadata={"added_at": None})
    """A file of unlabelled target texts (a ``text`` column, or ``.txt`` with one text per line)."""
    rest_unlabelled: bool = field(default=False, metadata={"added_at": False})
    """The target's training rows that the subsample leaves (all of them at 0) become its unlabelled
    texts: a benchmark's stand-in for a pile of unlabelled text."""
    columns: str | None = None
    """For files: ``text=COL,label=COL[,text_pair=COL][,language=COL][,split=COL]``."""
    labels: str | None = None
    """For files: ``RAW=LABEL,...``; ``RAW=`` drops the record."""
    language: str | None = None
    """For files without a language column: the language of every record."""
    positive_label: str | None = None
    """The class whose precision/recall/F1 are reported in binary tasks (default: guessed)."""
    max_per_class: int | None = None
    """For quick runs and tests: keep at most this many instances per language, split and class
    (a fixed, seed-independent choice), applied after the target's subsample."""
    validation_fraction: float = field(default=VALIDATION_FRACTION, metadata={"added_at": VALIDATION_FRACTION})
    """For a language with training rows but no validation rows: the share of its training rows
    carved out as validation (stratified, fixed whatever the seed; for the target before the
    few-shot subsample). 0: carve nothing (such a language is then an error)."""
    keep_regions: bool = field(default=False, metadata={"added_at": False})
    """Keep a language tag's region subtag (``pt-BR`` and ``pt-PT`` two languages); default: a region
    folds into its language (``fr-FR`` -> ``fr``, see :mod:`mgl.data.languages`)."""
    encoding: str | None = field(default=None, metadata=NO_EFFECT)
    """For files: the text encoding (None: UTF-8, with or without a byte-order mark, or UTF-16
    with a byte-order mark, detected)."""

    def validate(self) -> None:
        if not self.sources:
            raise ConfigError("data.sources is empty: give at least one source language")
        # any spelling (yo, yor, yor_Latn) becomes the one canonical tag (mgl.data.languages)
        keep = self.keep_regions
        self.sources = [canonical_language(code, what="source language", keep_regions=keep) for code in self.sources]
        self.target = canonical_language(self.target, what="target language", keep_regions=keep)
        if self.target in self.sources:
            raise ConfigError(f"data.target {self.target!r} is also a source")
        if len(set(self.sources)) != len(self.sources):
            raise ConfigError(f"data.sources has repeats: {self.sources}")
        if self.target_fraction is not None and not 0.0 <= self.target_fraction <= 1.0:
            raise ConfigError(f"data.target_fraction must be in [0, 1] (0: zero-shot), got {self.target_fraction}")
        if self.target_count is not None and self.target_count < 0:
            raise ConfigError(f"data.target_count must be >= 0 (0: zero-shot), got {self.target_count}")
        if self.max_per_class is not None and self.max_per_class < 1:
            raise ConfigError(f"data.max_per_class must be >= 1, got {self.max_per_class}")
        if not 0.0 <= self.validation_fraction < 1.0:
            raise ConfigError(f"data.validation_fraction must be in [0, 1), got {self.validation_fraction}")
        if self.encoding is not None:
            import codecs

            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ConfigError(f"data.encoding: unknown text encoding {self.encoding!r}") from None


CHAR_CS = (0.3, 1.0, 3.0, 10.0, 30.0)


@dataclass
class CharNgramConfig:
    """``logreg-chars`` (:mod:`mgl.methods.char_ngram_logistic`): a logistic regression on character n-gram
    TF-IDF features of the texts themselves (``char_wb``, sublinear tf), for targets whose script or
    words the encoder hardly knows. Chosen on SIB-200 (docs/results/sib200.md): with these settings,
    inside the ensemble, +7.3 points on Tibetan and +5.6 on Acehnese in Arabic script. Every field was
    added after the first fingerprints (``added_at``): at these values a grid's fingerprint is as before."""

    ngram_min: int = field(default=1, metadata={"added_at": 1})
    ngram_max: int = field(default=4, metadata={"added_at": 4})
    min_df: int = field(default=2, metadata={"added_at": 2})
    """An n-gram is kept where at least this many training texts hold it."""
    max_features: int = field(default=300_000, metadata={"added_at": 300_000})
    """Most n-grams kept (the most frequent)."""
    cs: list[float] = field(default_factory=lambda: list(CHAR_CS), metadata={"added_at": list(CHAR_CS)})
    """The regression's inverse regularisation strengths, one chosen on the target's validation rows."""
    max_iter: int = field(default=3000, metadata={"added_at": 3000})

    def validate(self) -> None:
        if not 1 <= self.ngram_min <= self.ngram_max:
            raise ConfigError(f"chars: need 1 <= ngram_min <= ngram_max, got {self.ngram_min}, {self.ngram_max}")
        if self.min_df < 1 or self.max_features < 1 or self.max_iter < 1:
            raise ConfigError("chars.min_df, chars.max_features and chars.max_iter must be >= 1")
        if not self.cs or any(not c > 0 for c in self.cs):
            raise ConfigError(f"chars.cs must be positive numbers, got {self.cs}")


LOGISTIC_CS = (0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)


@dataclass
class LogisticConfig:
    """``logreg-pooled`` and ``logreg-target`` (:mod:`mgl.methods.logistic`): a standardised L2
    logistic regression on the frozen embeddings, its C chosen on the target's validation rows. Added
    after the first fingerprints (``added_at``): at these values a fingerprint is as before."""

    cs: list[float] = field(default_factory=lambda: list(LOGISTIC_CS), metadata={"added_at": list(LOGISTIC_CS)})
    """The inverse regularisation strengths tried (ties: the smaller C)."""
    max_iter: int = field(default=5000, metadata={"added_at": 5000})

    def validate(self) -> None:
        if not self.cs or any(not c > 0 for c in self.cs):
            raise ConfigError(f"logistic.cs must be positive numbers, got {self.cs}")
        if self.max_iter < 1:
            raise ConfigError(f"logistic.max_iter must be >= 1, got {self.max_iter}")


BASELINE_LRS = (1e-4, 3e-4, 1e-3, 3e-3)
BASELINE_WEIGHT_DECAYS = (0.0, 1e-3)


@dataclass
class BaselineConfig:
    """The neural baselines' own settings (:mod:`mgl.methods.baselines`). Their classifier's shape and
    training schedule are MGL's (``mgl.hidden_dim``, ``dropout``, ``train_episodes``, ``max_rounds``,
    ``patience`` ...) by design: a difference between MGL and a baseline is then the graph and the
    episodes, not the capacity or the budget. Added after the first fingerprints (``added_at``); a grid
    hashes this section beside its configuration, as it did before it was one."""

    lrs: list[float] = field(default_factory=lambda: list(BASELINE_LRS), metadata={"added_at": list(BASELINE_LRS)})
    """Learning rates of the classifier tried in every stage (chosen on validation data)."""
    weight_decays: list[float] = field(
        default_factory=lambda: list(BASELINE_WEIGHT_DECAYS), metadata={"added_at": list(BASELINE_WEIGHT_DECAYS)}
    )
    """Adam weight decays (L2) of the classifier tried in every stage."""
    batch_size: int | None = field(default=None, metadata={"added_at": None})
    """Minibatch size; None: ``mgl.n_query``."""
    reptile_inner_steps: int = field(default=5, metadata={"added_at": 5})
    """Reptile: k, minibatch steps on one language per inner loop."""
    reptile_eps: float = field(default=0.5, metadata={"added_at": 0.5})
    """Reptile: the outer step size epsilon in ``theta += eps * (phi - theta)``."""
    batch_candidates: bool = field(default=True, metadata=NO_EFFECT)
    """On frozen features, train a stage's grid points together as one stacked model
    (:mod:`mgl.methods.baselines.batched`; the same result as one after the other, faster)."""

    def validate(self) -> BaselineConfig:
        if not self.lrs or any(not lr > 0 for lr in self.lrs):
            raise ConfigError(f"baseline learning rates must be > 0, got {list(self.lrs)}")
        if not self.weight_decays or any(wd < 0 for wd in self.weight_decays):
            raise ConfigError(f"baseline weight decays must be >= 0, got {list(self.weight_decays)}")
        if self.batch_size is not None and self.batch_size < 1:
            raise ConfigError(f"baseline batch size must be >= 1, got {self.batch_size}")
        if self.reptile_inner_steps < 1:
            raise ConfigError(f"reptile inner steps must be >= 1, got {self.reptile_inner_steps}")
        if not 0 < self.reptile_eps <= 1:
            raise ConfigError(f"reptile epsilon must be in (0, 1], got {self.reptile_eps}")
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SetFitConfig:
    """``setfit`` and ``setfit-pooled`` (:mod:`mgl.methods.setfit_method`): SetFit, through its own library
    (the optional extra ``setfit``), on the same encoder weights and prefix as every other method. The
    library's defaults, except where a field says otherwise. Added after the first fingerprints
    (``added_at``)."""

    batch_size: int = field(default=16, metadata={"added_at": 16})
    """Pairs per contrastive step (SetFit's default)."""
    num_epochs: int = field(default=1, metadata={"added_at": 1})
    """Passes over the pairs (SetFit's default for the body)."""
    num_iterations: int | None = field(default=None, metadata={"added_at": None})
    """None: SetFit's default sampling (``oversampling``: twice the larger of the positive and negative
    pair counts); N: N positive and N negative pairs per labelled text."""
    max_steps: int | None = field(default=None, metadata={"added_at": None})
    """At most this many contrastive steps (None: as many as the pairs give). ``setfit-pooled`` takes
    as many steps as ``setfit`` would on the target's labels, so that pooling changes the pairs, not the budget."""
    freeze_word_embeddings: bool = field(default=False, metadata={"added_at": False})
    """Train the body without its word-embedding table (SetFit trains it; freezing saved a fifth of the
    time per step here, docs/results/setfit.md)."""

    def validate(self) -> None:
        if self.batch_size < 2 or self.num_epochs < 1:
            raise ConfigError("setfit.batch_size must be >= 2 and setfit.num_epochs >= 1")
        if (self.num_iterations is not None and self.num_iterations < 1) or (
            self.max_steps is not None and self.max_steps < 1
        ):
            raise ConfigError("setfit.num_iterations and setfit.max_steps must be >= 1 (or null)")


DEFAULT_METHOD = "ensemble"
"""The method ``mgl train`` trains by default on a frozen encoder: the ensemble of MGL, Mix, the
pooled logistic regression and the character n-gram regression, first on the Table 1 grid's
validation rows that no method selected on (85.50% against 85.44% for the former three-member
ensemble, 85.11% for the regression, 84.89% for Mix, 84.72% for MGL; test: 86.05 against 85.74 on
Table 1, 69.22 against 68.29 on SIB-200; docs/results/table1_ensemble.md, README)."""
DEFAULT_MEMBERS = ("mgl", "mix", "logreg-pooled", "logreg-chars")
"""An ensemble's default members (before 2026-12-05: ``mgl``, ``mix``, ``logreg-pooled``; grids
computed then recorded their members, and resume with ``--set members=mgl,mix,logreg-pooled``)."""


@dataclass
class RunConfig:
    mgl: MGLConfig = field(default_factory=MGLConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    data: DataConfig = field(default_factory=DataConfig)
    chars: CharNgramConfig = field(default_factory=CharNgramConfig)
    logistic: LogisticConfig = field(default_factory=LogisticConfig)
    baselines: BaselineConfig = field(default_factory=BaselineConfig)
    setfit: SetFitConfig = field(default_factory=SetFitConfig)
    seed: int = 0
    method: str | None = None
    """What ``mgl run`` / ``mgl train`` trains: a name of :mod:`mgl.methods` (``mgl`` and its
    variants, a baseline, ``logreg-pooled`` ...) or ``ensemble``. ``mgl`` trains the paper's
    method alone; MGL's options (``mgl.*``, the ablation flags) apply to MGL wherever it runs,
    as a member of an ensemble too. None (the default): :data:`DEFAULT_METHOD`, the ensemble,
    which had the best validation accuracy on the Table 1 grid (docs/results/table1_ensemble.md);
    MGL where the encoder trains or pools with a trained head (an ensemble's members share one
    frozen encoder). :meth:`resolved_method` says which."""
    members: list[str] = field(default_factory=lambda: list(DEFAULT_MEMBERS))
    """The ``ensemble``'s members, each trained as it is alone; the ensemble averages their
    class probabilities."""

    def resolved_method(self) -> str:
        """The method that runs: ``method``, or for None the default for this encoder setting."""
        if self.method:
            return self.method
        frozen = self.encoder.train == "none" and self.encoder.pooling_head == "none"
        return DEFAULT_METHOD if frozen else "mgl"

    def validate(self) -> RunConfig:
        self.mgl.validate()
        self.encoder.validate()
        self.data.validate()
        self.chars.validate()
        self.logistic.validate()
        self.baselines.validate()
        self.setfit.validate()
        return self

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], *, source: str = "configuration") -> RunConfig:
        cfg = cls()
        apply_dict(cfg, raw, source=source)
        return cfg


PRESETS = ("amazon", "search-relevance")


def preset_path(name: str) -> Path:
    return Path(str(resources.files("mgl") / "presets" / f"{name}.yaml"))


QUICK_SCALES = ("text", "pairs", "ablation")
"""The ``--quick`` smoke-test scales (``presets/quick/NAME.yaml``): ``text`` for grids of single
texts, ``pairs`` for grids of text pairs, ``ablation`` on top of ``text`` for the ablation grid."""


def quick_path(name: str) -> Path:
    if name not in QUICK_SCALES:
        raise ConfigError(f"unknown quick scale {name!r}; choose from {', '.join(QUICK_SCALES)}")
    return Path(str(resources.files("mgl") / "presets" / "quick" / f"{name}.yaml"))


def load_yaml(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    if not path.is_file():
        raise ConfigError("no such configuration file", source=path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"not valid YAML ({str(exc).splitlines()[0]})", source=path) from None
    if raw is None:  # an empty file (or only comments): no setting changed
        return {}
    if not isinstance(raw, dict):  # [] or 0 or "" is not an empty configuration: it is not one at all
        raise ConfigError(f"a configuration must be a mapping of sections, got {type(raw).__name__}", source=path)
    return raw


def load_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[str] | None = None,
    *,
    quick: Sequence[str] = (),
) -> RunConfig:
    """A preset (by name), then a YAML file, then the named ``--quick`` scales (:data:`QUICK_SCALES`),
    then ``key=value`` overrides, each on top of the last."""
    cfg = RunConfig()
    if preset is not None:
        if preset not in PRESETS:
            raise ConfigError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
        apply_dict(cfg, load_yaml(preset_path(preset)), source=f"preset {preset}")
    if config_file is not None:
        apply_dict(cfg, load_yaml(config_file), source=str(config_file))
    for name in quick:
        apply_dict(cfg, load_yaml(quick_path(name)), source=f"quick scale {name}")
    for item in overrides or []:
        apply_override(cfg, item)
    return cfg
