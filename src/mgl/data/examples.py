"""The data model: one labelled example, and helpers over lists of them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from mgl.errors import DataError

SPLITS = ("train", "validation", "test")

UNLABELLED = "unlabelled"
"""The split of a text without a label (a row whose label is empty): read by the methods that put
unlabelled target text to work, never by one that trains on labels or scores."""


@dataclass(frozen=True)
class Example:
    """One labelled text (or text pair) in one language.

    ``language`` is a canonical language tag (:mod:`mgl.data.languages`; Webis-CLS-10's folder ``jp`` becomes ``ja``).
    ``uid`` identifies the record for explanations and error messages,
    e.g. ``"ja/books/train.review#17"`` (1-based record number).
    """

    text: str
    label: str
    language: str
    text_pair: str | None = None
    domain: str | None = None
    split: str | None = None
    uid: str | None = None

    def with_split(self, split: str) -> Example:
        return replace(self, split=split)

    @property
    def labelled(self) -> bool:
        """Whether the example has a label (an unlabelled one has ``label == ""`` and split ``unlabelled``)."""
        return self.split != UNLABELLED

    def unlabelled(self) -> Example:
        """This text without its label (split ``unlabelled``)."""
        return replace(self, label="", split=UNLABELLED)


def label_vocabulary(examples: Iterable[Example]) -> list[str]:
    """The sorted label set shared by every language of a dataset (unlabelled texts add none)."""
    return sorted({ex.label for ex in examples if ex.labelled})


def languages_of(examples: Iterable[Example]) -> list[str]:
    return sorted({ex.language for ex in examples})


def select(
    examples: Iterable[Example],
    *,
    language: str | Sequence[str] | None = None,
    split: str | None = None,
    domain: str | None = None,
    label: str | None = None,
) -> list[Example]:
    """Filter examples by language (one or several), split, domain and label."""
    langs = {language} if isinstance(language, str) else (set(language) if language is not None else None)
    return [
        ex
        for ex in examples
        if (langs is None or ex.language in langs)
        and (split is None or ex.split == split)
        and (domain is None or ex.domain == domain)
        and (label is None or ex.label == label)
    ]


def count_by(examples: Iterable[Example], *fields: str) -> Counter:
    """Counts of examples keyed by a tuple of the given attribute values."""
    return Counter(tuple(getattr(ex, f) for f in fields) for ex in examples)


def checked_splits(splits: Iterable[str] | str) -> list[str]:
    """The split names asked of a loader, in order, once each; an unknown one is an error."""

    wanted = list(dict.fromkeys([splits] if isinstance(splits, str) else splits))
    unknown = [s for s in wanted if s not in SPLITS]
    if unknown:
        raise DataError(f"unknown split(s) {unknown}; expected some of {list(SPLITS)}")
    return wanted
