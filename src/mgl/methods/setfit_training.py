"""SetFit's training, through its own library: the contrastive stage on pairs of labelled texts, then
its logistic regression (``setfit.Trainer``, the library's defaults unless :class:`mgl.config.SetFitConfig`
says otherwise).

The body is the run's encoder as a ``sentence-transformers`` model (its Transformer and a pooling of
the same kind, mean or [CLS]), every text with the encoder's prefix, at most ``max_length`` tokens;
the weights it learns are then held by an mgl :class:`~mgl.encoders.text_encoder.TextEncoder`
(:class:`mgl.methods.heads.setfit.SetFitHead`). Imported only where SetFit trains: the library is the
optional extra ``setfit``.
"""

from __future__ import annotations

import math
import tempfile
from collections.abc import Sequence

import numpy as np
from datasets import Dataset
from sentence_transformers import SentenceTransformer
from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
from setfit import SetFitModel, Trainer, TrainingArguments
from setfit.sampler import ContrastiveDataset
from sklearn.linear_model import LogisticRegression

from mgl.config import SetFitConfig
from mgl.encoders.text_encoder import TextEncoder
from mgl.methods.heads.logistic import LogisticHead, every_class
from mgl.methods.heads.setfit import SetFitHead, load_weights


def default_steps(labels: Sequence[int], cfg: SetFitConfig) -> int:
    """The contrastive steps SetFit takes on these labels with ``cfg``: its own pair sampler's count
    (``setfit.sampler.ContrastiveDataset``), in batches, over the epochs."""
    pairs = len(ContrastiveDataset([str(i) for i in range(len(labels))], list(labels), False, cfg.num_iterations))
    return math.ceil(pairs / cfg.batch_size) * cfg.num_epochs


def train_setfit(
    encoder: TextEncoder,
    texts: Sequence[str],
    labels: Sequence[int],
    num_classes: int,
    cfg: SetFitConfig,
    *,
    seed: int,
    max_steps: int | None = None,
    progress: bool = False,
) -> tuple[SetFitHead, int]:
    """SetFit trained on ``texts`` and ``labels``, starting from ``encoder``'s weights (which it then
    holds, adapted), at most ``max_steps`` contrastive steps (None: as many as SetFit's pairs give):
    ``(head, contrastive steps taken)``."""
    spec = encoder.spec
    word = Transformer(encoder.source_path, max_seq_length=spec.max_length)
    pooling = Pooling(word.get_embedding_dimension(), pooling_mode=spec.pooling)
    body = SentenceTransformer(modules=[word, pooling], device=str(encoder.device))
    word.auto_model.load_state_dict(encoder.model.state_dict(), strict=False)  # the run's weights, exactly
    if cfg.freeze_word_embeddings:
        word.auto_model.get_input_embeddings().weight.requires_grad_(False)
    model = SetFitModel(model_body=body, model_head=LogisticRegression())
    prefix = spec.prefix or ""
    with tempfile.TemporaryDirectory(prefix="mgl-setfit-") as tmp:
        args = TrainingArguments(
            output_dir=tmp,
            batch_size=cfg.batch_size,
            num_epochs=cfg.num_epochs,
            num_iterations=cfg.num_iterations,
            max_steps=max_steps if max_steps is not None else -1,
            seed=seed,
            save_strategy="no",
            report_to="none",
            show_progress_bar=progress,
        )
        dataset = Dataset.from_dict({"text": [prefix + t for t in texts], "label": [int(y) for y in labels]})
        trainer = Trainer(model=model, args=args, train_dataset=dataset)
        trainer.train()
        taken = int(trainer.st_trainer.state.global_step)  # the sentence-transformers trainer SetFit drives
    load_weights(encoder, {k: v.detach().cpu() for k, v in word.auto_model.state_dict().items()})
    lr = model.model_head
    classes = [int(c) for c in lr.classes_]
    coef, intercept = every_class(lr.coef_, lr.intercept_, classes, num_classes)
    dim = coef.shape[1]
    logistic = LogisticHead(np.zeros(dim), np.ones(dim), coef, intercept, num_classes)
    return SetFitHead(encoder, logistic), taken
