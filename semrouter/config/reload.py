"""Hot reload: poll the config file and hand each valid new version to a callback.

Polling ``os.stat`` (which follows symlinks) catches plain edits, editors that write a new file and
rename it, and Kubernetes ConfigMap updates (an atomic swap of a ``..data`` symlink), without an
inotify dependency. A content hash avoids reloading when only the mtime changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path

from semrouter.config.loader import ConfigError, parse_config
from semrouter.config.schema import RouterConfig
from semrouter.tasks import cancel_and_wait

log = logging.getLogger("semrouter.config")


class ConfigWatcher:
    def __init__(
        self,
        path: str | os.PathLike[str],
        on_config: Callable[[RouterConfig], Awaitable[None]],
        on_error: Callable[[ConfigError], None],
        interval_s: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.on_config = on_config
        self.on_error = on_error
        self.interval_s = interval_s
        self._stat = self._signature()
        self._digest = self._hash(self._read())
        self._task: asyncio.Task[None] | None = None

    def _signature(self) -> tuple[int, int, int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_dev, st.st_ino, st.st_mtime_ns, st.st_size)

    def _read(self) -> str | None:
        try:
            return self.path.read_text(encoding="utf-8")
        except OSError:
            return None

    @staticmethod
    def _hash(text: str | None) -> str | None:
        return hashlib.sha256(text.encode()).hexdigest() if text is not None else None

    async def check(self) -> bool:
        """Reload if the file changed; True when a new config was applied."""
        sig = self._signature()
        if sig == self._stat:
            return False
        self._stat = sig
        text = self._read()
        digest = self._hash(text)
        if text is None or digest == self._digest:
            return False  # vanished mid-swap (next poll sees the new file) or unchanged content
        self._digest = digest
        try:
            config = parse_config(text, str(self.path))
        except ConfigError as exc:
            log.error("config reload rejected, keeping the running config:\n%s", exc)
            self.on_error(exc)
            return False
        try:
            await self.on_config(config)
        except ConfigError as exc:  # valid but unbuildable (e.g. a model file that fails to load)
            log.error("config reload rejected, keeping the running config:\n%s", exc)
            return False
        log.info("config reloaded from %s", self.path)
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="semrouter-config-watch")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.check()
            except Exception:
                log.exception("config watch failed")
