"""The model card (``README.md``) written into every saved model directory, as Hugging Face does.

It is rendered from the model's own ``mgl_model.json`` (:func:`render_model_card`), so it says
only what the directory holds: languages, labels, training data per language and split, the
settings, validation and test metrics, the encoder's identity and the date it was saved.
"""

from __future__ import annotations

from typing import Any


def _pct(value: Any) -> str:
    return f"{100 * value:.2f}" if isinstance(value, (int, float)) else "-"


def render_model_card(meta: dict[str, Any]) -> str:
    """Markdown for a saved model's ``mgl_model.json`` content ``meta``."""
    report = meta.get("report", {})
    cfg = meta.get("config", {})
    enc = meta.get("encoder", {})
    sources, target = meta.get("sources", []), meta.get("target")
    lines = [
        "---",
        "library_name: mgl",
        f"language: [{', '.join([*sources, target or ''])}]",
        "pipeline_tag: text-classification",
        "tags: [few-shot, cross-lingual, meta-graph-learning]",
        "---",
        "",
        f"# MGL classifier: {'+'.join(sources)} -> {target}",
        "",
        "A few-shot cross-lingual text classifier trained by Meta Graph Learning (Li et al., EMNLP 2020) "
        "with [mgl](https://github.com/). Each input is a query node of a graph over labelled support "
        "examples of the source languages.",
        "",
        f"- **Labels:** {', '.join(meta.get('labels', []))}",
        f"- **Source languages:** {', '.join(sources)}; **target:** {target}",
        ("- **Training texts inside:** yes: `support.jsonl` holds the text of every labelled example in the "
         "support bank (the examples each input is compared with); whoever gets this folder can read them. "
         "`mgl train --no-support-texts` saves ids and labels only."
         if meta.get("support_texts", True) else
         "- **Training texts inside:** no: `support.jsonl` holds the support examples' ids, languages and "
         "labels, not their texts (saved with `--no-support-texts`); explanations name neighbours by id."),
        f"- **Encoder:** `{enc.get('spec', {}).get('model')}` ({enc.get('train', 'none')} during training), "
        f"identity `{enc.get('identity')}`"
        + (f"; pooling: a trained `{cfg['encoder']['pooling_head']}` head over its final token states "
           f"({cfg['encoder'].get('pooling_queries')} queries)"
           if cfg.get("encoder", {}).get("pooling_head", "none") != "none" else ""),
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
        lines += ["", "Validation rows carved from the training rows (the data had none): "
                  + ", ".join(f"{lang} {c['validation']} of {c['validation'] + c['train']}" for lang, c in carved.items())
                  + "."]
    lines += ["", "## Metrics", "", "| stage | best round | validation accuracy | validation NLL |", "|---|---:|---:|---:|"]
    for stage in report.get("stages", []):
        nll = stage.get("best_nll")
        lines.append(f"| {stage.get('name')} | {stage.get('best_round')} | {_pct(stage.get('best_accuracy'))} | "
                     f"{nll:.4f} |" if isinstance(nll, (int, float)) else f"| {stage.get('name')} | - | - | - |")
    if report.get("n_test"):
        lines += ["", f"Test ({target}, {report['n_test']} instances): accuracy {_pct(report.get('accuracy'))}, "
                  f"precision {_pct(report.get('precision'))}, recall {_pct(report.get('recall'))}, "
                  f"F1 {_pct(report.get('f1'))} ({report.get('averaging')})."]
    else:
        lines += ["", "Nothing was evaluated on test data: the target had no test rows."]
    mgl = cfg.get("mgl", {})
    lines += ["", "## Settings", "", "| setting | value |", "|---|---|"]
    for key in ("n_support", "n_query", "k_neighbours", "train_episodes", "test_episodes", "eval_times", "lr",
                "gcn_layers", "max_rounds", "patience", "learn_sigma", "meta_train"):
        if key in mgl:
            lines.append(f"| mgl.{key} | {mgl[key]} |")
    lines.append(f"| seed | {cfg.get('seed')} |")
    lines += ["", "## Use", "", "```python", "from mgl import MGLClassifier", "",
              "clf = MGLClassifier.from_pretrained(\"PATH\")", "print(clf.explain([\"...\"])[0].to_dict())", "```",
              "", "or `mgl predict --model PATH --input FILE`, or `mgl serve --model PATH`.", ""]
    return "\n".join(lines)
