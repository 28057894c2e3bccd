"""What the benchmark scripts share: where the data is, and their common command-line options.

Benchmarks (not the library) read ``MGL_DATA``; each script is run as
``python benchmarks/<script>.py`` so this folder is on ``sys.path``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DATA_HINT = ("point it at the folder holding cls-acl10-unprocessed/ (and paws-x/), e.g. "
             "export MGL_DATA=../shared/data, or get the corpus with 'mgl data download webis-cls-10'")


def require_mgl_data(script: str) -> Path | None:
    """``$MGL_DATA`` as a path, or None after telling the user (the script then exits with 2)."""
    root = os.environ.get("MGL_DATA")
    if not root:
        print(f"{script}: MGL_DATA is unset: {DATA_HINT}", file=sys.stderr)
        return None
    return Path(root)


def add_common_options(parser: argparse.ArgumentParser, out: str, *, quiet: bool = True) -> argparse.ArgumentParser:
    """``--set section.field=value`` (repeatable), ``--out FILE.json`` and, optionally, ``--quiet``."""
    parser.add_argument("--set", dest="overrides", action="append", default=[], help="section.field=value")
    parser.add_argument("--out", default=out, help=f"JSON result (default {out}).")
    if quiet:
        parser.add_argument("--quiet", action="store_true", help="No progress bars.")
    return parser
