"""Checks that a loaded dataset is usable before any model sees it.

Each check raises :class:`~mgl.errors.DataError` with a one-line message that says what is wrong
and where (the source, and for a bad example its 1-based position and uid). What training accepts
with a notice, :func:`validate_examples` returns as a notice too (``mgl data validate`` gives the
same answer as ``mgl train``): a language lacking a class (as the target it trains, the class
predicted from the sources; as a source it is an error of the methods that draw episodes), and a
class only one language has.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from mgl.data.examples import SPLITS, UNLABELLED, Example, label_vocabulary
from mgl.data.languages import is_canonical
from mgl.errors import DataError


def _where(ex: Example) -> str:
    return f" ({ex.uid})" if ex.uid else ""


def validate_examples(examples: Sequence[Example], *, source: str | Path) -> list[str]:
    """Check a dataset; raise :class:`DataError` naming ``source`` at the first problem that
    training refuses too, and return the notices of what training accepts with a notice.

    Errors, per example (naming its 1-based position in ``examples`` and its uid): an empty text
    (or text pair, where there is one), an empty label, a language that is not a canonical language
    tag (:mod:`mgl.data.languages`), a split not among ``train``, ``validation``, ``test``. Over the
    dataset: no examples; a uid used twice; text pairs mixed with single texts.

    Notices (:func:`class_notices`): a (language, split) without some class, and a class that
    only one language has, each saying what training does with it and what to do.
    """
    if not examples:
        raise DataError("no examples", source=source)
    seen: dict[str, int] = {}
    for position, ex in enumerate(examples, start=1):
        where = _where(ex)
        if not isinstance(ex.text, str) or not ex.text.strip():
            raise DataError(f"empty text{where}", source=source, record=position)
        if ex.text_pair is not None and (not isinstance(ex.text_pair, str) or not ex.text_pair.strip()):
            raise DataError(f"empty text pair{where}", source=source, record=position)
        if ex.labelled and (not isinstance(ex.label, str) or not ex.label.strip()):
            raise DataError(f"missing label{where}", source=source, record=position)
        if not is_canonical(ex.language):
            raise DataError(
                f"language {ex.language!r} is not a canonical language tag (mgl.data.languages){where}",
                source=source,
                record=position,
            )
        if ex.split not in (*SPLITS, UNLABELLED):
            raise DataError(
                f"split {ex.split!r} is not one of {[*SPLITS, UNLABELLED]}{where}", source=source, record=position
            )
        if ex.uid is not None:
            if ex.uid in seen:
                raise DataError(
                    f"uid {ex.uid!r} already used by example {seen[ex.uid]}", source=source, record=position
                )
            seen[ex.uid] = position
    pairs = sum(ex.text_pair is not None for ex in examples)
    if 0 < pairs < len(examples):
        first_single = next(i for i, ex in enumerate(examples, 1) if ex.text_pair is None)
        raise DataError(
            f"mixes text pairs ({pairs} examples) with single texts ({len(examples) - pairs}), "
            f"e.g. example {first_single}{_where(examples[first_single - 1])}",
            source=source,
        )
    return class_notices(examples)


def class_notices(examples: Iterable[Example]) -> list[str]:
    """What training does with classes missing somewhere, one line each: a (language, split)
    without a class, and a class that only one language has."""
    unlabelled = Counter(ex.language for ex in examples if not ex.labelled)
    examples = [ex for ex in examples if ex.labelled]
    vocabulary = label_vocabulary(examples)
    present: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    languages_of_class: dict[str, set[str]] = defaultdict(set)
    for ex in examples:
        present[(ex.language, ex.split)].add(ex.label)
        languages_of_class[ex.label].add(ex.language)
    notices = []
    languages = {ex.language for ex in examples}
    if len(languages) > 1:
        for label in vocabulary:
            if len(languages_of_class[label]) == 1:
                (only,) = languages_of_class[label]
                notices.append(
                    f"class {label!r} appears only in language {only!r}: as the target's class no source "
                    f"teaches it (it stays predictable from {only!r}'s own labels: target-only, "
                    f"logreg-target, and the ensemble through them); as a source's, the methods that draw "
                    f"episodes (mgl, mix, ...) need it in every source; drop it with --labels {label}= "
                    "if it should not be predicted"
                )
    split_rank: dict[str | None, int] = {name: i for i, name in enumerate(SPLITS)}
    for language, split in sorted(present, key=lambda key: (key[0], split_rank.get(key[1], len(SPLITS)), str(key[1]))):
        missing = [label for label in vocabulary if label not in present[(language, split)]]
        if missing:
            classes = ", ".join(map(repr, missing))
            notices.append(
                f"language {language!r} has no example of class(es) {classes} in split {split!r}: as the "
                "target, mgl trains and predicts them from the sources' examples (a notice at training); "
                f"as a source, the methods that draw episodes need every class (an error at training: give "
                f"{language!r} examples of them, drop them with --labels, or train --method logreg-pooled)"
            )
    for language, n in sorted(unlabelled.items()):
        labelled = sum(ex.language == language and ex.split == "train" for ex in examples)
        use = (
            "as the target it has no training labels: zero-shot transfer from the sources (the model never "
            "sees a target label)"
            if labelled == 0
            else f"as the target, beside its {labelled} training label(s)"
        )
        notices.append(
            f"language {language!r} has {n} unlabelled text(s) (an empty label): {use}; its unlabelled texts "
            "feed the methods that use them (data.unlabelled_use); as a source, they are not used"
        )
    return notices


def require_min_per_class(examples: Iterable[Example], n: int, *, what: str) -> None:
    """Every language, and every class within it, has at least ``n`` examples.

    ``what`` says which examples these are, e.g. ``"training data (ja, train)"``; it leads the
    message. Classes are those of the whole of ``examples``, so a class a language lacks
    entirely counts as 0. Raises :class:`DataError` saying which language (and class) falls short.
    """
    examples = list(examples)
    if not examples:
        raise DataError(f"no examples, at least {n} per class needed", source=what)
    vocabulary = label_vocabulary(examples)
    per_language = Counter(ex.language for ex in examples)
    per_class = Counter((ex.language, ex.label) for ex in examples)
    for language in sorted(per_language):
        if per_language[language] < n:
            raise DataError(
                f"language {language!r} has {per_language[language]} example(s), fewer than the {n} needed",
                source=what,
            )
        for label in vocabulary:
            have = per_class[(language, label)]
            if have < n:
                raise DataError(
                    f"language {language!r} has {have} example(s) of class {label!r}, fewer than the {n} needed",
                    source=what,
                )
