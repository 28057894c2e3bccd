"""Webis-CLS-10 (Prettenhofer & Stein, ACL 2010), read from the publisher's own layout.

The corpus unpacks to ``cls-acl10-unprocessed/{en,de,fr,jp}/{books,dvd,music}/{train,test}.review``
(plus ``unlabeled.review`` files, which are not read). Each ``.review`` file is UTF-8 XML,
``<items><item>...</item>...</items>``; an item carries at least ``summary`` (the review's
headline), ``text`` (its body) and ``rating`` (``1.0`` to ``5.0``).

An :class:`~mgl.data.examples.Example` is made of one item:

* ``text``: the summary and the body, each stripped of surrounding whitespace, joined by one
  newline (``summary + "\\n" + body``); an empty summary or an empty body is left out (with its
  newline). An item with neither is a :class:`~mgl.errors.DataError`.
* ``label``: ``"negative"`` for ratings 1 and 2, ``"positive"`` for 4 and 5; any other rating
  (3, none, not a number) is a :class:`~mgl.errors.DataError` naming the file and the 1-based item.
* ``language``: ISO 639-1 (the folder ``jp`` becomes ``ja``), ``domain``: the folder name,
  ``uid``: ``"{language}/{domain}/{file}#{item}"`` (1-based item), e.g. ``"ja/books/train.review#17"``.
* ``split``: ``test.review`` gives ``"test"``. Each ``train.review`` is split into ``"train"`` (80%)
  and ``"validation"`` (20%) stratified by label - 800/200 per label for the 2000-review files -
  by :func:`mgl.data.splits.stratified_assignment` with the fixed seed ``"webis-cls-10/{language}/{domain}"``:
  the same on every load, whatever the run's seed.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path

from mgl.data.examples import SPLITS, Example
from mgl.data.splits import stratified_assignment
from mgl.errors import DataError

WEBIS_DIRNAME = "cls-acl10-unprocessed"
WEBIS_LANGUAGES = ("en", "de", "fr", "ja")
WEBIS_DOMAINS = ("books", "dvd", "music")
WEBIS_LABELS = ("negative", "positive")
WEBIS_FILES = ("train.review", "test.review")
#: Fraction of each ``train.review`` kept for training; the rest is the validation split.
WEBIS_TRAIN_FRACTION = 0.8

# The publisher's folder name for a language, where it differs from the ISO 639-1 code.
_FOLDER_OF = {"ja": "jp"}
_ISO_OF = {"jp": "ja"}
_RATING_LABELS = {1.0: "negative", 2.0: "negative", 4.0: "positive", 5.0: "positive"}
_ITEM_OPEN = re.compile(rb"<item[\s/>]")


def normalize_language(code: str) -> str:
    """ISO 639-1 code of a Webis-CLS-10 language given as a code or a folder name (``jp`` -> ``ja``)."""
    code = code.strip().lower()
    return _ISO_OF.get(code, code)


def resolve_webis_root(root: str | Path) -> Path:
    """The ``cls-acl10-unprocessed`` folder: ``root`` itself, or ``root/cls-acl10-unprocessed``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError("not a folder (expected the unpacked cls-acl10-unprocessed folder)", source=root)
    nested = root / WEBIS_DIRNAME
    if nested.is_dir() and not any((root / lang).is_dir() for lang in ("en", "de", "fr", "jp", "ja")):
        return nested
    return root


def _language_dir(root: Path, language: str) -> Path:
    """The folder holding ``language`` (``jp`` as published, or ``ja``)."""
    candidates = [root / _FOLDER_OF.get(language, language), root / language]
    for folder in candidates:
        if folder.is_dir():
            return folder
    raise DataError(
        f"no folder for language {language!r} (looked for {', '.join(c.name for c in dict.fromkeys(candidates))})",
        source=root,
    )


def _error_record(data: bytes, line: int, column: int) -> int | None:
    """The 1-based item in which an XML parse error at (line, column) lies, if any."""
    lines = data.split(b"\n")
    offset = sum(len(chunk) + 1 for chunk in lines[: max(line - 1, 0)]) + column
    opened = len(_ITEM_OPEN.findall(data[: offset + 1]))
    return opened or None


def _label_of(rating: str | None, path: Path, record: int) -> str:
    if rating is None or not rating.strip():
        raise DataError("item has no rating", source=path, record=record)
    try:
        value = float(rating)
    except ValueError:
        raise DataError(f"rating {rating.strip()!r} is not a number", source=path, record=record) from None
    label = _RATING_LABELS.get(value)
    if label is None:
        raise DataError(
            f"rating {rating.strip()!r} has no label (1-2 negative, 4-5 positive)", source=path, record=record
        )
    return label


def join_review(summary: str | None, body: str | None) -> str:
    """The text of a review: stripped summary and stripped body joined by a newline, empty parts left out."""
    return "\n".join(part for part in ((summary or "").strip(), (body or "").strip()) if part)


def read_review_file(
    path: str | Path, *, language: str, domain: str, split: str | None = None, train_split: bool = False
) -> list[Example]:
    """Every item of one ``.review`` file, in file order, as examples with ``split`` as given.

    With ``train_split``, ``split`` is instead ``train`` or ``validation`` as chosen by
    :func:`train_validation_assignment`. Raises :class:`DataError` naming the file (and the
    1-based item where it can) on malformed or truncated XML, bytes that are not UTF-8, a missing
    or unusable rating, or an empty review.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror or exc}", source=path) from None
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        raise DataError(
            f"malformed XML at line {line}, column {column + 1}: {reason}",
            source=path,
            record=_error_record(data, line, column),
        ) from None
    if root.tag != "items":
        raise DataError(f"root element is <{root.tag}>, expected <items>", source=path)
    reviews: list[tuple[str, str]] = []
    for record, item in enumerate(root, start=1):
        if item.tag != "item":
            raise DataError(f"unexpected element <{item.tag}> inside <items>", source=path, record=record)
        label = _label_of(item.findtext("rating"), path, record)
        text = join_review(item.findtext("summary"), item.findtext("text"))
        if not text:
            raise DataError("review has neither a summary nor a text", source=path, record=record)
        reviews.append((text, label))
    if train_split:
        splits: list[str | None] = list(
            train_validation_assignment([label for _, label in reviews], language=language, domain=domain)
        )
    else:
        splits = [split] * len(reviews)
    return [
        Example(
            text=text,
            label=label,
            language=language,
            domain=domain,
            split=split_name,
            uid=f"{language}/{domain}/{path.name}#{record}",
        )
        for record, ((text, label), split_name) in enumerate(zip(reviews, splits), start=1)
    ]


def train_validation_assignment(labels: Sequence[str], *, language: str, domain: str) -> list[str]:
    """``train`` or ``validation`` for each review of a ``train.review``, given their labels in file order.

    Stratified 80/20 by label with the fixed seed ``"webis-cls-10/{language}/{domain}"``.
    """
    return stratified_assignment(
        labels,
        {"train": WEBIS_TRAIN_FRACTION, "validation": 1.0 - WEBIS_TRAIN_FRACTION},
        seed=f"webis-cls-10/{language}/{domain}",
    )


def _check_choice(values: Iterable[str] | None, allowed: Sequence[str], what: str) -> list[str]:
    if values is None:
        return list(allowed)
    if isinstance(values, str):
        values = [values]
    chosen = list(dict.fromkeys(values))
    unknown = [v for v in chosen if v not in allowed]
    if unknown:
        raise DataError(f"unknown Webis-CLS-10 {what} {unknown}; expected some of {list(allowed)}")
    return chosen


def load_webis(
    root: str | Path,
    *,
    languages: Iterable[str] | None = None,
    domains: Iterable[str] | None = None,
    splits: Iterable[str] = SPLITS,
) -> list[Example]:
    """Load Webis-CLS-10 from its unpacked folder (``cls-acl10-unprocessed``, or the folder holding it).

    ``languages`` (ISO codes; ``jp`` is accepted for ``ja``) and ``domains`` default to all four
    languages and all three domains, each of which must be present; ``splits`` picks among
    ``train``, ``validation`` (both from ``train.review``) and ``test`` (``test.review``).
    Examples come language by language (in the order asked), domain by domain, train file before
    test file, in file order. See the module docstring for how items become examples.
    """
    root = resolve_webis_root(root)
    if isinstance(languages, str):
        languages = [languages]
    if languages is not None:
        languages = [normalize_language(code) for code in languages]
    langs = _check_choice(languages, WEBIS_LANGUAGES, "language(s)")
    doms = _check_choice(domains, WEBIS_DOMAINS, "domain(s)")
    wanted = set(_check_choice(splits, SPLITS, "split(s)"))
    examples: list[Example] = []
    for language in langs:
        lang_dir = _language_dir(root, language)
        for domain in doms:
            folder = lang_dir / domain
            if wanted & {"train", "validation"}:
                path = folder / "train.review"
                if not path.is_file():
                    raise DataError("file not found (Webis-CLS-10 train file)", source=path)
                train = read_review_file(path, language=language, domain=domain, train_split=True)
                examples.extend(ex for ex in train if ex.split in wanted)
            if "test" in wanted:
                path = folder / "test.review"
                if not path.is_file():
                    raise DataError("file not found (Webis-CLS-10 test file)", source=path)
                examples.extend(read_review_file(path, language=language, domain=domain, split="test"))
    return examples
