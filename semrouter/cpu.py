"""CPU work that grows with the request, kept off the event loop.

One event loop serves every request of a worker process, ``/health`` included, so any step whose cost
grows with the input (parsing a body, matching a prompt's words, scanning it for PII) stalls all the
others while it runs: a quadratic regex over one 64 KB word once froze the router for 45 s. The rules:

* small inputs (up to ``INLINE_CHARS``) run inline: a thread hop costs more than the work;
* larger ones run on the *heavy lane* (:func:`run`), one thread per process: a megabyte prompt costs
  seconds of CPU, and one such job at a time keeps the loop (and the small requests' threads) in turn
  for the GIL, where several would each take theirs;
* the loop gets the GIL back often: a busy thread must offer it every ``SWITCH_INTERVAL_S``
  (:func:`tune_process`, called by every server process), not CPython's default 5 ms, because the loop
  takes and drops the GIL around every socket call, and each handover waited up to the interval;
* a single C call holds the GIL for its whole length, so work on a thread must still come in bounded
  pieces: the PII detector reads long texts in 2 KB segments, the cache digest reads 4 KB at a time, and
  every regular expression that meets user text is linear in it.

``semrouter_event_loop_lag_seconds`` (see :mod:`semrouter.observe.metrics`) shows whether this holds.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import ParamSpec, TypeVar

__all__ = ["INLINE_CHARS", "SWITCH_INTERVAL_S", "off_loop", "run", "tune_process"]

INLINE_CHARS = 16 * 1024
"""Inputs up to this size (characters or bytes) are processed on the event loop itself."""
SWITCH_INTERVAL_S = 0.001
"""How often a running thread must offer the GIL (``sys.setswitchinterval``) in a server process."""

P = ParamSpec("P")
T = TypeVar("T")

_heavy: ThreadPoolExecutor | None = None


def _heavy_lane() -> ThreadPoolExecutor:
    global _heavy
    if _heavy is None:
        _heavy = ThreadPoolExecutor(max_workers=1, thread_name_prefix="semrouter-heavy")
    return _heavy


async def run(size: int, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``: inline when ``size`` (of the input it reads) is small, else on the heavy lane."""
    if size <= INLINE_CHARS:
        return fn(*args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_heavy_lane(), partial(fn, *args, **kwargs))


async def off_loop(size: int, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
    """Like :func:`run` for work that is never cheap enough to run inline (NER): small inputs go to the
    default thread pool, large ones to the heavy lane."""
    if size <= INLINE_CHARS:
        return await asyncio.to_thread(fn, *args, **kwargs)
    return await run(size, fn, *args, **kwargs)


def tune_process() -> None:
    """Settings for a process that serves requests (see the module docstring)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
