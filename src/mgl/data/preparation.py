"""An experiment's data: load the configured data set, keep the sources and the target, carve
validation rows where a language has none, subsample the target's training labels, lay every
instance out in one :class:`~mgl.data.example_table.ExampleTable`.

:func:`prepare_data` loads the configured data set and :func:`make_experiment_data` does the rest
(:func:`mgl.data.splits.carve_validation` for the validation rows). Every method, the product
and the grids start from the :class:`ExperimentData` it returns.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mgl.config import VALIDATION_FRACTION, DataConfig
from mgl.data.example_table import ExampleTable
from mgl.data.examples import UNLABELLED, Example, label_vocabulary
from mgl.data.languages import canonical_language
from mgl.data.records import TXT_FIELD, RecordReader, text_value
from mgl.data.registry import DATASETS, default_data_root, load_dataset
from mgl.data.sib200 import sib200_folders, sib200_tag
from mgl.data.splits import carve_validation, subsample_language
from mgl.data.user_files import load_table, parse_columns, parse_label_map
from mgl.errors import DataError

log = logging.getLogger("mgl")

SMALL_VALIDATION = 30
"""Fewer target validation rows than this are named in a notice (and in the model card): they decide
the temperature, the settings and early stopping, each then a noisy choice."""


def small_validation_notice(data: ExperimentData, temperature: float | None = None) -> str | None:
    """The notice of a target validation set under :data:`SMALL_VALIDATION` rows (None: none to give;
    zero-shot selects on the sources' rows), said alike by ``mgl train`` and ``mgl data validate``."""
    n = len(data.table.rows(languages=data.target, split="validation"))
    if data.zero_shot or n >= SMALL_VALIDATION:
        return None
    decided = "the calibration temperature" + (f" ({temperature:.3g})" if temperature is not None else "")
    return (
        f"the target {data.target} has {n} validation row(s): {decided}, the choice of settings and early "
        f"stopping are decided on them, so those choices are noisy ({SMALL_VALIDATION} or more rows make them "
        "steadier; the model card says so)"
    )


POSITIVE_NAMES = ("positive", "paraphrase", "relevant", "yes", "true", "1")


@dataclass
class ExperimentData:
    """The instances of one experiment and their table (row i of the table is ``examples[i]``)."""

    examples: list[Example]
    table: ExampleTable
    sources: list[str]
    target: str
    domain: str | None
    positive_label: str | None = None
    """The class whose precision/recall/F1 are reported in binary tasks (None: guessed)."""
    carved: dict[str, dict[str, int]] | None = None
    """Languages whose validation rows were carved from their training rows: ``{lang: {"validation": n, "train": m}}``."""
    dropped_target_validation: int = 0
    """Zero-shot: the target's labelled validation rows left out (the model sees no target label)."""

    @property
    def zero_shot(self) -> bool:
        """The target has no training label: every method trains on the sources alone, model selection
        and early stopping use the sources' validation rows
        (:func:`mgl.methods.baselines.common.zero_shot_rows`; MGL skips its meta-test stage)."""
        return len(self.table.rows(languages=self.target, split="train")) == 0

    @property
    def unlabelled_rows(self):
        """The table rows of the target's unlabelled texts."""
        return self.table.rows(languages=self.target, split=UNLABELLED)

    @property
    def target_unseen_classes(self) -> list[str]:
        """The classes the target's training labels never show (a rare class at a few labels): they
        stay predictable through the sources' examples."""
        present = set(self.table.labels[self.table.rows(languages=self.target, split="train")].tolist())
        return [name for i, name in enumerate(self.table.label_names) if i not in present]

    @property
    def positive(self) -> int | None:
        """Index of the reported class (binary tasks), see :func:`positive_index`."""
        return positive_index(self.table.label_names, self.positive_label)

    @property
    def texts(self) -> list[str]:
        return [ex.text for ex in self.examples]

    @property
    def pairs(self) -> list[str | None] | None:
        pairs = [ex.text_pair for ex in self.examples]
        return pairs if any(p is not None for p in pairs) else None


def positive_index(label_names: Sequence[str], positive: str | None = None) -> int | None:
    """The class reported by binary precision/recall/F1: given, else a conventional name, else the last."""
    if len(label_names) != 2:
        return None
    if positive is not None:
        if positive not in label_names:
            raise DataError(f"positive label {positive!r} is not a class of the data ({', '.join(label_names)})")
        return list(label_names).index(positive)
    lowered = [name.lower() for name in label_names]
    for name in POSITIVE_NAMES:
        if name in lowered:
            return lowered.index(name)
    return 1


def load_examples(data: DataConfig, languages: Sequence[str] | None) -> list[Example]:
    """Read the data set (named, or a file with column/label mappings) for the given languages (None: all)."""

    name = data.name.lower()
    if name in DATASETS:
        options: dict[str, Any] = {"languages": list(languages) if languages is not None else None}
        if name == "webis-cls-10" and data.domain is not None:
            options["domains"] = [data.domain]
        return load_dataset(name, root=data.root, **options)

    path = Path(data.name).expanduser()
    if data.root is not None and not path.is_absolute():
        path = Path(data.root).expanduser() / path
    if not path.exists():
        raise DataError(f"not a known dataset ({', '.join(DATASETS)}) nor an existing file", source=path)
    if not data.columns:
        raise DataError("a data file needs a column mapping (--columns text=COL,label=COL,...)", source=data.name)
    options = dict(parse_columns(data.columns))
    if data.labels:
        options["label_map"] = parse_label_map(data.labels)
    if data.language:
        options["fixed_language"] = data.language
    if data.encoding:
        options["encoding"] = data.encoding
    if data.keep_regions:
        options["keep_regions"] = True
    examples = load_dataset(data.name, root=data.root, **options)
    if languages is None:
        return examples
    wanted = set(languages)
    left_out = Counter(ex.language for ex in examples if ex.language not in wanted)
    if left_out:
        log.warning(
            "%s: %d row(s) in language(s) neither a source nor the target are not used: %s",
            data.name,
            sum(left_out.values()),
            ", ".join(f"{lang} ({n})" for lang, n in sorted(left_out.items())),
        )
    return [ex for ex in examples if ex.language in wanted]


def cap_per_class(examples: list[Example], limit: int) -> list[Example]:
    """At most ``limit`` examples per (language, split, label): a fixed choice, by a hash of the record."""
    import hashlib
    from collections import defaultdict

    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, ex in enumerate(examples):
        groups[(ex.language, ex.split, ex.label)].append(i)
    keep: set[int] = set()
    for rows in groups.values():
        ranked = sorted(rows, key=lambda i: hashlib.sha1(f"{examples[i].uid}|{examples[i].text}".encode()).digest())
        keep.update(ranked[:limit])
    return [ex for i, ex in enumerate(examples) if i in keep]


def _zero_shot_rows(examples: list[Example], target: str, *, keep_rest: bool) -> tuple[list[Example], int]:
    """Zero-shot: the target's training rows dropped (``keep_rest``: kept as unlabelled texts) and its
    labelled validation rows dropped; returns the examples and the number of validation rows dropped."""
    out, dropped = [], 0
    for ex in examples:
        if ex.language == target and ex.split == "train":
            if keep_rest:
                out.append(ex.unlabelled())
            continue
        if ex.language == target and ex.split == "validation":
            dropped += 1
            continue
        out.append(ex)
    return out, dropped


def dataset_tags(data: DataConfig, languages: Sequence[str]) -> list[str]:
    """The tags the configured data set gives ``languages``: as they are, but for SIB-200, where a
    spelling names the one folder of its language even in a script that is not the language's usual
    one (``crh`` -> ``crh-Latn``, :func:`mgl.data.sib200.sib200_tag`)."""
    if data.name.lower() != "sib-200":
        return list(languages)
    folders = sib200_folders(data.root if data.root is not None else default_data_root())
    return [sib200_tag(code, folders) for code in languages]


def prepare_data(data: DataConfig, seed: int, *, require_test: bool = True) -> ExperimentData:
    """Load the configured data set, then :func:`make_experiment_data` (target subsample seeded)."""
    *sources, target = dataset_tags(data, [*data.sources, data.target])
    examples = load_examples(data, [*sources, target])
    return make_experiment_data(
        examples,
        sources,
        target,
        domain=data.domain,
        target_fraction=data.target_fraction,
        target_count=data.target_count,
        max_per_class=data.max_per_class,
        seed=seed,
        source=data.name,
        positive_label=data.positive_label,
        require_test=require_test,
        validation_fraction=data.validation_fraction,
        keep_regions=data.keep_regions,
        rest_unlabelled=data.rest_unlabelled,
        unlabelled=load_unlabelled(data.unlabelled, target, root=data.root, encoding=data.encoding)
        if data.unlabelled
        else (),
    )


def load_unlabelled(path: str, target: str, *, root: str | None = None, encoding: str | None = None) -> list[Example]:
    """A file of unlabelled target texts (``--unlabelled FILE``): a ``text`` column (CSV, TSV, JSONL,
    Parquet), or plain text with one text per line (``.txt``), each in the target's language."""

    file = Path(path).expanduser()
    if root is not None and not file.is_absolute() and not file.exists():
        file = Path(root).expanduser() / file
    if not file.exists():
        raise DataError("no such file of unlabelled texts", source=path)
    if file.suffix.lower() == ".txt":
        reader = RecordReader(file, "txt", encoding=encoding)
        return [
            Example(
                text=text_value(r.values, TXT_FIELD, source=file, record=r.number),
                label="",
                language=target,
                split=UNLABELLED,
                uid=f"{file.name}#{r.number}",
            )
            for r in reader.records()
        ]
    return load_table(file, text="text", label=None, fixed_language=target, encoding=encoding)


def make_experiment_data(
    examples: Sequence[Example],
    sources: Sequence[str],
    target: str,
    *,
    domain: str | None = None,
    target_fraction: float | None = None,
    target_count: int | None = None,
    max_per_class: int | None = None,
    seed: int = 0,
    source: str = "data",
    require_test: bool = True,
    positive_label: str | None = None,
    validation_fraction: float = VALIDATION_FRACTION,
    keep_regions: bool = False,
    rest_unlabelled: bool = False,
    unlabelled: Sequence[Example] = (),
) -> ExperimentData:
    """Filter to the languages (and domain), check the splits, carve validation rows where a
    language has none, subsample the target's training labels (seeded), and build the table.

    Every language with training rows but no validation rows gets a deterministic, stratified
    ``validation_fraction`` of its training rows as validation (fixed whatever the seed; for the
    target before the few-shot subsample), and one line per language is logged (logger ``mgl``,
    level WARNING). ``require_test``: the target must have test rows (commands that report test
    metrics); without, a target with none is trained and nothing is scored. ``source`` names the
    data in error messages; ``keep_regions``: language codes keep their region subtags
    (:mod:`mgl.data.languages`).
    """

    # any spelling (yo, yor, yor_Latn) names the one canonical tag the examples carry
    sources = [canonical_language(code, what="source language", keep_regions=keep_regions) for code in sources]
    target = canonical_language(target, what="target language", keep_regions=keep_regions)
    languages = [*sources, target]
    examples = [*examples, *(replace(ex.unlabelled(), language=target) for ex in unlabelled)]
    # the sources' test rows are read by no method: leave them out (and so never embed them)
    examples = [
        ex for ex in examples if ex.language in set(languages) and (ex.language == target or ex.split != "test")
    ]
    if domain is not None:
        examples = [ex for ex in examples if ex.domain == domain]
    domains = sorted({ex.domain for ex in examples if ex.domain is not None})
    if domain is None and len(domains) > 1:
        raise DataError(
            f"the data holds several domains ({', '.join(domains)}): choose one with --domain", source=source
        )
    present = {ex.language for ex in examples}
    missing = [lang for lang in languages if lang not in present]
    if missing:
        raise DataError(f"no examples for language(s) {', '.join(missing)}", source=source)
    for lang in sources:
        if not any(ex.language == lang and ex.split == "train" for ex in examples):
            raise DataError(f"the source {lang!r} has no 'train' examples", source=source)
    unused = Counter(ex.language for ex in examples if not ex.labelled and ex.language != target)
    if unused:
        log.warning(
            "%s: the unlabelled texts of the sources are not used: %s",
            source,
            ", ".join(f"{lang} ({n})" for lang, n in sorted(unused.items())),
        )
        examples = [ex for ex in examples if ex.labelled or ex.language == target]
    n_target_train = sum(ex.language == target and ex.split == "train" for ex in examples)
    zero_shot = target_count == 0 or target_fraction == 0 or n_target_train == 0
    dropped_validation = 0
    if zero_shot:
        examples, dropped_validation = _zero_shot_rows(examples, target, keep_rest=rest_unlabelled)
    examples, carved = carve_validation(examples, sources if zero_shot else languages, validation_fraction)
    for lang, counts in carved.items():
        log.warning(
            "%s: %s has no validation rows; carved %d of its %d training rows as validation "
            "(data.validation_fraction=%g, stratified, the same for every seed)",
            source,
            lang,
            counts["validation"],
            counts["validation"] + counts["train"],
            validation_fraction,
        )
    for lang in sources if zero_shot else languages:
        if not any(ex.language == lang and ex.split == "validation" for ex in examples):
            role = "target" if lang == target else "source"
            n_train = sum(ex.language == lang and ex.split == "train" for ex in examples)
            if validation_fraction == 0:
                why = "and data.validation_fraction=0 carves none"
            else:
                why = (
                    f"and data.validation_fraction={validation_fraction:g} of its {n_train} training row(s) carved "
                    "none (too few rows per class to carve a share); give it validation rows (a split column) or "
                    "more training rows"
                )
            raise DataError(f"the {role} {lang!r} has no 'validation' examples ({why})", source=source)
    if require_test and not any(ex.language == target and ex.split == "test" for ex in examples):
        raise DataError(
            f"the target {target!r} has no 'test' examples, so nothing can be evaluated; "
            "'mgl train --save DIR' trains and saves a model without test rows",
            source=source,
        )
    if not zero_shot and (target_count is not None or (target_fraction is not None and target_fraction < 1.0)):
        share = {"count": target_count} if target_count is not None else {"fraction": target_fraction}
        kept = subsample_language(examples, target, seed=seed, **share)
        if rest_unlabelled:  # the training rows the subsample leaves: the target's unlabelled texts
            chosen = {id(ex) for ex in kept}
            examples = [ex if id(ex) in chosen else ex.unlabelled() for ex in examples]
        else:
            examples = kept
    if max_per_class is not None:
        examples = cap_per_class(examples, max_per_class)
    labels = label_vocabulary(examples)
    if len(labels) < 2:
        raise DataError(f"the data has {len(labels)} class(es); at least 2 are needed", source=source)
    label_id = {name: i for i, name in enumerate(labels)}
    label_id[""] = -1  # an unlabelled text
    table = ExampleTable(
        languages=np.array([ex.language for ex in examples]),
        labels=np.array([label_id[ex.label] for ex in examples], dtype=np.int64),
        splits=np.array([ex.split for ex in examples]),
        label_names=labels,
    )
    data = ExperimentData(
        list(examples), table, list(sources), target, domain, positive_label, carved or None, dropped_validation
    )
    _ = data.positive  # a positive label that is not a class fails here, before any work
    unseen = data.target_unseen_classes
    if zero_shot:
        log.warning(
            "%s: zero-shot: the target %s has no training label, so every method trains on the sources alone "
            "and chooses its settings on the sources' validation rows; the model never sees a target label%s%s",
            source,
            target,
            f" ({dropped_validation} target validation row(s) left out)" if dropped_validation else "",
            f"; {len(data.unlabelled_rows)} unlabelled target text(s)" if len(data.unlabelled_rows) else "",
        )
    elif unseen:
        n = len(table.rows(languages=target, split="train"))
        log.warning(
            "%s: the target %s's %d training label(s) show no example of %s; %s predicted from the "
            "sources' examples alone",
            source,
            target,
            n,
            ", ".join(repr(c) for c in unseen),
            "it is" if len(unseen) == 1 else "they are",
        )
    return data
