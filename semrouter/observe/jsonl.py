"""The decision log's JSONL file: appended by a background thread, rotated by size.

Why a thread fed by a bounded queue: a write to a slow, full or hung disk (a stalled network mount) on the
event loop would stall every request the worker serves. The loop only hands the record over
(:meth:`JsonlWriter.put` never blocks: when the writer has fallen ``queue_size`` records behind, the record
is dropped and counted); one daemon thread serialises and appends them in batches, and on close writes
what is still queued.

Rotation: once the file reaches ``max_bytes`` it is renamed to ``<path>.1`` (replacing the previous backup)
and a new file is started. Several server workers may append to one file: it is opened ``O_APPEND`` and
each batch of whole lines is one ``write()``, so lines never interleave; the rename happens under an
exclusive ``flock`` on the file, and a writer that finds the path naming another file than the one it holds
(another worker rotated it, or logrotate moved it) reopens the path instead of rotating again.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import threading
from typing import Any

import orjson

log = logging.getLogger("semrouter.observe")

_BATCH = 512
_IDLE_S = 0.5


class JsonlWriter:
    def __init__(self, path: str, max_bytes: int, queue_size: int = 10_000) -> None:
        self.path = path
        self.max_bytes = max_bytes  # read by the thread for each batch: a reload may change it
        self.written = 0
        self.rotations = 0
        self.error: str | None = None
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(queue_size)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="semrouter-decision-log", daemon=True)
        self._thread.start()

    def put(self, record: dict[str, Any]) -> bool:
        """Queue one record; False (the caller counts a drop) when the writer is behind or has stopped."""
        if self._stopping.is_set():
            return False
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            return False
        return True

    def close(self, timeout: float | None = 5.0) -> None:
        """Take no more records; the thread writes those queued, then closes the file. Waits up to ``timeout``
        seconds for that (None: returns at once, the thread finishes on its own)."""
        self._stopping.set()
        with contextlib.suppress(queue.Full):  # a full queue is drained anyway: the thread exits once it is empty
            self._queue.put_nowait(None)
        if timeout is not None:
            self._thread.join(timeout)

    # -- the writer thread ------------------------------------------------------------------------

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)

    def _run(self) -> None:
        fd: int | None = None
        try:
            fd = self._open()
            while True:
                try:
                    item = self._queue.get(timeout=_IDLE_S)
                except queue.Empty:
                    if self._stopping.is_set():
                        break
                    continue
                batch = [item]
                while len(batch) < _BATCH:
                    try:
                        batch.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                records = [r for r in batch if r is not None]
                if records:
                    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
                    while data:
                        data = data[os.write(fd, data) :]
                    self.written += len(records)
                    fd = self._rotate_if_due(fd)
                if len(records) < len(batch):  # close() was called: everything queued before it is written
                    break
        except OSError as exc:
            self.error = str(exc)
            self._stopping.set()
            log.error("decision log file %s: %s; file logging stopped", self.path, exc)
        finally:
            if fd is not None:
                with contextlib.suppress(OSError):
                    os.close(fd)

    def _same_file(self, fd: int) -> bool:
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (on_disk.st_dev, on_disk.st_ino) == (held.st_dev, held.st_ino)

    def _rotate_if_due(self, fd: int) -> int:
        """The descriptor to write the next batch to: the same one, or the path reopened after a rotation."""
        if not self._same_file(fd):  # rotated by another worker, or moved away: follow the path
            os.close(fd)
            return self._open()
        if os.fstat(fd).st_size < self.max_bytes:
            return fd
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if self._same_file(fd):  # nobody rotated it while this one waited for the lock
                os.replace(self.path, self.path + ".1")
                self.rotations += 1
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return self._open()
