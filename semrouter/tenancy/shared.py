"""Limit counters shared by every replica through Redis/Valkey (``tenancy.counters: redis``).

The same buckets as :mod:`semrouter.tenancy.limits`, kept in the server the replicas share (the semantic
cache's, by default), so N replicas let a tenant through its configured rate once, not N times. Each
admission is one Lua script: every scope of the request is checked and, only if all admit, taken from, in
one atomic step on the server (no two replicas can both take the last unit). Settling (the answer's usage)
is a second script, sent in the background after the client has its answer.

What differs from the per-replica counters:

* the budget has no in-flight reservation: a request is admitted while the period's spend is below the
  budget, and its cost is added when it finishes (concurrent requests can overshoot by their own cost);
* a Redis call has a deadline (``tenancy.redis_timeout_s``); a slow or unreachable server never fails a
  request: this replica falls back to its own counters (as if ``counters: replica``) for ``retry_s`` and
  logs it, so an outage degrades the limits to per-replica, never to an error or to no limits.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING, Any

from semrouter.tenancy.limits import Charge, Exceeded, Limiter, Scope, period_bounds

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.commands.core import AsyncScript

log = logging.getLogger("semrouter.tenancy")

PREFIX = "semrouter:limits:"
_LIMIT_NAMES = {1: "requests_per_minute", 2: "tokens_per_minute", 3: "budget"}

# KEYS: per scope i, KEYS[2i-1] its bucket hash, KEYS[2i] its spend in the current period.
# ARGV: now, tokens, n, then per scope: rpm, tpm, budget (0: none). Returns {0} or {i, limit, wait_s}.
_ADMIT = """
local now = tonumber(ARGV[1]); local tokens = tonumber(ARGV[2]); local n = tonumber(ARGV[3])
local state = {}
for i = 1, n do
  local base = 3 + (i - 1) * 3
  local rpm = tonumber(ARGV[base + 1]); local tpm = tonumber(ARGV[base + 2]); local budget = tonumber(ARGV[base + 3])
  local v = redis.call('HMGET', KEYS[2 * i - 1], 'r', 'rt', 't', 'tt')
  local r = false; local t = false
  if rpm > 0 then
    r = math.min(rpm, (tonumber(v[1]) or rpm) + (now - (tonumber(v[2]) or now)) * rpm / 60)
    if r < 1 then return {i, 1, tostring((1 - r) / (rpm / 60))} end
  end
  if tpm > 0 then
    t = math.min(tpm, (tonumber(v[3]) or tpm) + (now - (tonumber(v[4]) or now)) * tpm / 60)
    local need = math.min(tokens, tpm)
    if t < math.max(need, 1e-9) then return {i, 2, tostring((math.max(need, 1) - t) / (tpm / 60))} end
  end
  if budget > 0 then
    local spent = tonumber(redis.call('GET', KEYS[2 * i]) or '0')
    if spent >= budget then return {i, 3, '0'} end
  end
  state[i] = {r, t}
end
for i = 1, n do
  local s = state[i]
  if s[1] then redis.call('HSET', KEYS[2 * i - 1], 'r', s[1] - 1, 'rt', now) end
  if s[2] then redis.call('HSET', KEYS[2 * i - 1], 't', s[2] - tokens, 'tt', now) end
  redis.call('EXPIRE', KEYS[2 * i - 1], 300)
end
return {0}
"""

# KEYS as for _ADMIT. ARGV: now, tokens given back (estimate - used; may be negative), cost, n, then per
# scope: tpm, budget (0: none), seconds the spend key must live (to the period's end, plus a margin).
_SETTLE = """
local now = tonumber(ARGV[1]); local back = tonumber(ARGV[2])
local cost = tonumber(ARGV[3]); local n = tonumber(ARGV[4])
for i = 1, n do
  local base = 4 + (i - 1) * 3
  local tpm = tonumber(ARGV[base + 1]); local budget = tonumber(ARGV[base + 2]); local ttl = tonumber(ARGV[base + 3])
  if tpm > 0 and back ~= 0 then
    local v = redis.call('HMGET', KEYS[2 * i - 1], 't', 'tt')
    local t = math.min(tpm, (tonumber(v[1]) or tpm) + (now - (tonumber(v[2]) or now)) * tpm / 60)
    redis.call('HSET', KEYS[2 * i - 1], 't', math.min(tpm, t + back), 'tt', now)
    redis.call('EXPIRE', KEYS[2 * i - 1], 300)
  end
  if budget > 0 and cost > 0 then
    redis.call('INCRBYFLOAT', KEYS[2 * i], cost)
    redis.call('EXPIRE', KEYS[2 * i], ttl)
  end
end
return 0
"""


class SharedLimiter:
    """Admission and settlement against the shared server, with this replica's :class:`Limiter` as the
    fallback while the server is unreachable."""

    def __init__(self, url: str, timeout_s: float, local: Limiter, retry_s: float = 5.0) -> None:
        self.url = url
        self.timeout_s = timeout_s
        self.local = local
        self.retry_s = retry_s
        self.down_until = 0.0
        self.fallbacks = 0
        self._client: Redis | None = None
        self._scripts: tuple[AsyncScript, AsyncScript] | None = None  # EVALSHA: the script text is sent once
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def _redis(self) -> tuple[AsyncScript, AsyncScript]:
        """The admit and settle scripts on this event loop's client (a client belongs to one loop)."""
        loop = asyncio.get_running_loop()
        if self._scripts is None or self._loop is not loop:
            from redis.asyncio import Redis

            self._client = client = Redis.from_url(
                self.url, socket_timeout=self.timeout_s, socket_connect_timeout=self.timeout_s, max_connections=64
            )
            self._scripts = (client.register_script(_ADMIT), client.register_script(_SETTLE))
            self._loop = loop
        return self._scripts

    def _keys(self, scopes: list[Scope], now: float) -> list[str]:
        keys: list[str] = []
        for sid, _, lim in scopes:
            period = period_bounds(lim.budget.period, now)[0] if lim.budget is not None else 0
            keys += [f"{PREFIX}{sid}", f"{PREFIX}{sid}:spend:{period}"]
        return keys

    def _failed(self, what: str, exc: BaseException) -> None:
        self.fallbacks += 1
        if time.monotonic() >= self.down_until:
            log.warning(
                "shared limit counters unavailable (%s: %r): per-replica counters for %g s", what, exc, self.retry_s
            )
        self.down_until = time.monotonic() + self.retry_s

    async def admit(self, scopes: list[Scope], tokens: int, cost: float) -> Charge | Exceeded:
        if time.monotonic() < self.down_until:
            return self.local.admit(scopes, tokens, cost)
        now = time.time()
        argv: list[Any] = [now, tokens, len(scopes)]
        for _, _, lim in scopes:
            budget = lim.budget.usd if lim.budget is not None else 0
            argv += [lim.requests_per_minute or 0, lim.tokens_per_minute or 0, budget]
        try:
            script = self._redis()[0]
            reply = await asyncio.wait_for(script(keys=self._keys(scopes, now), args=argv), self.timeout_s)
        except Exception as exc:  # a slow or gone server: this replica's counters, never an error
            self._failed("admit", exc)
            return self.local.admit(scopes, tokens, cost)
        if int(reply[0]) == 0:
            return Charge(scopes, tokens, cost, shared=True)
        i, code = int(reply[0]) - 1, int(reply[1])
        _, label, lim = scopes[i]
        limit = _LIMIT_NAMES[code]
        if limit == "budget":
            assert lim.budget is not None
            wait = period_bounds(lim.budget.period, now)[1] - now
            detail = f"${lim.budget.usd:g} per {lim.budget.period} spent"
        else:
            wait = float(reply[2])
            n = lim.requests_per_minute if code == 1 else lim.tokens_per_minute
            detail = f"limit {n}/min" + (f", requested ~{tokens}" if code == 2 else "")
        return Exceeded(label, limit, wait, detail)

    def settle(self, charge: Charge, tokens: int | None, cost: float | None) -> None:
        """Send the correction in the background (the client has its answer; nothing waits on this)."""
        if charge.settled:
            return
        charge.settled = True
        used_tokens = charge.tokens if tokens is None else tokens
        used_cost = charge.cost if cost is None else cost
        task = asyncio.get_running_loop().create_task(self._settle(charge, charge.tokens - used_tokens, used_cost))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _settle(self, charge: Charge, back: int, cost: float) -> None:
        now = time.time()
        argv: list[Any] = [now, back, cost, len(charge.scopes)]
        for _, _, lim in charge.scopes:
            ttl = int(period_bounds(lim.budget.period, now)[1] - now) + 3600 if lim.budget is not None else 1
            argv += [lim.tokens_per_minute or 0, lim.budget.usd if lim.budget is not None else 0, ttl]
        try:
            script = self._redis()[1]
            await asyncio.wait_for(script(keys=self._keys(charge.scopes, now), args=argv), 1.0)
        except Exception as exc:
            self._failed("settle", exc)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        if self._client is not None:
            try:
                await self._client.aclose()
            except Exception:  # closing at shutdown: nothing left to protect
                log.debug("closing the shared limit counters' client failed", exc_info=True)
            self._client = self._scripts = None
