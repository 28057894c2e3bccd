"""Language codes: any common spelling of a language, one canonical tag.

mgl names a language by a BCP 47 tag normalised with ``langcodes`` (the library the Python
ecosystem uses for IETF language tags): ISO 639-1 (``yo``), ISO 639-3 (``yor``), BCP 47
(``zh-Hant``, ``yo-Latn``) and the Flores-200 / NLLB style of SIB-200 (``yor_Latn``) are
accepted, in files, options and the library, and become one tag:

* the shortest language subtag (``yor`` -> ``yo``, ``nob`` -> ``nb``);
* the script kept only where it is not the language's usual one (``yor_Latn`` -> ``yo``, ``zho_Hans``
  -> ``zh``, but ``zh-Hant``, ``ace-Arab`` beside ``ace``, ``ks-Deva`` beside ``ks``);
* a region kept as given (``prs_Arab`` -> ``fa-AF``, Dari).

So ``yo``, ``yor`` and ``yor_Latn`` are one language; the two-letter codes of the data sets mgl
has always read (``en``, ``fr``, ``de``, ``ja``, ``es``, ``ko``, ``zh``) are their own canonical
tags, which keeps every saved model, cache key and committed grid as it was. An unknown or
malformed code is an error naming where it came from. :func:`language_name` gives the English
name shown beside a tag.
"""

from __future__ import annotations

import functools
import logging
import re
from pathlib import Path

from mgl.errors import ConfigError, DataError

__all__ = ["SpellingNotes", "canonical_language", "is_canonical", "language_label", "language_name"]

_SHAPE = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*")
_LOG = logging.getLogger("mgl")


@functools.lru_cache(maxsize=4096)
def _canonical(code: str) -> str | None:
    import langcodes

    if not _SHAPE.fullmatch(code):
        return None
    try:
        lang = langcodes.Language.get(code.replace("_", "-"))
    except (ValueError, LookupError):
        return None
    if lang.language is None or not lang.is_valid() or lang.language in ("und", "mis", "zxx", "mul"):
        return None
    if lang.extlangs or lang.variants or lang.extensions or lang.private:
        return None
    base = langcodes.Language.get(lang.language)
    if base.display_name() == f"Unknown language [{lang.language}]":
        return None
    if lang.script is not None and lang.script == base.maximize().script:  # the usual script says nothing
        lang = langcodes.Language.make(language=lang.language, territory=lang.territory)
    return lang.to_tag()


def canonical_language(
    code: object,
    *,
    source: str | Path | None = None,
    record: int | None = None,
    what: str = "language",
    where: str = "",
) -> str:
    """The canonical tag of ``code`` (see the module docstring). Raises :class:`DataError` naming
    ``source`` and ``record`` where given (a file's record), else :class:`ConfigError`."""
    text = code.strip() if isinstance(code, str) else ""
    tag = _canonical(text) if text else None
    if tag is None:
        message = (
            f"{what} {code!r}{where} is not a language code (ISO 639-1 'yo', ISO 639-3 'yor', BCP 47 'yo-Latn' or "
            "Flores-200 'yor_Latn')"
        )
        if source is not None:
            raise DataError(message, source=source, record=record)
        raise ConfigError(message)
    return tag


def is_canonical(tag: object) -> bool:
    """Whether ``tag`` is a canonical language tag (what :func:`canonical_language` returns)."""
    return isinstance(tag, str) and _canonical(tag) == tag


@functools.lru_cache(maxsize=4096)
def language_name(tag: str) -> str:
    """The English name of a tag (``yo`` -> ``Yoruba``, ``zh-Hant`` -> ``Chinese (Traditional)``)."""
    import langcodes

    try:
        return langcodes.Language.get(tag).display_name()
    except (ValueError, LookupError):
        return tag


def language_label(tag: str) -> str:
    """``tag (English name)``, as tables, the model card and the service show a language."""
    name = language_name(tag)
    return tag if name == tag else f"{tag} ({name})"


class SpellingNotes:
    """Collects the spellings of each canonical tag met in one source (a file) and says once, in one
    line, where several spellings named one language (``yo``, ``yor_Latn`` -> ``yo``)."""

    def __init__(self, source: str | Path | None) -> None:
        self.source = str(source)
        self.spellings: dict[str, set[str]] = {}

    def add(self, spelling: str, tag: str) -> None:
        self.spellings.setdefault(tag, set()).add(spelling.strip())

    def report(self) -> None:
        merged = {tag: sorted(s) for tag, s in self.spellings.items() if len(s) > 1}
        if merged:
            parts = "; ".join(
                f"{', '.join(repr(s) for s in spellings)} -> {language_label(tag)}"
                for tag, spellings in sorted(merged.items())
            )
            _LOG.warning("%s: several spellings name one language, read as one: %s", self.source, parts)
