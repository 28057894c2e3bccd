"""Node features for episodes: cached frozen embeddings, or a trainable encoder run on the texts.

Both map instance indices (positions in the experiment's example table) to a
``[n, dim]`` tensor, so the trainer and the evaluator are the same code whether the
encoder is frozen (CPU default) or fine-tuned (on a GPU).

The contract every node-feature source keeps (:class:`NodeFeatures`; today
:class:`FrozenFeatures`, :class:`EncoderFeatures` and :class:`PrefixFeatures`):

* ``features(idx) -> Tensor[len(idx), dim]`` (float32, on the training device); ``dim``;
* ``trainable``: whether any weight behind the vectors learns (False only for cached vectors);
* ``parameters()``: the weights that learn, for the optimiser (empty when frozen);
* ``state_dict()`` / ``load_state_dict()``: exactly those weights, no more. Checkpoints, the
  grid's reset of the encoder before each method, and saved models (``encoder.safetensors``)
  carry this. Today the encoder's part is loaded with ``strict=False`` into the whole encoder
  (the frozen weights are not in it); a trainable head of its own (issue 18) must come back
  strictly;
* ``train()`` / ``eval()``: dropout and memo switches.

Code that needs the cached matrix itself (the logistic regressions) asks
``isinstance(features, FrozenFeatures)``.
"""

from __future__ import annotations

from typing import Protocol, Sequence

import numpy as np
import torch

from mgl.errors import DataError


class NodeFeatures(Protocol):
    """What MGL, the baselines and the evaluator read node features through (see the module docstring)."""

    dim: int
    trainable: bool

    def __call__(self, idx: np.ndarray | Sequence[int]) -> torch.Tensor: ...

    def parameters(self) -> list[torch.nn.Parameter]: ...

    def train(self, mode: bool = True) -> None: ...

    def eval(self) -> None: ...

    def state_dict(self) -> dict: ...

    def load_state_dict(self, state: dict) -> None: ...


class FrozenFeatures:
    """Rows of a precomputed embedding matrix (the frozen encoder's cached output)."""

    trainable = False

    def __init__(self, embeddings: np.ndarray | torch.Tensor, device: torch.device | str = "cpu"):
        emb = torch.as_tensor(np.asarray(embeddings, dtype=np.float32) if not torch.is_tensor(embeddings) else embeddings)
        if emb.ndim != 2:
            raise DataError(f"embeddings must be a 2-d matrix, got shape {tuple(emb.shape)}")
        bad = ~torch.isfinite(emb).all(dim=1)
        if bad.any():
            first = int(bad.nonzero()[0])
            raise DataError(f"embedding of instance {first + 1} contains NaN or infinite values", source="embeddings")
        self.embeddings = emb.float().to(device)
        self.dim = int(emb.shape[1])

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

    def __init__(self, encoder, texts: Sequence[str], pairs: Sequence[str | None] | None = None, batch_size: int = 32):
        self.encoder = encoder
        self.texts = list(texts)
        self.pairs = list(pairs) if pairs is not None and any(p is not None for p in pairs) else None
        self.batch_size = batch_size
        self.dim = int(encoder.dim)

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

    def _forward(self, idx: np.ndarray) -> torch.Tensor:
        from mgl.encoders.prefix_states import pad_states

        hidden, mask = pad_states([self.store.read(self.locations[i]) for i in idx], self.dim)
        return self.encoder.forward_from(hidden, mask, self.first_layer)

    def __call__(self, idx: np.ndarray | Sequence[int]) -> torch.Tensor:
        idx = np.asarray(idx, dtype=np.int64)
        if len(idx) == 0:
            return torch.empty(0, self.dim, device=self.encoder.device)
        if torch.is_grad_enabled() and self.encoder.training:
            self._memo.clear()
            return self._forward(idx)
        todo = np.array(sorted({int(i) for i in idx if int(i) not in self._memo}), dtype=np.int64)
        if len(todo):
            todo = todo[np.argsort([self.locations[i].length for i in todo], kind="stable")]  # similar lengths together
            with torch.no_grad():
                for start in range(0, len(todo), self.batch_size):
                    part = todo[start:start + self.batch_size]
                    for i, vector in zip(part, self._forward(part)):
                        self._memo[int(i)] = vector
        return torch.stack([self._memo[int(i)] for i in idx])

    def train(self, mode: bool = True) -> None:
        self._memo.clear()
        super().train(mode)

    def load_state_dict(self, state: dict) -> None:
        self._memo.clear()
        super().load_state_dict(state)
