"""Router start/stop ordering: a stop that arrives while start() is still running.

The proxy answers requests before it is ready (readiness only gates traffic), so a SIGTERM or Ctrl-C can
come while start() is still warming the model or waiting for the cache. Here the wait is real: the cache
backend is Milvus at an address that accepts TCP and never answers, so start() waits out its connect bound.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import yaml
from conftest import simple_config

from semrouter.router import Router


async def test_stop_during_start_cancels_start_and_leaves_nothing_running(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        # long enough that start() is still waiting at the stop; short, because the connect attempt runs on
        # a worker thread nothing can interrupt, and the interpreter waits for it at exit
        milvus = {"uri": f"http://127.0.0.1:{silent.getsockname()[1]}", "connect_timeout_s": 4.0}
        cache = {"enabled": True, "backend": "milvus", "milvus": milvus}
        cfg = simple_config({"m1": ["http://127.0.0.1:9"]}, cache=cache)
        path = tmp_path / "router.yaml"
        path.write_text(yaml.safe_dump(cfg))
        router = Router.from_file(path)
        start = asyncio.create_task(router.start())
        await asyncio.sleep(0.5)
        assert not start.done()  # waiting for the cache's first connect
        await router.stop()
        # start() is over and started nothing after the stop: no config watcher polling the file
        assert start.done() and start.cancelled()
        assert router._watcher is None and not router.started
        assert not [t for t in asyncio.all_tasks() if t.get_name() == "semrouter-config-watch"]
