"""Errors that the CLI reports as one line, with exit status 2 and no traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class MGLError(Exception):
    """A user-facing error: bad input, a missing file, an impossible setting.

    ``source`` names the file (or other origin) and ``record`` the 1-based record in it,
    so that the message tells the user where to look.
    """

    def __init__(self, message: str, *, source: str | Path | None = None, record: int | None = None):
        self.message = message
        self.source = str(source) if source is not None else None
        self.record = record
        super().__init__(str(self))

    def __str__(self) -> str:
        where = ""
        if self.source is not None:
            where = self.source
            if self.record is not None:
                where += f", record {self.record}"
            where += ": "
        return where + self.message

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        # keyword-only fields survive pickling (an error raised in a worker process or a Ray actor
        # reaches the driver with its file and record)
        return (_rebuild_error, (type(self), self.message, self.source, self.record))


def _rebuild_error(cls: type[MGLError], message: str, source: Any, record: int | None) -> MGLError:
    return cls(message, source=source, record=record)


class WorkerLost(RuntimeError):
    """A worker process died under a pool (killed, out of memory). What finished before is kept, so
    the same command run again continues; the command line reports it in one line, exit status 1."""

    def __init__(
        self,
        message: str = "a worker process died (killed, or out of memory); what finished before is "
        "kept: run the same command again to continue",
    ):
        super().__init__(message)


class DataError(MGLError):
    """Malformed or inconsistent input data."""


class ConfigError(MGLError):
    """An invalid configuration value."""


def unencodable_at(text: str) -> int | None:
    """The 1-based position of the first character of ``text`` that UTF-8 cannot encode (a lone
    surrogate, which JSON's ``\\ud800`` escapes can carry), or None when the whole text is valid
    Unicode. Such a text cannot be tokenised, written or compared: it is refused at the door."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start + 1
    return None


def check_text(text: str, *, what: str, source: str | Path | None = None, record: int | None = None) -> None:
    """Raise :class:`DataError` naming ``what`` (and the source and record) if ``text`` holds a lone surrogate."""
    position = unencodable_at(text)
    if position is not None:
        raise DataError(
            f"{what} is not valid Unicode: a lone surrogate (U+{ord(text[position - 1]):04X}) at character {position}",
            source=source,
            record=record,
        )
