"""What one worker does: it loads the model or the encoder once, then handles one item a call.

Workers are built by an executor (:mod:`mgl.bulk.executors`) in its own process or Ray actor
from a class and keyword arguments. An item and a result are dicts of JSON values and numpy
arrays. Workers write nothing: a result goes back to the driver, which writes it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mgl.bulk.plan import ShardSpec, read_shard
from mgl.model.prediction_model import load_for_prediction, set_cpu_threads


def set_threads(threads: int | None) -> None:
    """torch's threads in this worker (None: leave torch's default)."""
    if threads is not None:
        set_cpu_threads(threads)


class ShardPredictor:
    """Predicts whole shards (:meth:`mgl.bulk.plan.ShardSpec.to_dict`) with a saved model.

    A call reads the shard's rows from its files, embeds them (not through the cache) and
    returns ``{"k", "ids", "probs", "label_names"}``; :meth:`predict` is the prediction alone
    (the Ray Data path's actors call it on the rows Ray read)."""

    def __init__(
        self,
        model_dir: str,
        *,
        device: str | None = None,
        precision: str | None = None,
        seed: int | None = None,
        text_column: str = "text",
        pair_column: str | None = None,
        id_column: str | None = None,
        batch_size: int | None = None,
        threads: int | None = None,
    ):
        set_threads(threads)
        self.clf = load_for_prediction(model_dir, device=device, precision=precision, seed=seed, threads=threads)
        self.text_column, self.pair_column, self.id_column = text_column, pair_column, id_column
        self.batch_size = batch_size

    def predict(self, texts: list[str], pairs: list[str | None] | None) -> np.ndarray:
        """The class probabilities of ``texts`` (and their ``pairs``), as float64."""
        probs = self.clf.predict_proba_embeddings(
            self.clf.embed(texts, pairs, batch_size=self.batch_size), texts, pairs
        )
        return np.asarray(probs, dtype=np.float64)

    def __call__(self, item: dict) -> dict:
        spec = ShardSpec.from_dict(item)
        rows = read_shard(spec, text_column=self.text_column, pair_column=self.pair_column, id_column=self.id_column)
        return {
            "k": spec.k,
            "ids": rows.ids,
            "probs": self.predict(rows.texts, rows.pairs),
            "label_names": list(self.clf.label_names),
        }


class ChunkEmbedder:
    """Embeds chunks of texts with a frozen encoder (:class:`mgl.encoders.EncoderSpec` fields).

    A call takes ``{"chunk", "texts", "pairs"}`` and returns ``{"chunk", "vectors", "identity"}``;
    the driver stores the vectors in the embedding cache under the encoder's identity."""

    def __init__(self, spec: dict, *, device: str | None = None, threads: int | None = None):
        from mgl.encoders.text_encoder import EncoderSpec, TextEncoder

        set_threads(threads)
        self.encoder = TextEncoder(EncoderSpec(**spec), device=device)

    def __call__(self, item: dict) -> dict:
        pairs: Sequence[str | None] | None = item.get("pairs")
        vectors = self.encoder.embed(item["texts"], pairs, batch_size=item.get("batch_size", 32), progress=False)
        return {
            "chunk": item["chunk"],
            "vectors": np.asarray(vectors, dtype=np.float32),
            "identity": self.encoder.identity,
        }
