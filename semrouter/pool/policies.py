"""Endpoint selection policies, registered by the name used in config (``pool.policy``).

Each policy gets the *available* endpoints (never empty) and the request; to add one, write a class
with ``choose`` and add it to :data:`POLICIES`.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Sequence
from typing import Protocol

from semrouter.config.schema import PoolConfig
from semrouter.context import RequestContext, prompt_text
from semrouter.pool.endpoint import Endpoint


class BalancePolicy(Protocol):
    def choose(self, endpoints: Sequence[Endpoint], ctx: RequestContext) -> Endpoint: ...


def least_loaded(endpoints: Sequence[Endpoint]) -> Endpoint:
    return min(endpoints, key=lambda e: (e.outstanding / e.weight, -e.weight))


class RoundRobin:
    def __init__(self, cfg: PoolConfig) -> None:
        self._next = 0

    def choose(self, endpoints: Sequence[Endpoint], ctx: RequestContext) -> Endpoint:
        self._next += 1
        return endpoints[self._next % len(endpoints)]


class Weighted:
    """Smooth weighted round-robin (as in nginx): exact proportions, no bursts to one endpoint."""

    def __init__(self, cfg: PoolConfig) -> None:
        self._current: dict[str, float] = {}

    def choose(self, endpoints: Sequence[Endpoint], ctx: RequestContext) -> Endpoint:
        total = 0.0
        best: Endpoint | None = None
        for e in endpoints:
            cur = self._current.get(e.url, 0.0) + e.weight
            self._current[e.url] = cur
            total += e.weight
            if best is None or cur > self._current[best.url]:
                best = e
        assert best is not None
        self._current[best.url] -= total
        return best


class LeastOutstanding:
    """Power of two choices: near-optimal balance without scanning, and no herding on one endpoint."""

    def __init__(self, cfg: PoolConfig) -> None:
        self._rng = random.Random()

    def choose(self, endpoints: Sequence[Endpoint], ctx: RequestContext) -> Endpoint:
        if len(endpoints) <= 2:
            return least_loaded(endpoints)
        a, b = self._rng.sample(list(endpoints), 2)
        return least_loaded((a, b))


def _hash64(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=8).digest(), "big")


class SessionAffinity:
    """Weighted rendezvous hashing on the session key (header, else the ``user`` field).

    Rendezvous hashing is stable across processes and replicas (no per-process hash seed) and moves
    only the sessions of an endpoint that leaves; requests without a key go to the least loaded.
    """

    def __init__(self, cfg: PoolConfig) -> None:
        self._header = cfg.session_header.lower()

    def session_key(self, ctx: RequestContext) -> str | None:
        key = ctx.headers.get(self._header)
        if key:
            return key
        user = ctx.body.get("user")
        return user if isinstance(user, str) and user else None

    def choose(self, endpoints: Sequence[Endpoint], ctx: RequestContext) -> Endpoint:
        key = self.session_key(ctx)
        if key is None:
            return least_loaded(endpoints)
        kb = key.encode()

        def score(e: Endpoint) -> float:
            u = (_hash64(kb + b"\0" + e.url.encode()) + 0.5) / 2**64
            return -e.weight / math.log(u)

        return max(endpoints, key=score)


class PrefixAffinity:
    """Send a prompt where its longest prefix was recently sent, so the worker's prefix cache hits.

    The prompt is cut into fixed-size character blocks; block *i*'s key hashes blocks 0..i, so a
    match of *k* keys means the first *k* blocks are identical. Each endpoint remembers recent keys
    (LRU). Load still wins when the best-prefix endpoint is ``imbalance`` requests busier than the
    least loaded one, so one hot prefix cannot overload one worker.
    """

    def __init__(self, cfg: PoolConfig) -> None:
        self._cfg = cfg.prefix

    def block_keys(self, text: str) -> list[int]:
        size, keys, h = self._cfg.block_chars, [], 0
        for i in range(0, min(len(text), size * self._cfg.max_blocks), size):
            h = _hash64(h.to_bytes(8, "big") + text[i : i + size].encode())
            keys.append(h)
        return keys

    def choose(self, endpoints: Sequence[Endpoint], ctx: RequestContext) -> Endpoint:
        keys = self.block_keys(prompt_text(ctx.body))
        best, best_len = None, 0
        for e in endpoints:
            n = 0
            for k in keys:
                if k not in e.prefix_blocks:
                    break
                n += 1
            if n > best_len:
                best, best_len = e, n
        # a miss goes to the least loaded; among equals, to the one caching least, so new documents spread
        lightest = min(endpoints, key=lambda e: (e.outstanding / e.weight, len(e.prefix_blocks)))
        if best is None or best.outstanding - lightest.outstanding > self._cfg.imbalance:
            best = lightest
        table = best.prefix_blocks
        for k in keys:
            table[k] = None
            table.move_to_end(k)
        while len(table) > self._cfg.table_size:
            table.popitem(last=False)
        return best


POLICIES: dict[str, Callable[[PoolConfig], BalancePolicy]] = {
    "round_robin": RoundRobin,
    "weighted": Weighted,
    "least_outstanding": LeastOutstanding,
    "session": SessionAffinity,
    "prefix": PrefixAffinity,
}
