"""The service's outer layers, apart from its endpoints (:mod:`mgl.serve.service`): ASGI middleware that
bounds the body and checks the ``Host`` header and the API keys, the listening socket, the API
keys' sources, and what ``GET /model`` shows of the machine (nothing: :func:`public`).

Every answer these layers give themselves has the service's one error shape,
``{"error": ..., "field"?: ...}``. That is why the ``Host`` check is not Starlette's
``TrustedHostMiddleware`` (a plain-text 400) and why the keys are enforced here, before routing,
for every path (a 404 too), rather than by FastAPI's security dependencies; those only declare the
schemes, so that the OpenAPI document shows them (:func:`mgl.serve.service.create_app`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mgl.errors import ConfigError, MGLError

__all__ = [
    "DOCS_PATHS",
    "OPEN_PATHS",
    "BodyLimit",
    "HeadAsGet",
    "RequestGuard",
    "bind_socket",
    "default_allowed_hosts",
    "json_error_protocol",
    "public",
    "read_api_keys",
]


class HeadAsGet:
    """ASGI middleware: ``HEAD`` is answered on every path ``GET`` is (the endpoints, the docs, their
    assets, the schema), with GET's status and headers and no body. The endpoints declare GET
    alone, so the schema lists each operation once."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope.get("method") != "HEAD":
            return await self.app(scope, receive, send)

        async def without_body(message):
            if message["type"] == "http.response.body":
                if message.get("more_body", False):
                    return
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, without_body)


class BodyLimit:
    """ASGI middleware: a request body over ``limit`` bytes is answered 413 (JSON), however it arrives.

    A declared ``Content-Length`` over the limit is refused before anything is read; a chunked
    body is read up to the limit (never further) and refused as soon as it passes it; a body
    within the limit is handed to the application whole."""

    def __init__(self, app, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_large = f"request body over {self.limit} bytes"
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _json_response(send, 413, too_large)
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body = message.get("body", b"")
            seen += len(body)
            if seen > self.limit:
                return await _json_response(send, 413, too_large)
            chunks.append(body)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


async def _json_response(
    send, status: int, message: str, field: str | None = None, extra_headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    import json

    body = json.dumps({"error": message, **({"field": field} if field else {})}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(extra_headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def json_error_protocol() -> type:
    """uvicorn's HTTP/1.1 protocol (h11), its own 400 for a request it cannot parse (no ``Host``
    header, as ``curl -H 'Host:'`` sends; a malformed request line) answered in the service's JSON
    error shape instead of plain text. Passed to ``uvicorn.Config(http=...)``."""
    import json

    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class JSONErrorH11Protocol(H11Protocol):
        def send_400_response(self, msg: str) -> None:
            body = json.dumps({"error": f"invalid HTTP request ({msg.rstrip('.')})", "field": "request"}).encode()
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            for event in (h11.Response(status_code=400, headers=headers), h11.Data(data=body), h11.EndOfMessage()):
                self.transport.write(self.conn.send(event))
            self.transport.close()

    return JSONErrorH11Protocol


OPEN_PATHS = frozenset({"/health", "/"})
"""Paths that need no API key: the health check, and the page (static HTML holding no model data;
its requests to /model and /predict carry the key the user types)."""
DOCS_PATHS = ("/docs", "/redoc", "/openapi.json", "/docs/oauth2-redirect", "/static-offline-docs/")
"""The API's own description and its local assets: they hold no model data, so they stay open."""


def default_allowed_hosts(host: str) -> tuple[str, ...]:
    """The ``Host`` names a server bound to ``host`` answers by default: the bind address's own
    names (loopback: 127.0.0.1, ::1 and localhost); any for a wildcard bind (0.0.0.0, ::)."""
    host = host.strip("[]").lower()
    if host in ("0.0.0.0", "::", ""):
        return ("*",)
    if host in ("127.0.0.1", "::1", "localhost"):
        return ("127.0.0.1", "::1", "localhost")
    return (host,)


def _host_name(value: str) -> str:
    """The host name of a ``Host`` header value (port and IPv6 brackets removed), lower-case."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value[1:]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


class RequestGuard:
    """ASGI middleware: the ``Host`` header must name an allowed host (400 otherwise: a guard
    against DNS rebinding), and, where the server has API keys, every path but
    :data:`OPEN_PATHS` and the docs needs one (401 otherwise). Keys are compared in constant
    time with :func:`hmac.compare_digest`, against every key."""

    def __init__(self, app, *, allowed_hosts: tuple[str, ...], api_keys: tuple[str, ...]):
        self.app = app
        self.any_host = "*" in allowed_hosts
        self.allowed_hosts = {h.lower() for h in allowed_hosts}
        self.keys = [k.encode("utf-8") for k in api_keys]

    def _authorised(self, headers: dict[bytes, bytes]) -> bool:
        import hmac

        offered = headers.get(b"x-api-key", b"")
        auth = headers.get(b"authorization", b"")
        if auth[:7].lower() == b"bearer ":
            offered = auth[7:].strip()
        ok = False
        for key in self.keys:  # every key compared, so the time says nothing about which one matched
            ok |= hmac.compare_digest(offered, key)
        return ok and bool(offered)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        if not self.any_host:
            name = _host_name(headers.get(b"host", b"").decode("latin-1"))
            if name not in self.allowed_hosts:
                return await _json_response(
                    send, 400, f"host {name!r} is not served here (see mgl serve --allowed-hosts)", field="headers.host"
                )
        path = scope.get("path", "")
        if self.keys and path not in OPEN_PATHS and not path.startswith(DOCS_PATHS) and not self._authorised(headers):
            return await _json_response(
                send,
                401,
                "missing or wrong API key (send 'Authorization: Bearer KEY' or 'X-API-Key: KEY')",
                extra_headers=[(b"www-authenticate", b"Bearer")],
            )
        return await self.app(scope, receive, send)


def public(value: Any) -> Any:
    """``value`` with every absolute file path replaced by its last part: what a server shows of
    the machine it runs on (a training file's folder, a local encoder's directory) is nothing."""
    import os

    if isinstance(value, dict):
        return {k: public(v) for k, v in value.items()}
    if isinstance(value, list):
        return [public(v) for v in value]
    if isinstance(value, str):
        if "|" in value:  # an encoder identity: its first part may be a local directory
            return "|".join(public(part) for part in value.split("|"))
        if os.path.isabs(value) or value.startswith("~"):
            return Path(value).name
    return value


def bind_socket(host: str, port: int):
    """A listening TCP socket on ``host``:``port``, or an :class:`~mgl.errors.MGLError` (exit status 2)."""
    import socket

    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise MGLError(f"cannot resolve the address to listen on ({exc.strerror})", source=host) from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        raise MGLError(
            f"cannot listen on port {port} ({exc.strerror or exc}); is another server using it? "
            "Choose another with --port",
            source=f"{host}:{port}",
        ) from None
    sock.set_inheritable(True)
    return sock


def read_api_keys(path: str | Path | None = None, env: str = "MGL_API_KEYS") -> tuple[str, ...]:
    """API keys from a file (one per line; blank lines and lines starting with # are skipped) and
    from the environment variable ``env`` (comma-separated). Each key has at least 16 characters."""
    import os

    keys: list[str] = []
    if path is not None:
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise MGLError(
                f"cannot read the API key file ({getattr(exc, 'strerror', None) or exc})", source=path
            ) from None
        keys += [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
        if not keys:
            raise MGLError("the API key file holds no key", source=path)
    keys += [k.strip() for k in os.environ.get(env, "").split(",") if k.strip()]
    short = [k for k in keys if len(k) < 16]
    if short:
        raise ConfigError(f"an API key must have at least 16 characters ({len(short)} shorter)")
    return tuple(dict.fromkeys(keys))
