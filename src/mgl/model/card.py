"""The model card (``README.md``) written into every saved model directory, as Hugging Face does.

It is rendered from the model's own ``mgl_model.json`` (:func:`render_model_card`), so it says
only what the directory holds: languages, labels, training data per language and split, the
settings, validation and test metrics, the encoder's identity and the date it was saved. Its
metadata block is ``huggingface_hub``'s :class:`~huggingface_hub.ModelCardData` (what the Hub
reads); the body is Markdown joined here, since the Hub's templates hold none of these sections.
"""

from __future__ import annotations

from typing import Any

from mgl.data.languages import is_canonical, language_label
from mgl.data.preparation import SMALL_VALIDATION
from mgl.methods import display_name


def _pct(value: Any) -> str:
    return f"{100 * value:.2f}" if isinstance(value, (int, float)) else "-"


def render_model_card(meta: dict[str, Any]) -> str:
    """Markdown for a saved model's ``mgl_model.json`` content ``meta``."""
    report = meta.get("report", {})
    cfg = meta.get("config", {})
    enc = meta.get("encoder", {})
    sources, target = meta.get("sources", []), meta.get("target")
    method = meta.get("method", "mgl")

    members = (
        (meta.get("heads", {}).get(method, {}).get("settings", {}).get("members") or []) if method == "ensemble" else []
    )
    what = {
        "mgl": "Meta Graph Learning (Li et al., EMNLP 2020): each input is a query node of a graph over "
        "labelled support examples of the source languages.",
        "ensemble": "an ensemble: the mean of the class probabilities of "
        + ", ".join(display_name(m) for m in members)
        + ", each trained as it is alone.",
    }
    bank_file = "examples.jsonl" if meta.get("version", 1) >= 2 else "support.jsonl"
    from huggingface_hub import ModelCardData

    # the metadata block the Hugging Face Hub reads, written by its own card classes
    card_data = ModelCardData(
        library_name="mgl",
        language=[*sources, *([target] if target else [])],
        pipeline_tag="text-classification",
        tags=["few-shot", "cross-lingual", "meta-graph-learning"],
    )
    lines = [
        "---",
        card_data.to_yaml(),
        "---",
        "",
        f"# {display_name(method)} classifier: {'+'.join(sources)} -> {target}",
        "",
        "A few-shot cross-lingual text classifier trained with mgl (`pip install mgl-clt`); method: "
        + what.get(method, f"{display_name(method)} (`{method}`)."),
        "",
        f"- **Method:** `{method}`" + (f" (members: {', '.join(f'`{m}`' for m in members)})" if members else ""),
        f"- **Labels:** {', '.join(meta.get('labels', []))}",
        f"- **Source languages:** {', '.join(_label(s) for s in sources)}; **target:** {_label(target)}",
        (
            f"- **Training texts inside:** yes: `{bank_file}` holds the text of every labelled training example "
            "(the examples inputs are compared with); whoever gets this folder can read them. "
            "`mgl train --no-support-texts` saves ids and labels only."
            if meta.get("support_texts", True)
            else f"- **Training texts inside:** no: `{bank_file}` holds the labelled examples' ids, languages and "
            "labels, not their texts (saved with `--no-support-texts`); explanations name neighbours by id."
        ),
        *(
            [
                "- **Reads the texts themselves:** yes: its character n-gram member (`logreg-chars`) reads each "
                "input's characters beside the encoder's vectors; its vocabulary (character n-grams of the "
                "training texts, each seen in at least `chars.min_df` of them) is inside `head.safetensors`, "
                "with or without the training texts."
            ]
            if any(h.get("kind") == "char-ngram" for h in meta.get("heads", {}).values())
            else []
        ),
        f"- **Encoder:** `{enc.get('spec', {}).get('model')}` ({enc.get('train', 'none')} during training), "
        f"identity `{enc.get('identity')}`"
        + (
            f"; pooling: a trained `{cfg['encoder']['pooling_head']}` head over its final token states "
            f"({cfg['encoder'].get('pooling_queries')} queries)"
            if cfg.get("encoder", {}).get("pooling_head", "none") != "none"
            else ""
        ),
        f"- **Saved:** {meta.get('saved', '-')}",
        "",
        "## Training data",
        "",
        "| language | train | validation | test |",
        "|---|---:|---:|---:|",
    ]
    for lang, counts in report.get("counts", {}).items():
        lines.append(f"| {lang} | {counts.get('train', 0)} | {counts.get('validation', 0)} | {counts.get('test', 0)} |")
    carved = report.get("validation_carved") or {}
    if carved:
        lines += [
            "",
            "Validation rows carved from the training rows (the data had none): "
            + ", ".join(f"{lang} {c['validation']} of {c['validation'] + c['train']}" for lang, c in carved.items())
            + ".",
        ]
    n_validation = (report.get("counts", {}).get(target) or {}).get("validation")
    if report.get("zero_shot"):
        lines += [
            "",
            f"**Zero-shot:** the model never saw a label in {target}. It was trained on the sources alone; "
            "settings and early stopping were chosen on the sources' validation rows, and the probabilities are "
            "not calibrated for the target (temperature 1).",
        ]
    if report.get("unlabelled_texts"):
        lines += ["", f"Unlabelled {target} texts read in training: {report['unlabelled_texts']}."]
    if not report.get("zero_shot") and isinstance(n_validation, int) and n_validation < SMALL_VALIDATION:
        lines += [
            "",
            f"**A small validation set:** the target has {n_validation} validation rows. They decide the "
            "calibration temperature, the choice of settings and early stopping, so those choices are noisy.",
        ]
    lines += ["", "## Metrics"]
    if report.get("stages"):  # the training stages of one method (an ensemble's members have their own)
        lines += ["", "| stage | best round | validation accuracy | validation NLL |", "|---|---:|---:|---:|"]
    for stage in report.get("stages", []):
        nll = stage.get("best_nll")
        lines.append(
            f"| {stage.get('name')} | {stage.get('best_round')} | {_pct(stage.get('best_accuracy'))} | {nll:.4f} |"
            if isinstance(nll, (int, float))
            else f"| {stage.get('name')} | - | - | - |"
        )
    if report.get("n_test"):
        lines += [
            "",
            f"Test ({target}, {report['n_test']} instances): accuracy {_pct(report.get('accuracy'))}, "
            f"precision {_pct(report.get('precision'))}, recall {_pct(report.get('recall'))}, "
            f"F1 {_pct(report.get('f1'))} ({report.get('averaging')}).",
        ]
    else:
        lines += ["", "Nothing was evaluated on test data: the target had no test rows."]
    if report.get("val_accuracy") is not None:
        lines += [
            "",
            f"Validation ({target}, {report.get('n_validation')} instances): accuracy "
            f"{_pct(report.get('val_accuracy'))}.",
        ]
    if report.get("members"):
        lines += ["", "| member | validation accuracy | test accuracy |", "|---|---:|---:|"]
        for name, m in report["members"].items():
            lines.append(
                f"| {display_name(name)} | {_pct(m.get('validation_accuracy'))} | {_pct(m.get('test_accuracy'))} |"
            )
        lines.append(
            f"| **{display_name(method)}** | {_pct(report.get('val_accuracy'))} | {_pct(report.get('accuracy'))} |"
        )
    cal = report.get("calibration") or {}
    if "ece_validation_before" in cal:
        lines += [
            "",
            "## Calibration",
            "",
            f"Log-probabilities are divided by a temperature T = {cal['temperature']:.3f}, fitted on "
            f"{cal.get('fitted_on')} (temperature scaling; labels never change). Expected calibration error "
            "(15 bins):",
            "",
            "| data | before | after |",
            "|---|---:|---:|",
            f"| validation | {cal['ece_validation_before']:.4f} | {cal['ece_validation_after']:.4f} |",
        ]
        if "ece_test_before" in cal:
            lines.append(f"| test | {cal['ece_test_before']:.4f} | {cal['ece_test_after']:.4f} |")
    mgl = cfg.get("mgl", {})
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    for key in (
        "n_support",
        "n_query",
        "k_neighbours",
        "train_episodes",
        "test_episodes",
        "eval_times",
        "lr",
        "gcn_layers",
        "max_rounds",
        "patience",
        "learn_sigma",
        "meta_train",
    ):
        if key in mgl:
            lines.append(f"| mgl.{key} | {mgl[key]} |")
    lines.append(f"| seed | {cfg.get('seed')} |")
    lines += [
        "",
        "## Use",
        "",
        "```python",
        "from mgl import Classifier",
        "",
        'clf = Classifier.from_pretrained("PATH")',
        'print(clf.explain(["..."])[0].to_dict())',
        "```",
        "",
        "or `mgl predict --model PATH --input FILE`, or `mgl serve --model PATH`.",
        "",
    ]
    return "\n".join(lines)


def _label(tag) -> str:
    """A language's tag and English name (``yo (Yoruba)``); the tag alone where it is no known code."""

    return language_label(tag) if is_canonical(tag) else str(tag)
