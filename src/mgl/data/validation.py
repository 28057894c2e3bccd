"""Checks that a loaded dataset is usable before any model sees it.

Each check raises :class:`~mgl.errors.DataError` with a one-line message that says what is wrong
and where (the source, and for a bad example its 1-based position and uid).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from pathlib import Path

from mgl.data.examples import SPLITS, Example, label_vocabulary
from mgl.data.languages import is_canonical
from mgl.errors import DataError


def _where(ex: Example) -> str:
    return f" ({ex.uid})" if ex.uid else ""


def validate_examples(examples: Sequence[Example], *, source: str | Path) -> None:
    """Check a dataset; raise :class:`DataError` naming ``source`` at the first problem.

    Per example (the error names its 1-based position in ``examples`` and its uid): a non-empty
    text (and text pair, where there is one), a non-empty label, a language that looks like an
    canonical language tag (:mod:`mgl.data.languages`), a split among ``train``, ``validation``, ``test``.
    Over the dataset: at least one example; no uid used twice; either every example is a text
    pair or none is; and every language has every class of the shared label vocabulary in each
    split it has examples in (the error names the language, the split and the missing class).
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
        if not isinstance(ex.label, str) or not ex.label.strip():
            raise DataError(f"missing label{where}", source=source, record=position)
        if not is_canonical(ex.language):
            raise DataError(
                f"language {ex.language!r} is not a canonical language tag (mgl.data.languages){where}",
                source=source,
                record=position,
            )
        if ex.split not in SPLITS:
            raise DataError(f"split {ex.split!r} is not one of {list(SPLITS)}{where}", source=source, record=position)
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
    require_all_classes(examples, source=source)


def require_all_classes(examples: Iterable[Example], *, source: str | Path) -> None:
    """Every (language, split) present has every class of the dataset's label vocabulary.

    Raises :class:`DataError` naming ``source``, the language, the split and the missing class(es).
    """
    examples = list(examples)
    vocabulary = label_vocabulary(examples)
    present: dict[tuple[str, str | None], set[str]] = defaultdict(set)
    for ex in examples:
        present[(ex.language, ex.split)].add(ex.label)
    split_rank: dict[str | None, int] = {name: i for i, name in enumerate(SPLITS)}
    for language, split in sorted(present, key=lambda key: (key[0], split_rank.get(key[1], len(SPLITS)), str(key[1]))):
        missing = [label for label in vocabulary if label not in present[(language, split)]]
        if missing:
            raise DataError(
                f"language {language!r} has no example of class(es) {', '.join(map(repr, missing))} "
                f"in split {split!r} (the dataset's classes: {', '.join(vocabulary)})",
                source=source,
            )


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
