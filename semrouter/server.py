"""Running ASGI apps on uvicorn with the fast event loop and HTTP parser."""

from __future__ import annotations

import logging
from typing import Any

import uvicorn

# uvloop + httptools: the fastest uvicorn stack measured here (see docs/benchmarks.md).
_OPTIONS: dict[str, Any] = {
    "loop": "uvloop",
    "http": "httptools",
    "lifespan": "on",
    "access_log": False,
    "timeout_graceful_shutdown": 10,
    "backlog": 4096,
}


def _logging() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def serve(app: Any, host: str, port: int, *, log_level: str = "warning") -> None:
    _logging()
    uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level=log_level, **_OPTIONS)).run()


def serve_workers(factory: str, host: str, port: int, workers: int, *, log_level: str = "warning") -> None:
    """Several processes on one port (uvicorn's supervisor); ``factory`` is an import string."""
    _logging()
    uvicorn.run(factory, factory=True, workers=workers, host=host, port=port, log_level=log_level, **_OPTIONS)
