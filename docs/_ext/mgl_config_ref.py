"""``.. mgl-config::``: every configuration field, generated from the dataclasses of :mod:`mgl.config`.

One table per section (``mgl``, ``encoder``, ``data``, then the run's own fields): the field as
``--set`` names it, its type, its default, whether it changes results (from the field's metadata,
the rule every fingerprint applies: :func:`mgl.fingerprints.result_settings`) and its docstring (the
string literal under the field in the source). Nothing here is typed by hand.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import textwrap

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


def field_docstrings(cls: type) -> dict[str, str]:
    """``{field: docstring}`` from the class body: a string literal right under an annotated field."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    body = tree.body[0].body  # type: ignore[attr-defined]
    docs = {}
    for node, nxt in itertools.pairwise(body):
        if (
            isinstance(node, ast.AnnAssign)
            and isinstance(node.target, ast.Name)
            and isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[node.target.id] = inspect.cleandoc(nxt.value.value)
    return docs


def effect(f: dataclasses.Field) -> str:
    meta = f.metadata
    if meta.get("no_effect"):
        return "no"
    if "acts_when" in meta:
        name, value = meta["acts_when"]
        return f"when ``{name}`` is ``{value}``"
    if "acts_unless" in meta:
        name, value = meta["acts_unless"]
        return f"unless ``{name}`` is ``{value}``"
    return "yes"


def default(f: dataclasses.Field) -> str:
    if f.default is not dataclasses.MISSING:
        value = f.default
    elif f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
        value = f.default_factory()  # type: ignore[misc]
        if dataclasses.is_dataclass(value):
            return "(section)"
    else:
        return "(required)"
    return f"``{value!r}``"


def _cell(text: str) -> list[str]:
    lines = text.splitlines() or [""]
    return lines


class ConfigReference(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        from mgl.config import DataConfig, EncoderConfig, MGLConfig, RunConfig

        sections = [("mgl", MGLConfig), ("encoder", EncoderConfig), ("data", DataConfig), (None, RunConfig)]
        rst: list[str] = []
        for prefix, cls in sections:
            title = f"``{prefix}.*``: {cls.__name__}" if prefix else "The run itself: RunConfig"
            rst += [title, "~" * len(title), ""]
            if cls.__doc__ and not cls.__doc__.startswith(cls.__name__ + "("):
                rst += [inspect.cleandoc(cls.__doc__), ""]
            docs = field_docstrings(cls)
            rst += [".. list-table::", "   :header-rows: 1", "   :widths: 20 12 12 12 44", ""]
            rst += ["   * - field", "     - type", "     - default", "     - changes results", "     - meaning"]
            for f in dataclasses.fields(cls):
                if prefix is None and f.name in ("mgl", "encoder", "data"):
                    continue
                name = f"{prefix}.{f.name}" if prefix else f.name
                cells = [f"``{name}``", f"``{f.type}``", default(f), effect(f), docs.get(f.name, "")]
                for i, cell in enumerate(cells):
                    lines = _cell(cell)
                    rst.append(("   * - " if i == 0 else "     - ") + lines[0])
                    rst += ["       " + line for line in lines[1:]]
            rst.append("")
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(rst, source="mgl.config"), node)
        return node.children


def setup(app):
    app.add_directive("mgl-config", ConfigReference)
    return {"version": "1", "parallel_read_safe": True}
