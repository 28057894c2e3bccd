"""Setting configuration values: a YAML or command-line value converted to its field's annotated type.

:func:`set_field` is how every configuration value is set (presets, files, ``--set``), so a bad value
is a :class:`~mgl.errors.ConfigError` naming the setting and where it came from; :func:`apply_dict`
(a file's sections) and :func:`apply_override` (one ``section.field=value``) set them on a
configuration of sections (:func:`config_sections`), whatever its dataclass.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import fields
from typing import Any

import yaml

from mgl.errors import ConfigError


def override_value(text: str) -> str | None:
    """The value of one command-line override, before :func:`coerce` types it.

    Unquoted text is stripped (``--set mgl.lr= 1e-4`` is ``1e-4``; empty is None) and typed by
    :func:`coerce` (``no`` stays a string where a string is wanted). Text quoted YAML's way,
    ``'query: '`` or ``"query: "``, is that string exactly: quotes removed, spaces inside kept
    (a shell strips one level of quotes, so write ``--set "encoder.prefix='query: '"``).
    """
    stripped = text.strip()
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        try:
            parsed = yaml.safe_load(stripped)
        except yaml.YAMLError:  # e.g. a list written 'en','fr': coerce() splits it
            parsed = None
        if isinstance(parsed, str):
            return parsed
    return stripped or None


def name_of(obj: Any, name: str) -> bool:
    return any(f.name == name for f in fields(obj)) and not dataclasses.is_dataclass(getattr(obj, name))


def set_field(obj: Any, name: str, value: Any, *, where: str, source: str) -> None:
    if not name_of(obj, name):
        known = ", ".join(f.name for f in fields(obj))
        raise ConfigError(f"unknown setting {where!r} (known: {known})", source=source)
    hint = typing.get_type_hints(type(obj))[name]
    setattr(obj, name, coerce(value, hint, where=where, source=source))


def coerce(value: Any, hint: Any, *, where: str, source: str) -> Any:
    """Convert ``value`` to the annotated type, or raise a ConfigError naming the setting.

    Kept rather than pydantic's ``TypeAdapter`` (installed with FastAPI): a ``--set`` list arrives
    as ``a,b`` or ``[a, b]``, booleans as ``yes``/``on``/``1``, and an integral ``3.0`` is an int;
    pydantic's lax mode differs on each, and its errors do not name the setting and the file."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return coerce(value, inner[0], where=where, source=source)
    if origin is list:
        if isinstance(value, str):
            value = [v.strip().strip("'\"") for v in value.strip("[]").split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list, got {value!r}", source=source)
        return [coerce(v, args[0], where=where, source=source) for v in value]
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
                return value.lower() in ("true", "yes", "1", "on")
            raise ValueError
        if hint is int:
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(value)
        if hint is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if hint is str:
            if value is None:
                raise ValueError
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where} must be {getattr(hint, '__name__', hint)}, got {value!r}", source=source) from None
    return value


def config_sections(cfg: Any) -> dict[str, Any]:
    return {f.name: getattr(cfg, f.name) for f in fields(cfg) if dataclasses.is_dataclass(getattr(cfg, f.name))}


def apply_dict(cfg: Any, raw: dict[str, Any], *, source: str) -> None:
    for key, value in raw.items():
        sections = config_sections(cfg)
        if key in sections:
            if not isinstance(value, dict):
                raise ConfigError(f"section {key!r} must be a mapping", source=source)
            for sub, sub_value in value.items():
                set_field(sections[key], sub, sub_value, where=f"{key}.{sub}", source=source)
        else:
            set_field(cfg, key, value, where=key, source=source)


def apply_override(cfg: Any, item: str) -> None:
    """Apply one ``section.field=value`` (or unique ``field=value``) override; values parse as YAML."""
    if "=" not in item:
        raise ConfigError(f"override {item!r} is not of the form field=value")
    key, text = item.split("=", 1)
    key = key.strip().replace("-", "_")
    value = override_value(text)
    sections = config_sections(cfg)
    if "." in key:
        sec, name = key.split(".", 1)
        if sec not in sections:
            raise ConfigError(f"unknown section {sec!r} in override {item!r}; sections: {', '.join(sections)}")
        set_field(sections[sec], name, value, where=key, source="command line")
        return
    owners = [s for s in sections.values() if name_of(s, key)]
    if name_of(cfg, key):
        owners.append(cfg)
    if not owners:
        raise ConfigError(f"unknown setting {key!r} in override {item!r}")
    if len(owners) > 1:
        raise ConfigError(f"setting {key!r} is ambiguous; write it as section.{key}")
    set_field(owners[0], key, value, where=key, source="command line")
