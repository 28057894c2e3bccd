"""The one fingerprint of a configuration: which settings change results, hashed.

Both users of a fingerprint hash the same thing, :func:`result_settings` (every field
not marked as changing no result), with the encoder's prefix as it runs:

* a **grid** (``scope="grid"``) names each cell's experiment and seed itself, so those, and the
  product's method and members, are left out; the hash is short and carries the grid's
  :data:`GRID_VERSION` (how cells are scored);
* a **run** (``scope="run"``, training checkpoints) keeps everything: a checkpoint is resumed only
  under the very settings that wrote it, and only on the data it was written on (:func:`data_fingerprint`).

The prefix counts as it runs: an unset prefix of the embedded e5 is that model's default of today,
and its former default (``"passage: "``) counts as unset, so grids computed before the default
changed keep their fingerprints.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import fields
from typing import Any, Literal

from mgl.config import RunConfig
from mgl.config_values import config_sections
from mgl.encoders.embedded_e5 import LEGACY_EMBEDDED_E5_PREFIX, is_embedded_name, resolved_prefix

GRID_VERSION = 2
"""How grid cells are scored, part of every grid fingerprint: 2, by the fitted model's own
``predict_proba`` (MGL: each input the query of its own graph, as a saved model predicts), the
cells keeping their probabilities; 1, MGL's queries shared episodes."""


def _kept(section, f, raw: dict) -> bool:
    meta = f.metadata
    if meta.get("no_effect"):
        return False
    if "acts_when" in meta:
        other, value = meta["acts_when"]
        if getattr(section, other) != value:
            return False
    if "acts_unless" in meta:
        other, value = meta["acts_unless"]
        if getattr(section, other) == value:
            return False
    return not ("added_at" in meta and raw.get(f.name) == meta["added_at"])


def result_settings(cfg: RunConfig) -> dict[str, Any]:
    """``cfg.to_dict()`` without the settings that change no result in this configuration (see
    :data:`mgl.config.NO_EFFECT`): what every fingerprint hashes."""
    raw = cfg.to_dict()
    for name, section in config_sections(cfg).items():
        raw[name] = {f.name: raw[name][f.name] for f in fields(section) if _kept(section, f, raw[name])}
        if not raw[name] and all("added_at" in f.metadata for f in fields(section)):
            del raw[name]  # a section added later, at the values that reproduce the earlier results
    return raw


def config_fingerprint(
    cfg: RunConfig,
    extra: dict[str, Any] | None = None,
    *,
    scope: Literal["grid", "run"] = "grid",
    version: int = GRID_VERSION,
) -> str:
    """A hash of the settings that change results (see the module's docstring for the two scopes).

    ``extra``: anything else that decides a grid's cells (the baselines' options, the ensemble's
    members); ``version``: the grid version hashed (an older one recomputes the fingerprints of
    grids computed then)."""
    prefix = cfg.encoder.prefix
    if is_embedded_name(cfg.encoder.model):
        prefix = resolved_prefix(cfg.encoder.model, cfg.encoder.prefix)
        prefix = None if prefix == LEGACY_EMBEDDED_E5_PREFIX else prefix
    raw = result_settings(cfg)
    raw["encoder"]["prefix"] = prefix
    if scope == "run":
        if extra:
            raise ValueError("a run's fingerprint takes no extra settings: they are in its configuration")
        return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    if scope != "grid":
        raise ValueError(f"scope must be 'grid' or 'run', not {scope!r}")
    raw.pop("seed", None)
    raw.pop("method", None)  # a grid names its methods per cell, and its members in ``extra``
    raw.pop("members", None)
    raw.pop("baselines", None)  # a grid hashes its baselines' settings in ``extra``, as before they were a section
    for key in ("target", "sources", "domain"):  # the experiment: every cell names its own
        raw["data"].pop(key, None)
    extra = copy.deepcopy(extra or {})
    if isinstance(extra.get("baselines"), dict):  # grouped or one by one: the same result, bit for bit
        extra["baselines"].pop("batch_candidates", None)
    payload = json.dumps({"grid": version, "config": raw, "extra": extra}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


def data_fingerprint(examples) -> str:
    """SHA-256 over every example's id, text, text pair, label, language and split, in order."""
    digest = hashlib.sha256()
    for ex in examples:
        digest.update(
            json.dumps([ex.uid, ex.text, ex.text_pair, ex.label, ex.language, ex.split], ensure_ascii=True).encode(
                "ascii"
            )
        )
        digest.update(b"\n")
    return digest.hexdigest()
