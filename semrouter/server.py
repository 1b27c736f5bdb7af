"""Running the router and the fake worker on an HTTP server.

Two engines: granian (RSGI; HTTP parsed in Rust, one write per response: the cheapest measured
here) and uvicorn (ASGI with uvloop + httptools). Both run the same :class:`ProxyHandler`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any, Literal

Engine = Literal["granian", "uvicorn"]

_UVICORN: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "lifespan": "on",
    "access_log": False,
    "timeout_graceful_shutdown": 10,
    "backlog": 4096,
}


def configure_logging() -> None:
    """Log format and level (``SEMROUTER_LOG_LEVEL``, default INFO) for this process.

    Called again in every server worker process, since granian and uvicorn spawn workers that do not
    inherit the parent's handlers; ``basicConfig`` makes the repeat calls harmless.
    """
    level = os.environ.get("SEMROUTER_LOG_LEVEL", "INFO").upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve(app: Any, host: str, port: int, *, log_level: str = "warning") -> None:
    """One uvicorn process for an ASGI app object (the fake worker)."""
    import uvicorn  # imported here: `semrouter serve` on granian (the default) never needs it (~40 ms)

    configure_logging()
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, **_UVICORN)).run()


def serve_router(
    config_path: str, host: str, port: int, *, workers: int = 1, engine: Engine = "granian", log_level: str = "warning"
) -> None:
    """Serve the proxy for ``config_path``; each worker process loads (and hot-reloads) the file."""
    configure_logging()
    os.environ["SEMROUTER_CONFIG"] = str(config_path)
    with metrics_dir() if workers > 1 else contextlib.nullcontext():
        _serve(config_path, host, port, workers, engine, log_level)


@contextlib.contextmanager
def metrics_dir() -> Iterator[None]:
    """A fresh directory for prometheus-client's multiprocess mode, so that one scrape of any worker covers
    every worker. Set before the workers start (prometheus-client reads it at import); removed at exit,
    since files left by an earlier run would be summed into this one's counters."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):  # the operator's own (e.g. a volume): theirs to manage
        yield
        return
    path = tempfile.mkdtemp(prefix="semrouter-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    try:
        yield
    finally:
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        shutil.rmtree(path, ignore_errors=True)


def _serve(config_path: str, host: str, port: int, workers: int, engine: Engine, log_level: str) -> None:
    if engine == "uvicorn":
        import uvicorn

        uvicorn.run(
            "semrouter.adapters.asgi:create_app",
            factory=True,
            workers=workers if workers > 1 else None,
            host=host,
            port=port,
            log_level=log_level,
            **_UVICORN,
        )
        return
    from granian.constants import Interfaces, Loops
    from granian.log import LogLevels
    from granian.server import Server as Granian

    Granian(
        "semrouter.adapters.rsgi:create_app",
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.RSGI,
        workers=workers,
        loop=Loops.uvloop,
        backlog=4096,
        log_level=LogLevels(log_level),
        workers_kill_timeout=10,
    ).serve()
