"""PAWS-X (Yang et al., EMNLP 2019): labelled development sets, read from the original layout.

The layout is ``{lang}/dev_2k.tsv`` (as in the original ``x-final/`` folders; ``lang`` among de,
en, es, fr, ja, ko, zh), each a tab-separated file with the header ``id, sentence1, sentence2,
label`` and no quoting (the sentences contain quote characters; see :mod:`mgl.data.user_files`).

An :class:`~mgl.data.examples.Example` is made of one row: ``text`` = ``sentence1``,
``text_pair`` = ``sentence2``, ``label`` ``"paraphrase"`` for 1 and ``"not_paraphrase"`` for 0
(any other value is a :class:`~mgl.errors.DataError` naming the file and record), ``domain``
``None``, ``uid`` ``"{lang}/dev_2k.tsv#{record}"`` (1-based data row).

The original training and test files are not read: each language's pairs (2000 in the original)
are split into ``train`` 60% / ``validation`` 20% / ``test`` 20%, stratified by label, by
:func:`mgl.data.splits.stratified_assignment` with the fixed seed ``"paws-x/{lang}"``, so every load
gives the same split whatever the run's seed. The sizes come from
:func:`mgl.data.splits.stratified_sizes` (the parts' totals by largest remainder, each label's
sizes within one of its exact quotas); for the published files this gives 1200/400/400 pairs per
language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from mgl.data.examples import SPLITS, Example, checked_splits
from mgl.data.splits import stratified_assignment
from mgl.data.user_files import load_table
from mgl.errors import DataError

PAWSX_DIRNAME = "paws-x"
PAWSX_FILE = "dev_2k.tsv"
PAWSX_LANGUAGES = ("de", "en", "es", "fr", "ja", "ko", "zh")
PAWSX_LABELS = {"0": "not_paraphrase", "1": "paraphrase"}
PAWSX_FRACTIONS = {"train": 0.6, "validation": 0.2, "test": 0.2}


def resolve_pawsx_root(root: str | Path) -> Path:
    """The folder holding ``{lang}/dev_2k.tsv``: ``root`` itself, or ``root/paws-x``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError("not a folder (expected the PAWS-X folder holding {lang}/dev_2k.tsv)", source=root)
    nested = root / PAWSX_DIRNAME
    if nested.is_dir() and not any(root.glob(f"*/{PAWSX_FILE}")):
        return nested
    return root


def load_pawsx_file(path: str | Path, language: str) -> list[Example]:
    """All pairs of one ``dev_2k.tsv`` in file order, ``split`` left as ``None``."""
    path = Path(path)
    examples = load_table(
        path,
        text="sentence1",
        text_pair="sentence2",
        label="label",
        fixed_language=language,
        label_map=PAWSX_LABELS,
        fmt="tsv",
    )
    return [replace(ex, split=None, uid=f"{language}/{ex.uid}") for ex in examples]


def load_pawsx(
    root: str | Path,
    *,
    languages: Iterable[str] | None = None,
    splits: Iterable[str] = SPLITS,
) -> list[Example]:
    """Load PAWS-X development sets with a deterministic 60/20/20 train/validation/test split.

    ``root`` is the folder holding ``{lang}/dev_2k.tsv`` (or the folder holding ``paws-x/``).
    ``languages`` defaults to every language folder that has a ``dev_2k.tsv``, sorted; a language
    asked for and missing is an error. ``splits`` picks the parts returned. Examples come
    language by language, each in file order. See the module docstring for the split.
    """
    root = resolve_pawsx_root(root)
    if languages is None:
        langs = sorted(p.parent.name for p in root.glob(f"*/{PAWSX_FILE}"))
        if not langs:
            raise DataError(f"no {{lang}}/{PAWSX_FILE} files here: not a PAWS-X folder", source=root)
    else:
        langs = list(dict.fromkeys([languages] if isinstance(languages, str) else languages))
    wanted = checked_splits(splits)
    examples: list[Example] = []
    for language in langs:
        path = root / language / PAWSX_FILE
        if not path.is_file():
            raise DataError(f"file not found (PAWS-X language {language!r})", source=path)
        pairs = load_pawsx_file(path, language)
        assignment = stratified_assignment([ex.label for ex in pairs], PAWSX_FRACTIONS, seed=f"paws-x/{language}")
        examples.extend(ex.with_split(name) for ex, name in zip(pairs, assignment) if name in wanted)
    return examples
