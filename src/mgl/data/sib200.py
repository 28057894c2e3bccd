"""SIB-200 (Adelani et al., EACL 2024): topic classification of the same Flores-200 sentences in
205 languages and scripts, seven classes.

The publisher's layout (``data/annotated/`` of the SIB-200 repository; ``data/`` of the Hugging
Face copy ``Davlan/sib200``): ``{lang_Script}/{train,dev,test}.tsv``, tab-separated with the
header ``index_id, category, text``, read by the one reader (:mod:`mgl.data.records`; the files
quote a text holding a quote the way pandas writes TSV). ``dev`` is the validation split. A
folder is named by its Flores-200 code (``yor_Latn``); its examples carry the canonical tag
(:func:`mgl.data.languages.canonical_language`: ``yo``), and ``languages`` may be given in any
spelling (``yo``, ``yor``, ``yor_Latn``). Record ids are ``{folder}/{split}#{index_id}``: the
sentences are parallel, so the same ``index_id`` names one sentence in every language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from mgl.data.examples import SPLITS, Example, checked_splits
from mgl.data.languages import canonical_language
from mgl.data.user_files import load_table
from mgl.errors import DataError

SIB200_DIRNAME = "sib-200"
SIB200_FILES = {"train": "train.tsv", "validation": "dev.tsv", "test": "test.tsv"}
SIB200_LABELS = ("entertainment", "geography", "health", "politics", "science/technology", "sports", "travel")


def resolve_sib200_root(root: str | Path) -> Path:
    """The folder holding ``{lang_Script}/train.tsv``: ``root`` itself, or ``root/sib-200``."""
    root = Path(root).expanduser()
    if not root.is_dir():
        raise DataError("not a folder (expected the SIB-200 folder holding {lang_Script}/train.tsv)", source=root)
    nested = root / SIB200_DIRNAME
    if nested.is_dir() and not any(root.glob("*/train.tsv")):
        return nested
    return root


def sib200_folders(root: str | Path) -> dict[str, str]:
    """Every language folder of a SIB-200 root: canonical tag -> folder name."""
    root = resolve_sib200_root(root)
    folders = {}
    for path in sorted(root.glob("*/train.tsv")):
        folders[canonical_language(path.parent.name, source=path.parent)] = path.parent.name
    if not folders:
        raise DataError("no {lang_Script}/train.tsv files here: not a SIB-200 folder", source=root)
    return folders


def sib200_tag(code: str, folders: dict[str, str]) -> str:
    """The folder tag ``code`` names: its canonical tag, or, where no folder has that tag, the one
    folder of the same language (``crh`` -> ``crh-Latn``, SIB-200's only Crimean Tatar), so every
    folder answers to every spelling that names it unambiguously."""
    tag = canonical_language(code)
    if tag in folders:
        return tag
    language = tag.split("-")[0]
    same = [t for t in folders if t.split("-")[0] == language]
    return same[0] if len(same) == 1 else tag


def load_sib200(
    root: str | Path, *, languages: Iterable[str] | str | None = None, splits: Iterable[str] = SPLITS
) -> list[Example]:
    """Load SIB-200's train, dev (as validation) and test splits.

    ``languages`` (any spelling) defaults to every language folder, sorted by tag; a language
    asked for and missing is an error naming the root. Examples come language by language, split
    by split, each in file order."""
    root = resolve_sib200_root(root)
    folders = sib200_folders(root)
    if languages is None:
        tags = sorted(folders)
    else:
        asked = [languages] if isinstance(languages, str) else list(languages)
        tags = list(dict.fromkeys(sib200_tag(code, folders) for code in asked))
        missing = [tag for tag in tags if tag not in folders]
        if missing:
            raise DataError(f"no SIB-200 folder for {missing} (there are {len(folders)} languages here)", source=root)
    wanted = checked_splits(splits)
    examples: list[Example] = []
    for tag in tags:
        folder = folders[tag]
        for split in wanted:
            path = root / folder / SIB200_FILES[split]
            if not path.is_file():
                raise DataError(f"file not found (SIB-200 language {folder}, split {split})", source=path)
            rows = load_table(
                path, text="text", label="category", uid="index_id", fixed_language=tag, fixed_split=split, fmt="tsv"
            )
            examples.extend(replace(ex, uid=f"{folder}/{split}#{ex.uid}") for ex in rows)
    return examples
