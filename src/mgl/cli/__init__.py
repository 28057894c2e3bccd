"""The ``mgl`` command line. Each verb group lives in its own module and is registered here."""

from __future__ import annotations

import importlib
import sys

import typer

from mgl.errors import MGLError

app = typer.Typer(
    name="mgl",
    help="Few-shot cross-lingual text classification by Meta Graph Learning.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

# (module, attribute, name): sub-apps (``mgl data ...``) or plain commands (``mgl run``).
_GROUPS = [
    ("mgl.cli.data", "app", "data"),
    ("mgl.cli.encoder", "app", "encoder"),
    ("mgl.cli.experiment", "app", "experiment"),
    ("mgl.cli.plot", "app", "plot"),
]
_COMMANDS = [
    ("mgl.cli.train", "register"),
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


def main() -> None:
    """Entry point: user errors become one line on stderr and exit status 2."""
    try:
        app(standalone_mode=False)
    except MGLError as exc:
        print(f"mgl: error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("mgl: interrupted", file=sys.stderr)
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as exc:  # click usage errors etc.
        import click

        if isinstance(exc, click.exceptions.ClickException):
            exc.show()
            sys.exit(2)
        if isinstance(exc, click.exceptions.Exit):
            sys.exit(exc.exit_code)
        if isinstance(exc, click.exceptions.Abort):
            sys.exit(1)
        raise
