"""What every HTTP-facing piece of the router shares, whatever the transport or route: the
:class:`Exchange` a server adapter offers, JSON and error responses, safe header encoding and the
operator-token checks.

These used to live in the proxy's handler module, which made :mod:`semrouter.observe.http` (routes that
only read) import the proxy while the proxy imported it back to mount them. Here they depend on nothing
but the error type and the config, so the proxy, the ext_proc service and the observability routes
all import them without a circle.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol
from urllib.parse import quote, unquote_to_bytes

from semrouter.errors import RouterError

if TYPE_CHECKING:
    from semrouter.config.schema import ServerConfig
    from semrouter.context import BodyFilter

RawHeaders = list[tuple[bytes, bytes]]
_JSON = [(b"content-type", b"application/json")]


class ClientDisconnected(Exception):
    """The client went away; raised by an exchange that notices it while reading or writing."""


class Exchange(Protocol):
    """One HTTP request/response as a server adapter offers it. Header names are lower-case bytes."""

    method: str
    path: str
    headers: RawHeaders

    async def read_body(self, limit: int) -> bytes:
        """The whole request body; RouterError 413 past ``limit``; ClientDisconnected if gone."""
        ...

    async def respond(self, status: int, headers: RawHeaders, body: bytes) -> None: ...

    async def start_stream(self, status: int, headers: RawHeaders) -> None: ...

    async def send_chunk(self, data: bytes) -> None: ...

    async def end_stream(self) -> None: ...

    async def wait_disconnect(self) -> None:
        """Return once the client has disconnected (may also return when the exchange completes)."""
        ...


Route = Callable[[Exchange], Awaitable[None]]


_HEADER_SAFE = " !\"#$&'()*+,/:;<=>?@[\\]^`{|}~"


def header_value(value: str) -> bytes:
    """A header value from text that may come from clients or config (tool names, labels): printable
    ASCII as is, anything else percent-encoded, so no value can break or inject into the header block."""
    if value.isascii() and value.isprintable():
        return value.encode()
    return quote(value, safe=_HEADER_SAFE).encode()


def encode_headers(headers: dict[str, str]) -> RawHeaders:
    return [(k.encode("latin-1"), header_value(v)) for k, v in headers.items()]


def finish_filters(filters: Sequence[BodyFilter]) -> bytes:
    """Flush a chain of body filters: each one's held-back bytes still pass through the ones after it."""
    data = b""
    for f in filters:
        data = f.feed(data) + f.finish()
    return data


def too_large(limit: int) -> RouterError:
    return RouterError(
        413, f"Request body exceeds the {limit}-byte limit", code="request_too_large", headers={"connection": "close"}
    )


def bad_body() -> RouterError:
    """The body's HTTP framing is broken (a malformed chunk size, say): the client's fault, so a 400."""
    return RouterError(
        400,
        "The request body is malformed (bad chunked encoding)",
        code="invalid_body",
        headers={"connection": "close"},
    )


async def respond_json(ex: Exchange, status: int, payload: bytes, headers: dict[str, str] | None = None) -> None:
    await ex.respond(status, _JSON + encode_headers(headers) if headers else _JSON, payload)


async def respond_error(
    ex: Exchange, err: RouterError, headers: dict[str, str] | None = None, body: bytes | None = None
) -> None:
    """``body``: the error in another API's shape (Anthropic's on /v1/messages); OpenAI's by default."""
    await respond_json(ex, err.status, err.body() if body is None else body, {**(headers or {}), **err.headers})


def require_reader(ex: Exchange, server: ServerConfig) -> None:
    """The read-only views (status, decisions, summary, policy) show what clients sent and every system prompt:
    once an admin token is configured they need it, or the read token; with neither configured they stay
    open (a router on a laptop). The token comes as ``Authorization: Bearer`` or, for the dashboard page
    (a browser's EventSource cannot set headers), as the ``semrouter_token`` cookie: these views only read."""
    tokens = [t for t in (env_token(server.admin_token_env), env_token(server.read_token_env)) if t]
    if not tokens:
        return
    if not (token_matches(bearer(ex.headers), tokens) or token_matches(_cookie_token(ex.headers), tokens)):
        raise unauthorized("read")


def peer_address(ex: Exchange) -> str | None:
    """The client's IP address (no port), when the server adapter knows it (``client`` attribute)."""
    client = getattr(ex, "client", None)
    return client if isinstance(client, str) and client else None


def env_token(env: str | None) -> str | None:
    return os.environ.get(env) or None if env else None


def bearer(headers: RawHeaders) -> bytes:
    given = next((v for k, v in headers if k == b"authorization"), b"")
    scheme, _, value = given.partition(b" ")
    return value.strip() if scheme.lower() == b"bearer" else b""


def _cookie_token(headers: RawHeaders) -> bytes:
    for k, v in headers:
        if k == b"cookie":
            for part in v.split(b";"):
                name, _, value = part.strip().partition(b"=")
                if name == TOKEN_COOKIE.encode():
                    return unquote_to_bytes(value)
    return b""


def token_matches(given: bytes, tokens: list[str]) -> bool:
    # every token is compared (no early exit), each in constant time
    return bool(given) and sum(hmac.compare_digest(given, t.encode()) for t in tokens) > 0


def unauthorized(kind: str) -> RouterError:
    return RouterError(
        401,
        f"Missing or invalid {kind} token: send 'Authorization: Bearer <token>'",
        type="authentication_error",
        code=f"invalid_{kind}_token",
        headers={"www-authenticate": "Bearer"},
    )


TOKEN_COOKIE = "semrouter_token"
