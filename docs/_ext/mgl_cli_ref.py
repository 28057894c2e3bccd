"""``.. mgl-cli::``: every ``mgl`` command, argument and option, generated from the Typer app.

Typer (0.29) vendors click, so sphinx-click's ``isinstance(click.Command)`` check does not
recognise its commands; this walks the same tree (``typer.main.get_command``) and writes each
command's usage, help and a table of its parameters (names, type, default, help).
"""

from __future__ import annotations

import inspect

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective
from sphinx.util.nodes import nested_parse_with_titles


def _walk(command, path):
    yield path, command
    for name in sorted(getattr(command, "commands", {}) or {}):
        yield from _walk(command.commands[name], [*path, name])


def _escape(text: str) -> str:
    return text.replace("*", r"\*").replace("|", r"\|").replace("`", "``").replace("````", "``")


def _type_name(param) -> str:
    kind = getattr(param, "type", None)
    return getattr(kind, "name", "") if kind is not None else ""


def _default(param) -> str:
    if getattr(param, "is_flag", False) or getattr(param, "default", None) is None or callable(param.default):
        return ""
    if isinstance(param.default, (list, tuple)) and not param.default:
        return ""
    return f"``{param.default}``"


class CLIReference(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        import typer.main

        from mgl.cli import app

        root = typer.main.get_command(app)
        rst: list[str] = []
        for path, command in _walk(root, ["mgl"]):
            title = " ".join(path)
            rst += [title, "~" * len(title), ""]
            ctx = command.make_context(title, [], resilient_parsing=True)
            pieces = " ".join(command.collect_usage_pieces(ctx))
            rst += ["::", "", f"   {title} {pieces}", ""]
            if command.help:
                rst += [_escape(inspect.cleandoc(command.help)).replace("\b\n", ""), ""]
            params = [p for p in command.params if p.name != "help" and not getattr(p, "hidden", False)]
            if not params:
                continue
            rst += [".. list-table::", "   :header-rows: 1", "   :widths: 28 14 14 44", ""]
            rst += ["   * - parameter", "     - type", "     - default", "     - help"]
            for p in params:
                names = ", ".join(f"``{o}``" for o in [*p.opts, *getattr(p, "secondary_opts", [])]) or f"``{p.name}``"
                if p.param_type_name == "argument":
                    names = f"``{p.name.upper()}`` (argument)"
                required = " (required)" if p.required else ""
                help_text = " ".join((getattr(p, "help", None) or "").split())
                rst += [
                    f"   * - {names}{required}",
                    f"     - {_type_name(p)}",
                    f"     - {_default(p)}",
                    f"     - {_escape(help_text)}",
                ]
            rst.append("")
        node = nodes.section()
        node.document = self.state.document
        nested_parse_with_titles(self.state, StringList(rst, source="mgl.cli"), node)
        return node.children


def setup(app):
    app.add_directive("mgl-cli", CLIReference)
    return {"version": "1", "parallel_read_safe": True}
