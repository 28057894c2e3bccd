"""Sphinx configuration of the mgl documentation: ``make docs`` builds it into docs/_build/html,
warnings as errors. Pages are Markdown (MyST); the API reference is generated from the
docstrings (autodoc), the CLI reference from the Typer app (``_ext/mgl_cli_ref.py``), the configuration
reference from the dataclasses (``_ext/mgl_config_ref.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))

project = "mgl"
author = "the mgl authors"
copyright = "2026, the mgl authors"

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.mathjax",
    "sphinx.ext.viewcode",
    "mgl_config_ref",
    "mgl_cli_ref",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "results/raw", "results/graphs", "**/.ipynb_checkpoints"]
myst_enable_extensions = ["colon_fence", "dollarmath"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_mock_imports = ["ray"]
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_ivar = True  # an Attributes: section does not describe the attribute a second time
nitpicky = False

html_theme = "furo"
html_title = "mgl"
html_static_path: list[str] = []
