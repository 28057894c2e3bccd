"""Node features for episodes: cached frozen embeddings, or a trainable encoder run on the texts.

Both map instance indices (positions in the experiment's example table) to a
``[n, dim]`` tensor, so the trainer and the evaluator are the same code whether the
encoder is frozen (CPU default) or fine-tuned (on a GPU).

The contract every node-feature source keeps (:class:`NodeFeatures`; :class:`FrozenFeatures`,
:class:`EncoderFeatures`, :class:`PrefixFeatures` and :class:`PooledStateFeatures`):

* ``features(idx) -> Tensor[len(idx), dim]`` (float32, on the training device); ``dim``;
  ``len(features)``: the number of instances;
* ``trainable``: whether any weight behind the vectors learns (False only for cached vectors);
* ``parameters()``: the weights that learn, for the optimiser (empty when frozen);
* ``lr``: the learning rate of those weights, or None for the run's encoder rate
  (``mgl.encoder_lr``); a freshly initialised pooling head learns at its own rate
  (``encoder.pooling_lr``), not at the fine-tuning rate of pretrained weights;
* ``state_dict()`` / ``load_state_dict()``: exactly those weights, no more. Checkpoints, the
  grid's reset of the features before each method, and saved models carry this. The encoder's
  part (``encoder.safetensors``) is loaded with ``strict=False`` into the whole encoder (the
  frozen weights are not in it); a pooling head's (``pooling_head.safetensors``, keys
  ``pooling_head.*``) is the whole head and loads strictly;
* ``train()`` / ``eval()``: dropout and memo switches.

Code that needs the cached matrix itself (the logistic regressions) asks
``isinstance(features, FrozenFeatures)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol, cast

import numpy as np
import torch

from mgl.encoders.batching import plan_length_batches
from mgl.encoders.prefix_states import pad_states
from mgl.errors import DataError


class NodeFeatures(Protocol):
    """What MGL, the baselines and the evaluator read node features through (see the module docstring)."""

    dim: int
    trainable: bool
    lr: float | None

    def __len__(self) -> int: ...

    def __call__(self, idx: np.ndarray | Sequence[int]) -> torch.Tensor: ...

    def parameters(self) -> list[torch.nn.Parameter]: ...

    def train(self, mode: bool = True) -> None: ...

    def eval(self) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class FrozenFeatures:
    """Rows of a precomputed embedding matrix (the frozen encoder's cached output)."""

    trainable = False
    lr = None

    def __init__(
        self,
        embeddings: np.ndarray | torch.Tensor,
        device: torch.device | str = "cpu",
        *,
        centre: torch.Tensor | None = None,
    ):
        emb = torch.as_tensor(
            np.asarray(embeddings, dtype=np.float32) if not torch.is_tensor(embeddings) else embeddings
        )
        if emb.ndim != 2:
            raise DataError(f"embeddings must be a 2-d matrix, got shape {tuple(emb.shape)}")
        bad = ~torch.isfinite(emb).all(dim=1)
        if bad.any():
            first = int(bad.nonzero()[0])
            raise DataError(f"embedding of instance {first + 1} contains NaN or infinite values", source="embeddings")
        self.embeddings = emb.float().to(device)
        self.dim = int(emb.shape[1])
        self.centre = centre
        """``encoder.centring=language``: the target's mean vector, already taken from these rows."""

    def __len__(self) -> int:
        return int(self.embeddings.shape[0])

    def __call__(self, idx: np.ndarray | Sequence[int]) -> torch.Tensor:
        return self.embeddings[torch.as_tensor(np.asarray(idx, dtype=np.int64), device=self.embeddings.device)]

    def parameters(self) -> list[torch.nn.Parameter]:
        return []

    def train(self, mode: bool = True) -> None:  # nothing to switch
        pass

    def eval(self) -> None:
        pass

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class EncoderFeatures:
    """Runs a (partly) trainable :class:`~mgl.encoders.text_encoder.TextEncoder` on the instances' texts."""

    trainable = True
    lr = None

    def __init__(self, encoder, texts: Sequence[str], pairs: Sequence[str | None] | None = None, batch_size: int = 32):
        self.encoder = encoder
        self.texts = list(texts)
        self.pairs = list(pairs) if pairs is not None and any(p is not None for p in pairs) else None
        self.batch_size = batch_size
        self.dim = int(encoder.dim)

    def __len__(self) -> int:
        return len(self.texts)

    def __call__(self, idx: np.ndarray | Sequence[int]) -> torch.Tensor:
        idx = np.asarray(idx, dtype=np.int64)
        texts = [self.texts[i] for i in idx]
        pairs = [self.pairs[i] for i in idx] if self.pairs is not None else None
        if torch.is_grad_enabled() and self.encoder.training:
            return self.encoder(texts, pairs)
        out = []
        for start in range(0, len(texts), self.batch_size):
            sl = slice(start, start + self.batch_size)
            out.append(self.encoder(texts[sl], pairs[sl] if pairs is not None else None))
        return torch.cat(out) if out else torch.empty(0, self.dim)

    def parameters(self) -> list[torch.nn.Parameter]:
        return [p for p in self.encoder.parameters() if p.requires_grad]

    def train(self, mode: bool = True) -> None:
        self.encoder.train(mode)

    def eval(self) -> None:
        self.encoder.eval()

    def state_dict(self) -> dict:
        names = {name for name, p in self.encoder.named_parameters() if p.requires_grad}
        return {k: v.detach().clone() for k, v in self.encoder.state_dict().items() if k in names}

    def load_state_dict(self, state: dict) -> None:
        self.encoder.load_state_dict(state, strict=False)


class PrefixFeatures(EncoderFeatures):
    """Runs only an encoder's trainable top layers, on its cached lower-layer token states.

    For ``encoder.train=top-k`` with ``k`` top layers of ``L``: the states entering layer
    ``L - k`` of every instance were computed once (:func:`~mgl.encoders.prefix_states.compute_prefix_states`)
    and are read (memory-mapped, float16) for just the instances asked for, padded into a
    batch, and run through layers ``L - k .. L - 1`` and the pooling
    (:meth:`~mgl.encoders.text_encoder.TextEncoder.forward_from`). Gradients reach exactly the
    top ``k`` layers; the result equals :class:`EncoderFeatures` up to the float16 rounding of
    the stored states.

    Outside training (eval mode or no gradients) the pooled vectors are kept per instance until
    the weights can change again (:meth:`train`, :meth:`load_state_dict`), so evaluation
    computes each instance once however often it is drawn as support. Trainable weights,
    modes and state are those of :class:`EncoderFeatures` (the encoder's trainable layers).
    """

    trainable = True

    def __init__(self, encoder, store, locations: Sequence, batch_size: int = 32):
        mode, k = encoder.trainable
        if mode != "top-k" or k < 1:
            raise DataError("PrefixFeatures needs an encoder in top-k mode (encoder.set_trainable('top-k', k))")
        self.encoder = encoder
        self.store = store
        self.locations = list(locations)
        self.first_layer = encoder.num_layers - k
        self.batch_size = batch_size
        self.dim = int(encoder.dim)
        self._memo: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.locations)

    def _forward(self, idx: np.ndarray) -> torch.Tensor:
        hidden, mask = pad_states([self.store.read(self.locations[i]) for i in idx], self.dim)
        return self.encoder.forward_from(hidden, mask, self.first_layer)

    def __call__(self, idx: np.ndarray | Sequence[int]) -> torch.Tensor:
        return _memoised_call(
            self,
            idx,
            training=self.encoder.training,
            device=self.encoder.device,
            order=lambda todo: todo[np.argsort([self.locations[i].length for i in todo], kind="stable")],
        )

    def train(self, mode: bool = True) -> None:
        self._memo.clear()
        super().train(mode)

    def load_state_dict(self, state: dict) -> None:
        self._memo.clear()
        super().load_state_dict(state)


class PooledStateFeatures:
    """A trainable pooling head over a frozen encoder's cached final token states.

    The encoder's last hidden states of every instance were computed once
    (:func:`~mgl.encoders.prefix_states.compute_prefix_states` with every layer frozen, float16
    on disk). On first use they are read into one token table in memory (``dtype``: bfloat16
    for a bf16 encoder, whose states float16 holds exactly, else float32), and a call gathers
    just its instances' tokens: sorted by length and cut into a few batches with at most
    ``max_padding`` padding each (episodes mix short and long reviews), each run through the
    head (:class:`~mgl.encoders.pooling_head.AttentionPooling`, which starts as mean pooling).
    The encoder itself never runs and gets no gradient: the head's weights are the only ones
    that learn (``parameters()``, ``state_dict()`` with keys ``pooling_head.*``, loaded
    strictly), at their own rate ``lr``.

    Outside training the pooled vectors are kept per instance until the head can change again
    (:meth:`train`, :meth:`load_state_dict`), as in :class:`PrefixFeatures`.
    """

    trainable = True
    PREFIX = "pooling_head."

    def __init__(
        self,
        head: torch.nn.Module,
        store,
        locations: Sequence,
        *,
        device: torch.device | str = "cpu",
        lr: float | None = None,
        batch_size: int = 64,
        dtype: torch.dtype = torch.float32,
        max_padding: float = 0.25,
    ):
        self.head = head.to(device)
        self.store = store
        self.locations = list(locations)
        self.device = torch.device(device)
        self.lr = lr
        self.batch_size = batch_size
        self.dtype = dtype
        self.max_padding = max_padding
        self.dim = int(cast(Any, head).dim)  # a pooling head's output width
        if store.dim != self.dim:
            raise DataError(f"token states of size {store.dim} for a pooling head of size {self.dim}")
        self.lengths = torch.tensor([loc.length for loc in self.locations], dtype=torch.int64)
        self._starts = torch.cumsum(self.lengths, 0) - self.lengths  # each instance's first row in the table
        self._tokens: torch.Tensor | None = None
        self._memo: dict[int, torch.Tensor] = {}

    def __len__(self) -> int:
        return len(self.locations)

    def _table(self) -> torch.Tensor:
        """Every instance's tokens, one after another, then one zero row (what padding reads)."""
        if self._tokens is None:
            table = torch.zeros(int(self.lengths.sum()) + 1, self.dim, dtype=self.dtype)
            for at, loc in zip(self._starts.tolist(), self.locations):
                table[at : at + loc.length] = torch.from_numpy(np.asarray(self.store.read(loc), dtype=np.float32))
            self._tokens = table.to(self.device)
        return self._tokens

    def _forward(self, idx: np.ndarray) -> torch.Tensor:
        table = self._table()
        idx_t = torch.as_tensor(idx, dtype=torch.int64)
        batches = plan_length_batches(self.lengths[idx_t].tolist(), len(idx), None, self.max_padding)
        out = []
        for batch in batches:
            rows = idx_t[batch]
            steps = torch.arange(int(self.lengths[rows].max()))
            real = steps[None, :] < self.lengths[rows][:, None]
            gather = torch.where(real, self._starts[rows][:, None] + steps[None, :], table.shape[0] - 1)
            out.append(self.head(table[gather.to(self.device)], real.to(self.device)))
        pooled = torch.cat(out)
        order = torch.as_tensor([i for batch in batches for i in batch], dtype=torch.int64)
        return pooled[torch.argsort(order).to(pooled.device)]

    def __call__(self, idx: np.ndarray | Sequence[int]) -> torch.Tensor:
        return _memoised_call(self, idx, training=self.head.training, device=self.device)

    def parameters(self) -> list[torch.nn.Parameter]:
        return list(self.head.parameters())

    def train(self, mode: bool = True) -> None:
        if mode:  # the head may change from here on; eval mode keeps what was pooled
            self._memo.clear()
        self.head.train(mode)

    def eval(self) -> None:
        self.train(False)

    def state_dict(self) -> dict:
        return {self.PREFIX + k: v.detach().clone() for k, v in self.head.state_dict().items()}

    def load_state_dict(self, state: dict) -> None:
        """The head's weights, strictly: every key ``pooling_head.*`` and nothing else."""
        self._memo.clear()
        stray = [k for k in state if not k.startswith(self.PREFIX)]
        if stray:
            raise DataError(f"pooling-head state has keys outside the head: {', '.join(sorted(stray)[:3])}")
        self.head.load_state_dict({k[len(self.PREFIX) :]: v for k, v in state.items()}, strict=True)


def _memoised_call(features, idx, *, training: bool, device, order=None) -> torch.Tensor:
    """``features(idx)`` for the cached-state sources (:class:`PrefixFeatures`, :class:`PooledStateFeatures`).

    While training (gradients on, ``training``) every call runs ``features._forward`` and forgets
    what was kept; otherwise each instance's vector is computed once, ``features.batch_size`` at a
    time (``order``: how the missing instances are arranged first), and kept in ``features._memo``.
    """
    idx = np.asarray(idx, dtype=np.int64)
    if len(idx) == 0:
        return torch.empty(0, features.dim, device=device)
    memo = features._memo
    if torch.is_grad_enabled() and training:
        memo.clear()
        return features._forward(idx)
    todo = np.array(sorted({int(i) for i in idx if int(i) not in memo}), dtype=np.int64)
    if len(todo):
        if order is not None:
            todo = order(todo)
        with torch.no_grad():
            for start in range(0, len(todo), features.batch_size):
                part = todo[start : start + features.batch_size]
                for i, vector in zip(part, features._forward(part)):
                    memo[int(i)] = vector
    return torch.stack([memo[int(i)] for i in idx])


def trained_state(features) -> tuple[dict[str, torch.Tensor], torch.nn.Module | None]:
    """After training on ``features``, what a saved model keeps of them: ``(encoder weights,
    pooling head)``, the weights that trained (none for a frozen encoder with a pooling head,
    whose head is kept on its own, in eval mode; no head otherwise)."""
    if isinstance(features, PooledStateFeatures):  # the encoder stayed frozen
        return {}, features.head.eval()
    return {k: v.cpu() for k, v in features.state_dict().items()}, None
