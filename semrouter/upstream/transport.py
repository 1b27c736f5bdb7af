"""The seam between the upstream client and the network: how a connection is opened.

:class:`~semrouter.upstream.client.UpstreamClient` owns everything HTTP (request bytes, response parsing,
keep-alive pool, timeouts, the stale-connection retry) and asks a :class:`UpstreamTransport` for nothing
but a byte pipe to ``host:port``; the bytes then go through the returned ``asyncio.Transport``. This is the
same split as httpx's ``AsyncBaseTransport``/``MockTransport``, one level lower: production uses
:class:`SocketTransport` (the running loop's TCP/TLS transports, so uvloop's C code does the socket work),
and tests hand the client :class:`~semrouter.upstream.mock.MockTransport`, an in-memory pipe that answers
each request as the test says (status, headers, chunks, delays, refused connections, mid-stream resets)
without a socket, a port or a process. The seam is crossed once per new connection, never per request,
so it costs the proxy's hot path nothing.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable
from typing import Protocol

__all__ = ["SocketTransport", "UpstreamTransport"]


class UpstreamTransport(Protocol):
    """Opens one connection for the client.

    ``connect`` calls ``protocol_factory`` once, connects the protocol it returns and returns the
    transport. Failures are ``OSError`` (refused, unreachable, reset, TLS errors); the client turns them
    into :class:`~semrouter.upstream.client.UpstreamConnectError` and bounds the call by its connect
    timeout, so an implementation need not time out on its own.
    """

    async def connect(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        host: str,
        port: int,
        *,
        ssl: ssl.SSLContext | None,
        server_hostname: str | None,
    ) -> asyncio.Transport: ...


class SocketTransport:
    """Production: a TCP (TLS for ``https://``) connection made by the running event loop."""

    async def connect(
        self,
        protocol_factory: Callable[[], asyncio.Protocol],
        host: str,
        port: int,
        *,
        ssl: ssl.SSLContext | None,
        server_hostname: str | None,
    ) -> asyncio.Transport:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_connection(
            protocol_factory, host, port, ssl=ssl, server_hostname=server_hostname
        )
        return transport
