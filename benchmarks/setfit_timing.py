"""SetFit on this CPU: seconds per contrastive step of the real ``setfit`` library on the embedded e5-small.

Sizes the SetFit comparison (issue 43) before it runs: SetFit fine-tunes a sentence encoder on
pairs of labelled texts (same class: positive; different: negative), then fits a logistic
regression on the adapted vectors. Here the body is the embedded multilingual-e5-small
(``mgl encoder prepare``), a ``sentence_transformers`` Transformer + mean Pooling, every input
prefixed ``query: `` as mgl embeds it, 256 tokens at most. For each data set (SIB-200 sentences:
the Yoruba target's 10% training labels; Webis-CLS-10 reviews: the Japanese books target's 10%)
and with the 96M-parameter word-embedding table trainable or frozen, it times
``Trainer.train()`` for ``--short`` and ``--long`` steps (batch 16 pairs, SetFit's default) and
reports the difference per step, so the start-up (building pairs, the first step) is left out. It
also reports how many steps one epoch of SetFit's default sampling takes on those labels (its own
pair sampler, :func:`mgl.methods.setfit_training.default_steps`), which sizes a run at the library's defaults.

    pip install -e '.[setfit]'
    MGL_DATA=../shared/data python benchmarks/setfit_timing.py --out docs/results/raw/setfit_timing.json
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

from _common import claim_out, require_mgl_data, write_out

PREFIX = "query: "


def labelled_texts(root, name: str) -> tuple[list[str], list[int]]:
    from mgl.config import load_config
    from mgl.data.preparation import prepare_data

    if name == "sib200":
        settings = ["data.name=sib-200", f"data.root={root / 'sib-200'}", "data.sources=en,fr,zh,arb", "data.target=yo"]
    else:
        settings = [f"data.root={root / 'cls-acl10-unprocessed'}", "data.domain=books", "data.target=ja"]
    cfg = load_config("amazon", None, settings).validate()
    data = prepare_data(cfg.data, 0)
    rows = data.table.rows(languages=data.target, split="train")
    return [PREFIX + data.examples[i].text for i in rows], [int(data.table.labels[i]) for i in rows]


def body(freeze_embeddings: bool):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import modules as models

    from mgl.encoders.embedded_e5 import embedded_e5_dir, prepare_embedded_e5

    prepare_embedded_e5(progress=False)
    word = models.Transformer(str(embedded_e5_dir()), max_seq_length=256)
    model = SentenceTransformer(modules=[word, models.Pooling(word.get_embedding_dimension(), "mean")], device="cpu")
    if freeze_embeddings:
        word.auto_model.embeddings.word_embeddings.weight.requires_grad_(False)
    return model


def train_seconds(texts: list[str], labels: list[int], steps: int, freeze: bool) -> tuple[float, int]:
    """(seconds of ``Trainer.train()`` for ``steps`` steps, steps of one default epoch)."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments
    from sklearn.linear_model import LogisticRegression

    model = SetFitModel(model_body=body(freeze), model_head=LogisticRegression(max_iter=5000))
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(
            output_dir=tmp, batch_size=16, num_epochs=1, max_steps=steps, seed=0, save_strategy="no", report_to="none"
        )
        trainer = Trainer(model=model, args=args, train_dataset=Dataset.from_dict({"text": texts, "label": labels}))
        t0 = time.perf_counter()
        trainer.train()
        seconds = time.perf_counter() - t0
    from mgl.config import SetFitConfig
    from mgl.methods.setfit_training import default_steps

    return seconds, default_steps(labels, SetFitConfig(batch_size=16))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--short", type=int, default=2)
    parser.add_argument("--long", type=int, default=10)
    parser.add_argument("--out", default="benchmarks/out/setfit_timing.json")
    args = parser.parse_args(argv)
    root = require_mgl_data("setfit_timing")
    if root is None:
        return 2
    claim_out(args.out)
    import setfit
    import torch

    from mgl.provenance import machine_info

    rows = []
    for name in ("sib200", "webis"):
        texts, labels = labelled_texts(root, name)
        for freeze in (True, False):
            short, epoch_steps = train_seconds(texts, labels, args.short, freeze)
            long, _ = train_seconds(texts, labels, args.long, freeze)
            per_step = (long - short) / (args.long - args.short)
            row = {
                "data": name,
                "labelled_texts": len(texts),
                "word_embeddings": "frozen" if freeze else "trained",
                "seconds_per_step": round(per_step, 3),
                "default_epoch_steps": epoch_steps,
                "default_epoch_minutes": round(per_step * epoch_steps / 60, 1),
            }
            print(row, flush=True)
            rows.append(row)
    write_out(
        args.out,
        {
            "command": "python benchmarks/setfit_timing.py",
            "batch_pairs": 16,
            "steps": [args.short, args.long],
            "rows": rows,
            "setfit": setfit.__version__,
            "torch_threads": torch.get_num_threads(),
            "machine": machine_info(),
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
