"""The ``mgl`` command line. Each verb group lives in its own module and is registered here."""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from mgl import __version__
from mgl.errors import MGLError, WorkerLost

app = typer.Typer(
    name="mgl",
    help="Few-shot cross-lingual text classification by Meta Graph Learning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,  # mgl --install-completion / --show-completion (bash, zsh, fish, PowerShell)
)

LOG_LEVELS = ("debug", "info", "warning", "error")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mgl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print mgl's version and exit."
    ),
    log_level: str = typer.Option(
        "info",
        "--log-level",
        help=f"Notices mgl prints on stderr, for every command: {', '.join(LOG_LEVELS)} ('error': errors only).",
    ),
) -> None:
    """Few-shot cross-lingual text classification by Meta Graph Learning."""
    level = log_level.strip().lower()
    if level not in LOG_LEVELS:
        raise typer.BadParameter(
            f"expected one of {', '.join(LOG_LEVELS)}, got {log_level!r}", param_hint="--log-level"
        )
    logging.getLogger("mgl").setLevel(getattr(logging, level.upper()))


# (module, attribute, name): sub-apps (``mgl data ...``) or plain commands (``mgl run``).
_GROUPS = [
    ("mgl.cli.data", "app", "data"),
    ("mgl.cli.encoder", "app", "encoder"),
    ("mgl.cli.experiment", "app", "experiment"),
    ("mgl.cli.plot", "app", "plot"),
]
_COMMANDS = [
    ("mgl.cli.train", "register"),
    ("mgl.cli.predict", "register"),
    ("mgl.cli.suggest", "register"),
    ("mgl.cli.serve", "register"),
]

for _module, _attr, _name in _GROUPS:
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as exc:  # a group not yet written
        if exc.name != _module:
            raise
        continue
    app.add_typer(getattr(_mod, _attr), name=_name)

for _module, _attr in _COMMANDS:
    try:
        _mod = importlib.import_module(_module)
    except ModuleNotFoundError as exc:
        if exc.name != _module:
            raise
        continue
    getattr(_mod, _attr)(app)


def _click_exceptions():
    """Typer >= 0.29 vendors click as ``typer._click``; older releases use ``click``."""
    try:
        from typer._click import exceptions
    except ImportError:  # pragma: no cover - older typer
        from click import exceptions
    return exceptions


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time of the record (tests redirect it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def main(argv: list[str] | None = None) -> None:
    """Entry point: user errors become one line on stderr and exit status 2, never a traceback."""
    log = logging.getLogger("mgl")  # the library's notices (e.g. carved validation rows), one line each
    if not any(isinstance(h, _StderrHandler) for h in log.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("mgl: %(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
    exceptions = _click_exceptions()
    try:
        app(args=argv, standalone_mode=False)
    except MGLError as exc:
        print(f"mgl: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except WorkerLost as exc:  # a worker process died: not the user's input, and nothing finished is lost
        print(f"mgl: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except exceptions.ClickException as exc:  # unknown options, bad values, missing arguments
        exc.show()
        sys.exit(2)
    except BrokenPipeError:  # e.g. `mgl ... --help | head`
        sys.exit(0)
    except KeyboardInterrupt:
        print("mgl: interrupted", file=sys.stderr)
        sys.exit(130)
    except OSError as exc:  # unreadable or unwritable paths
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"mgl: error: {where}{exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
