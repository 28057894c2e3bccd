"""The saved model directory: written atomically, checked on load, every method in one format.

A saved model (format ``mgl-model`` version 2) is a self-contained directory:

* ``mgl_model.json`` — format and version, the ``method`` (as transformers' ``model_type``), each
  head's ``kind`` and settings (an ensemble: its own entry and one per member), the calibration
  temperature, the run configuration, the encoder reference (hub name, local path, or the embedded
  default) and identity, the label vocabulary, sources and target, the training report;
* ``head.safetensors`` — every head's arrays, keyed ``<head>/<name>`` (the logistic regression
  too: arrays, never a pickle);
* ``examples.jsonl`` and ``example_embeddings.safetensors`` — the labelled training examples of
  every language (text, pair, label, language, record id; texts left out with
  ``support_texts=False``) and their embeddings by the final encoder: MGL draws its support sets
  from the sources' rows, and every explanation names the nearest;
* ``encoder.safetensors`` — the encoder weights that were trained (only when the encoder was
  trained); ``pooling_head.safetensors`` — a trained pooling head, whole; ``centre.safetensors`` —
  with ``encoder.centring=language``, the target's mean vector, taken from every input's;
* ``README.md`` — the model card; ``checksums.json`` — SHA-256 of every file, checked on load.

It loads through :data:`mgl.methods.heads.HEAD_KINDS`, strictly: an unknown method or kind, a missing or
extra tensor, a file whose checksum differs, is an error naming the file. Version 1 (MGL only:
``model.safetensors``, ``support.jsonl``, ``support_embeddings.safetensors``) still loads and
predicts as before. The directory is written into a temporary sibling and renamed into place,
so a crash never leaves a half-written model that looks complete.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mgl.config import RunConfig
from mgl.data.examples import Example
from mgl.data.preparation import positive_index
from mgl.data.records import RecordReader
from mgl.errors import ConfigError, MGLError
from mgl.io import sha256_file, write_error, write_json_atomic
from mgl.methods.heads import HEAD_KINDS, EnsembleHead, Head, LabelledBank
from mgl.methods.registry import method_info
from mgl.model.card import render_model_card
from mgl.outputs import MODEL_FILES, check_model_destination

FORMAT = "mgl-model"
FORMAT_VERSION = 2
FILES = ("mgl_model.json", "head.safetensors", "examples.jsonl", "example_embeddings.safetensors")
V1_FILES = ("mgl_model.json", "model.safetensors", "support.jsonl", "support_embeddings.safetensors")


def _head_entries(name: str, head: Head) -> dict[str, dict[str, Any]]:
    entries = {name: {"kind": head.kind, "settings": head.settings()}}
    if isinstance(head, EnsembleHead):
        for member, sub in head.members.items():
            entries.update(_head_entries(member, sub))
    return entries


def _head_tensors(name: str, head: Head) -> dict[str, torch.Tensor]:
    out = {f"{name}/{k}": v for k, v in head.tensors().items()}
    if isinstance(head, EnsembleHead):
        for member, sub in head.members.items():
            out.update(_head_tensors(member, sub))
    return out


def _save_tensors(tensors: dict[str, torch.Tensor], path: Path) -> None:
    """A safetensors file written through Python's file layer, so a full disk is an OSError naming it."""
    from safetensors.torch import save

    with open(path, "wb") as fh:
        fh.write(save(tensors))


def save_model(
    clf, directory, *, overwrite: bool = True, support_texts: bool = True, discard_edits: bool = False
) -> Path:
    """Write ``clf`` (a fitted :class:`~mgl.model.classifier.Classifier`) to ``directory``.

    The directory must be missing or empty, or (with ``overwrite``, the default here as in Hugging
    Face's ``save_pretrained``; ``mgl train --save`` asks for ``--overwrite``) an mgl model holding
    only model files, which is replaced as a whole. A folder holding anything else is refused before
    anything is written: mgl never deletes what it did not write
    (:func:`mgl.outputs.check_model_destination`; a model edited since it was saved is kept unless
    ``discard_edits``). ``support_texts=False`` keeps the examples' ids,
    languages and labels but not their texts, and the model card says so."""

    given = directory
    directory = check_model_destination(directory, overwrite=overwrite, discard_edits=discard_edits)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        _save_tensors(
            {k: v.detach().cpu().contiguous() for k, v in _head_tensors(clf.method, clf.head).items()},
            tmp / "head.safetensors",
        )
        _save_tensors({"embeddings": clf.bank.embeddings.float().contiguous()}, tmp / "example_embeddings.safetensors")
        files = list(FILES)
        if clf.encoder_state:
            _save_tensors({k: v.contiguous() for k, v in clf.encoder_state.items()}, tmp / "encoder.safetensors")
            files.append("encoder.safetensors")
        if clf.featurizer.centre is not None:
            _save_tensors({"centre": clf.featurizer.centre.float().contiguous()}, tmp / "centre.safetensors")
            files.append("centre.safetensors")
        if clf.pooling_head is not None:
            _save_tensors(
                {k: v.detach().cpu().contiguous() for k, v in clf.pooling_head.state_dict().items()},
                tmp / "pooling_head.safetensors",
            )
            files.append("pooling_head.safetensors")
        keep_texts = bool(support_texts and clf.support_texts)
        with open(tmp / "examples.jsonl", "w", encoding="utf-8") as fh:
            for ex in clf.bank.examples:
                text, pair = (
                    (ex.text, ex.text_pair)
                    if keep_texts  # a pair model stays one without texts
                    else (None, None if ex.text_pair is None else "")
                )
                fh.write(
                    json.dumps(
                        {
                            "id": ex.uid,
                            "text": text,
                            "text_pair": pair,
                            "label": ex.label,
                            "language": ex.language,
                            "domain": ex.domain,
                        },
                        ensure_ascii=False,
                    )
                    + "\n"
                )
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "method": clf.method,
            "heads": _head_entries(clf.method, clf.head),
            "temperature": clf.temperature,
            "config": clf.config.to_dict(),
            "encoder": {
                "spec": clf.encoder.spec.to_dict(),
                "identity": clf.encoder.identity,
                "dim": clf.encoder.dim,
                "train": clf.config.encoder.train,
            },
            "labels": clf.label_names,
            "sources": clf.sources,
            "target": clf.target,
            "positive_label": (
                clf.label_names[positive_index(clf.label_names, clf.config.data.positive_label)]
                if len(clf.label_names) == 2
                else None
            ),
            "report": clf.report,
            "saved": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "support_texts": keep_texts,
        }
        write_json_atomic(tmp / "mgl_model.json", meta)

        (tmp / "README.md").write_text(render_model_card(meta), encoding="utf-8")
        files.append("README.md")
        write_json_atomic(tmp / "checksums.json", {f: sha256_file(tmp / f) for f in files})
        for f in tmp.iterdir():
            os.chmod(f, 0o644)
        os.chmod(tmp, 0o755)
        if directory.exists():
            check_model_destination(directory, overwrite=overwrite, discard_edits=discard_edits)  # unchanged since
            old = Path(tempfile.mkdtemp(prefix=f".{directory.name}.old.", dir=directory.parent))
            os.replace(directory, old / "model")
            os.replace(tmp, directory)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, directory)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):
            raise write_error(exc, given) from None
        raise
    return directory


def model_description(directory: str | Path) -> dict:
    """A saved model's ``mgl_model.json``, read as loading reads it: every file's checksum verified,
    the format checked (MGLError naming the file otherwise). For callers that need the description
    (its training report, calibration bins) and not the model."""
    return _checked(Path(directory))[1]


def _checked(directory: Path) -> tuple[dict, dict]:
    """(checksums, mgl_model.json) after every listed file's checksum is verified."""
    if not directory.is_dir():
        raise MGLError("no such model directory", source=directory)
    sums_path = directory / "checksums.json"
    try:
        sums = json.loads(sums_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MGLError("missing checksums.json: not a complete mgl model directory", source=directory) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MGLError("checksums.json is corrupted", source=sums_path) from None
    if not isinstance(sums, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in sums.items()):
        raise MGLError("checksums.json is not an object of file names and digests", source=sums_path)

    for name in sums:  # a model folder is closed: loading reads nothing outside it
        if name not in MODEL_FILES or "/" in name or "\\" in name or name in (".", ".."):
            raise MGLError(
                f"checksums.json names {name!r}, which is not a file of an mgl model folder", source=sums_path
            )
    inside = directory.resolve()
    for name, digest in sums.items():
        path = directory / name
        if not path.is_file():
            raise MGLError("missing model file", source=path)
        if path.resolve().parent != inside:  # a link out of the folder: loading reads nothing outside it
            raise MGLError(
                f"is a link to {path.resolve()}, outside the model folder: a model folder is closed "
                "(copy the file in instead of linking it)",
                source=path,
            )
        if sha256_file(path) != digest:
            raise MGLError("model file is corrupted (checksum mismatch)", source=path)
    try:
        meta = json.loads((directory / "mgl_model.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MGLError("missing mgl_model.json", source=directory) from None
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise MGLError("mgl_model.json is not valid JSON", source=directory / "mgl_model.json") from None
    if not isinstance(meta, dict):
        raise MGLError(
            "mgl_model.json is not a JSON object: not an mgl model's description", source=directory / "mgl_model.json"
        )
    if meta.get("format") != FORMAT or meta.get("version") not in (1, FORMAT_VERSION):
        raise MGLError(
            f"unsupported model format {meta.get('format')!r} v{meta.get('version')!r}",
            source=directory / "mgl_model.json",
        )
    required = V1_FILES if meta["version"] == 1 else FILES
    for name in required:
        if name not in sums:
            raise MGLError(f"checksums.json does not list {name}", source=sums_path)
    return sums, meta


def _read_examples(path: Path) -> list[Example]:
    """The labelled examples a model keeps, read by the one reader of JSON Lines (:class:`mgl.data.records.RecordReader`)."""
    bank = []
    for rec in RecordReader(path, "jsonl", encoding="utf-8").records():
        r = rec.values
        try:
            bank.append(
                Example(
                    text=r["text"] or "",
                    label=r["label"],
                    language=r["language"],
                    text_pair=r.get("text_pair"),
                    domain=r.get("domain"),
                    split="train",
                    uid=r.get("id"),
                )
            )
        except (KeyError, TypeError):
            raise MGLError("malformed example record", source=path, record=rec.number) from None
    return bank


def _finite_tensors(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a model's safetensors file, every floating-point one checked to be finite
    (a NaN or infinite weight is refused at load, naming the file and the tensor)."""
    from safetensors.torch import load_file

    tensors = load_file(str(path))
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise MGLError(f"tensor {name!r} holds NaN or infinite values: refusing to load these weights", source=path)
    return tensors


def _bank(directory: Path, examples_file: str, embeddings_file: str, labels: list[str]) -> LabelledBank:
    from safetensors.torch import load_file

    examples = _read_examples(directory / examples_file)
    emb = load_file(str(directory / embeddings_file))["embeddings"]
    if len(examples) != len(emb):
        raise MGLError(f"{examples_file} and {embeddings_file} disagree in length", source=directory)
    bad = ~torch.isfinite(emb).all(dim=1)
    if bad.any():
        raise MGLError(
            "embedding contains NaN or infinite values",
            source=directory / embeddings_file,
            record=int(bad.nonzero()[0]) + 1,
        )
    unknown = sorted({ex.label for ex in examples} - set(labels))
    if unknown:
        raise MGLError(f"labels {unknown} are not in the model's label list", source=directory / examples_file)
    return LabelledBank(examples, emb.float(), np.array([labels.index(ex.label) for ex in examples]), list(labels))


def _build_head(
    name: str, entries: dict, tensors: dict[str, torch.Tensor], bank: LabelledBank, device, source: Path, used: set[str]
) -> Head:
    entry = entries.get(name)
    if not isinstance(entry, dict) or entry.get("kind") not in HEAD_KINDS:
        kind = entry.get("kind") if isinstance(entry, dict) else None
        raise MGLError(f"head {name!r} has unknown kind {kind!r} (known: {', '.join(HEAD_KINDS)})", source=source)
    cls = HEAD_KINDS[entry["kind"]]
    if cls is EnsembleHead:
        return EnsembleHead(
            {m: _build_head(m, entries, tensors, bank, device, source, used) for m in entry["settings"]["members"]}
        )
    own = {k[len(name) + 1 :]: v for k, v in tensors.items() if k.startswith(name + "/")}
    used.update(f"{name}/{k}" for k in own)
    try:
        return cls.from_saved(entry["settings"], own, bank, device)
    except (KeyError, RuntimeError, ValueError, TypeError) as exc:
        raise MGLError(f"cannot load head {name!r} ({str(exc).splitlines()[0]})", source=source) from None


def load_model(cls, directory, *, device: str | None = None, precision: str | None = None):
    """Load a saved model into a new ``cls`` (:class:`~mgl.model.classifier.Classifier`); every file is
    checked against its checksum first, and the encoder built here must have the identity the
    model was trained with (else a clear error).

    ``precision`` (``fp32``, ``bf16``, ``auto``) embeds new inputs at another precision than the
    model was trained with (e.g. bf16 to serve faster); the identity check then ignores the
    precision only, and ``precision_note`` says what differs."""

    directory = Path(directory).expanduser()
    sums, meta = _checked(directory)
    try:
        return _load_checked(cls, directory, sums, meta, device=device, precision=precision)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        if isinstance(exc, MGLError):
            raise
        raise MGLError(
            f"mgl_model.json is malformed ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})",
            source=directory / "mgl_model.json",
        ) from None


def _load_checked(cls, directory: Path, sums: dict, meta: dict, *, device, precision):
    from safetensors import SafetensorError

    from mgl.encoders.featurizer import Featurizer

    config = RunConfig.from_dict(meta["config"], source=str(directory / "mgl_model.json"))
    version = meta["version"]
    if version == 1:  # the former format held MGL only
        config.method = "mgl"
    else:
        try:
            method_info(str(meta.get("method")))  # a plug-in's method: its head kind is registered with it
        except ConfigError as exc:
            raise MGLError(f"{exc} (is the plug-in that provides it installed?)", source=directory) from None
    if version != 1 and meta.get("method") != config.resolved_method():
        raise MGLError(
            f"method {meta.get('method')!r} differs from the configuration's {config.resolved_method()!r}",
            source=directory / "mgl_model.json",
        )
    # an unset prefix meant the model's default *when it was saved*: take what ran then (a model
    # saved with e5's former default prefix keeps embedding new inputs with it)
    saved_prefix = meta.get("encoder", {}).get("spec", {}).get("prefix")
    if config.encoder.prefix is None and isinstance(saved_prefix, str):
        config.encoder.prefix = saved_prefix
    # where it runs now, not where it was trained: a model trained on a GPU predicts on a CPU
    config.encoder.device = device
    trained_precision = config.encoder.precision
    if precision is not None:
        config.encoder.precision = precision
    clf = cls(config)
    clf.label_names = list(meta["labels"])
    clf.sources = list(meta["sources"])
    clf.target = meta["target"]
    clf.report = meta.get("report", {})
    clf.temperature = float(meta.get("temperature", 1.0))
    if not math.isfinite(clf.temperature) or clf.temperature <= 0:
        raise MGLError(
            f"temperature {clf.temperature} is not a positive finite number", source=directory / "mgl_model.json"
        )
    clf.featurizer = Featurizer(config.encoder)
    try:
        if "encoder.safetensors" in sums:
            clf.encoder_state = _finite_tensors(directory / "encoder.safetensors")
            clf.encoder.load_state_dict(clf.encoder_state, strict=False)
        if config.encoder.centring != "none":
            if "centre.safetensors" not in sums:
                raise MGLError(
                    f"the model uses encoder.centring={config.encoder.centring} but has no centre.safetensors",
                    source=directory,
                )
            clf.featurizer.centre = _finite_tensors(directory / "centre.safetensors")["centre"]
        if config.encoder.pooling_head != "none":
            from mgl.encoders.pooling_head import make_pooling_head

            if "pooling_head.safetensors" not in sums:
                raise MGLError(
                    f"the model uses encoder.pooling_head={config.encoder.pooling_head} but has no "
                    "pooling_head.safetensors",
                    source=directory,
                )
            head = make_pooling_head(config.encoder.pooling_head, clf.encoder.dim, config.encoder.pooling_queries)
            head.load_state_dict(_finite_tensors(directory / "pooling_head.safetensors"), strict=True)
            clf.featurizer.pooling_head = head.to(clf.encoder.device).eval()
        if version == 1:
            clf.bank = _bank(directory, "support.jsonl", "support_embeddings.safetensors", clf.label_names)
            from mgl.methods.heads import MetaGraphHead
            from mgl.methods.mgl.training import build_model

            model = build_model(config.mgl, int(meta["encoder"]["dim"]), len(clf.label_names))
            model.load_state_dict(_finite_tensors(directory / "model.safetensors"))
            clf.head = MetaGraphHead.from_bank(
                model.to(clf.encoder.device),
                config.mgl,
                clf.bank,
                sources=clf.sources,
                target=clf.target,
                seed=config.seed,
            )
        else:
            clf.bank = _bank(directory, "examples.jsonl", "example_embeddings.safetensors", clf.label_names)
            tensors = _finite_tensors(directory / "head.safetensors")
            used: set[str] = set()
            clf.head = _build_head(
                meta["method"],
                meta.get("heads", {}),
                tensors,
                clf.bank,
                clf.encoder.device,
                directory / "mgl_model.json",
                used,
            )
            extra = sorted(set(tensors) - used)
            if extra:
                raise MGLError(f"head.safetensors holds tensors no head reads: {extra[:5]}", source=directory)
    except (SafetensorError, RuntimeError, KeyError) as exc:
        raise MGLError(f"cannot load the model weights ({str(exc).splitlines()[0]})", source=directory) from None
    saved_identity = meta.get("encoder", {}).get("identity")
    here = clf.encoder.identity
    if precision is not None and clf.encoder.precision != trained_precision:
        saved_identity, here = _without_precision(saved_identity), _without_precision(here)
        clf.precision_note = (
            f"inputs are embedded in {clf.encoder.precision}, the labelled examples were "
            f"embedded in {trained_precision} at training"
        )
    if saved_identity is not None and saved_identity != here:
        raise MGLError(
            f"the encoder here is not the one this model was trained with (saved: {saved_identity}; "
            f"here: {clf.encoder.identity}); its stored embeddings would not match new inputs' "
            "(install the same encoder, or train the model again)",
            source=directory / "mgl_model.json",
        )
    clf.support_texts = bool(meta.get("support_texts", True))
    return clf


def _without_precision(identity: str | None) -> str | None:
    """An encoder identity without its ``|precision=...`` part."""
    if identity is None:
        return None
    return "|".join(part for part in identity.split("|") if not part.startswith("precision="))
