"""Language codes: any common spelling of a language, one canonical tag.

mgl names a language by a BCP 47 tag normalised with ``langcodes`` (the library the Python
ecosystem uses for IETF language tags): ISO 639-1 (``yo``), ISO 639-3 (``yor``), BCP 47
(``zh-Hant``, ``yo-Latn``, ``fr-FR``) and the Flores-200 / NLLB style of SIB-200 (``yor_Latn``) are
accepted, in files, options and the library, and become one tag:

* the shortest language subtag (``yor`` -> ``yo``, ``nob`` -> ``nb``);
* the script kept only where it is not the language's usual one (``yor_Latn`` -> ``yo``, ``zho_Hans``
  -> ``zh``, ``ko-Hang`` -> ``ko``, ``acm_Arab`` -> ``acm``, but ``zh-Hant``, ``ace-Arab`` beside
  ``ace``, ``ks-Deva`` beside ``ks``). The usual script is CLDR's likely script of the language, else
  of its macrolanguage (``acm`` -> ``ar``: Arabic), with :data:`USUAL_SCRIPT_OVERRIDES` where CLDR
  has neither right; Korean written in Hangul alone (``Hang``) is Korean's usual ``Kore``;
* a region folded into the language (``fr-FR``, ``en-US``, ``ko-KR`` -> ``fr``, ``en``, ``ko``),
  keeping the script it implies where that is not the usual one (``zh-TW`` -> ``zh-Hant``), except
  a region that names a variety of its own in the IANA registry (``prs_Arab`` -> ``fa-AF``, Dari;
  ``sw-CD``; ``sr-ME``); ``keep_regions=True`` (``data.keep_regions``, ``--keep-regions``) keeps every
  region as given, for a user to whom ``pt-BR`` and ``pt-PT`` are two targets.

So ``yo``, ``yor`` and ``yor_Latn`` are one language; the two-letter codes of the data sets mgl
has always read (``en``, ``fr``, ``de``, ``ja``, ``es``, ``ko``, ``zh``) are their own canonical
tags, which keeps every saved model, cache key and committed grid as it was. An unknown or
malformed code is an error naming where it came from. :func:`language_name` gives the English
name shown beside a tag. A file whose rows spell one language several ways is read as one
language, with one notice naming what was folded (:class:`SpellingNotes`).
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


USUAL_SCRIPT_OVERRIDES = {"azb": "Arab"}
"""The usual script where CLDR's likely subtags give none or the wrong one for the language:
South Azerbaijani (``azb``) is written in the Perso-Arabic script, though its macrolanguage
(``az``) is Latin."""

_SAME_WRITING = {"ko": frozenset({"Kore", "Hang"})}
"""Scripts that are the language's usual writing beside CLDR's likely script: Korean's ``Kore``
(Hangul with Hanja) and ``Hang`` (Hangul alone, how Korean is written today)."""


@functools.lru_cache(maxsize=1)
def _variety_regions() -> frozenset[tuple[str, str]]:
    """(language, region) pairs that name a variety of their own: the replacements of the IANA
    registry's deprecated codes that carry a region (``prs`` -> ``fa-AF``, ``swc`` -> ``sw-CD``)."""
    import langcodes
    from langcodes.data_dicts import LANGUAGE_REPLACEMENTS

    pairs = set()
    for deprecated, replacement in LANGUAGE_REPLACEMENTS.items():
        if "-" in deprecated:  # a grandfathered tag (en-gb-oed), not a language code
            continue
        lang = langcodes.Language.get(replacement, normalize=False)
        if lang.language and lang.territory and lang.language != "und":
            pairs.add((lang.language, lang.territory))
    return frozenset(pairs)


@functools.lru_cache(maxsize=4096)
def _usual_scripts(language: str) -> frozenset[str]:
    """The script(s) a language is usually written in (see the module docstring)."""
    import langcodes
    from langcodes.data_dicts import LIKELY_SUBTAGS, MACROLANGUAGES

    if language in USUAL_SCRIPT_OVERRIDES:
        return frozenset({USUAL_SCRIPT_OVERRIDES[language]})
    script = None
    for code in (language, MACROLANGUAGES.get(language)):
        if code is not None and code in LIKELY_SUBTAGS:
            script = langcodes.Language.get(LIKELY_SUBTAGS[code], normalize=False).script
            break
    if script is None:
        script = langcodes.Language.get(language).maximize().script
    return _SAME_WRITING.get(language, frozenset()) | ({script} if script else set())


def _region_script(language: str, territory: str) -> str | None:
    """The script CLDR's likely subtags give the language in that region (``zh-TW`` -> ``Hant``), if any."""
    import langcodes
    from langcodes.data_dicts import LIKELY_SUBTAGS

    likely = LIKELY_SUBTAGS.get(f"{language}-{territory}")
    return langcodes.Language.get(likely, normalize=False).script if likely else None


@functools.lru_cache(maxsize=4096)
def _canonical(code: str, keep_regions: bool = False) -> str | None:
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
    script, territory = lang.script, lang.territory
    if territory is not None and not keep_regions and (lang.language, territory) not in _variety_regions():
        # the region folds into the language; the script it implies stays where it is not the usual one
        script = script or _region_script(lang.language, territory)
        territory = None
    if script is not None and script in _usual_scripts(lang.language):  # the usual script says nothing
        script = None
    return langcodes.Language.make(language=lang.language, script=script, territory=territory).to_tag()


def canonical_language(
    code: object,
    *,
    source: str | Path | None = None,
    record: int | None = None,
    what: str = "language",
    where: str = "",
    keep_regions: bool = False,
) -> str:
    """The canonical tag of ``code`` (see the module docstring; ``keep_regions``: a region subtag
    stays as given). Raises :class:`DataError` naming ``source`` and ``record`` where given (a
    file's record), else :class:`ConfigError`."""
    text = code.strip() if isinstance(code, str) else ""
    tag = _canonical(text, keep_regions) if text else None
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
    """Whether ``tag`` is a canonical language tag (what :func:`canonical_language` returns, with
    regions folded or kept)."""
    return isinstance(tag, str) and tag in (_canonical(tag), _canonical(tag, True))


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
