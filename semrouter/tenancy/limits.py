"""Per-tenant and per-key rate limits and spend budgets, counted in this replica's memory.

Three limits, each checked for the tenant (all its keys together) and for the key on its own:

* **requests per minute**: a token bucket of ``requests_per_minute`` that refills continuously, so a
  client may burst up to a minute's allowance and then gets one request every ``60/rpm`` seconds;
* **tokens per minute**: a bucket of ``tokens_per_minute``. Before the call the request reserves an
  estimate (its body's bytes / 4 for the prompt, plus ``max_tokens`` or the configured default for the
  answer); once the answer's ``usage`` is known the difference is given back or taken. A request needs
  its estimate in the bucket (a request larger than a whole minute's allowance needs a full bucket) and
  may then take it below zero: the next ones wait until it has refilled;
* **spend budget** per UTC calendar period (hour, day, month): the answers' usage times the model's
  ``pricing``. A request is admitted while spend plus what requests in flight reserved is below the
  budget; the budget is a ceiling a few concurrent requests can overshoot by their own cost, never more.

Everything runs on the event loop without awaiting, so a check and its reservation are one step: two
concurrent requests can never both take the last unit. These counters are per replica: N replicas behind
a load balancer let a tenant through N times the configured rate (configure ``limit / N`` per replica, or
``tenancy.counters: redis`` for the shared ones of :mod:`semrouter.tenancy.shared`, which fall back to
these). Counter state lives in :class:`Limiter`, which the router keeps across config reloads; a reload
that changes a limit applies it to the running counters.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from semrouter.errors import RouterError

if TYPE_CHECKING:
    from semrouter.tenancy.config import Budget, Limits


class _Bucket:
    """A token bucket: ``level`` refills at ``rate`` per second up to ``capacity`` and may go below zero."""

    __slots__ = ("capacity", "level", "rate", "updated")

    def __init__(self, capacity: float, now: float) -> None:
        self.capacity = capacity
        self.rate = capacity / 60.0
        self.level = capacity
        self.updated = now

    def refill(self, capacity: float, now: float) -> None:
        if capacity != self.capacity:  # a reload changed the limit: keep what was used, not the old level
            self.level += capacity - self.capacity
            self.capacity, self.rate = capacity, capacity / 60.0
        self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
        self.updated = now

    def wait_s(self, need: float) -> float:
        """Seconds until ``need`` (at most the capacity) is in the bucket."""
        short = min(need, self.capacity) - self.level
        return short / self.rate if short > 0 else 0.0


def period_bounds(period: str, now: float) -> tuple[int, float]:
    """An id of the UTC calendar period ``now`` falls in, and when the next one starts (Unix time)."""
    if period == "hour":
        return int(now // 3600), (now // 3600 + 1) * 3600
    if period == "day":
        return int(now // 86400), (now // 86400 + 1) * 86400
    d = datetime.fromtimestamp(now, UTC)
    nxt = datetime(d.year + (d.month == 12), d.month % 12 + 1, 1, tzinfo=UTC)
    return d.year * 12 + d.month, nxt.timestamp()


@dataclass(slots=True)
class _Spend:
    period: int = -1
    spent: float = 0.0
    reserved: float = 0.0  # estimated cost of requests in flight

    def roll(self, budget: Budget, now: float) -> float:
        """Start a new period if one began; return when the current one ends."""
        pid, ends = period_bounds(budget.period, now)
        if pid != self.period:
            self.period, self.spent = pid, 0.0
        return ends


@dataclass(slots=True)
class _Scope:
    """The counters of one tenant or one key."""

    requests: _Bucket | None = None
    tokens: _Bucket | None = None
    spend: _Spend = field(default_factory=_Spend)


Scope = tuple[str, str, "Limits"]
"""One set of counters a request is checked against: its id (``tenant:<name>``, ``key:<digest>``), the
label errors show (``tenant acme``, ``key ci-runner``: never the digest) and its limits."""


@dataclass(slots=True)
class Charge:
    """What one admitted request reserved, to be settled once its answer (and its usage) is known."""

    scopes: list[Scope]
    tokens: int
    cost: float
    shared: bool = False  # taken from the counters shared through Redis (semrouter.tenancy.shared)
    settled: bool = False


@dataclass(frozen=True, slots=True)
class Exceeded:
    """Which limit refused a request, and when to come back."""

    scope: str  # "tenant acme" or "key ci-runner"
    limit: str  # requests_per_minute, tokens_per_minute, budget
    retry_after_s: float
    detail: str

    def error(self) -> RouterError:
        """429 with ``Retry-After``, shaped as OpenAI's: ``rate_limit_exceeded`` (type ``requests`` or
        ``tokens``), or ``insufficient_quota`` for a spent budget, so SDKs raise RateLimitError."""
        retry = max(1, math.ceil(self.retry_after_s))
        headers = {"retry-after": str(retry), "x-vsr-limit": self.limit}
        if self.limit == "budget":
            msg = f"Budget of {self.scope} exhausted ({self.detail}); it renews in {retry} s"
            return RouterError(429, msg, type="insufficient_quota", code="insufficient_quota", headers=headers)
        kind = "requests" if self.limit == "requests_per_minute" else "tokens"
        msg = f"Rate limit reached for {self.scope} on {self.limit} ({self.detail}); try again in {retry} s"
        return RouterError(429, msg, type=kind, code="rate_limit_exceeded", headers=headers)


class Limiter:
    """Counters for every tenant and key with limits; ids are ``"tenant:<name>"`` and ``"key:<digest>"``.

    The number of scopes is bounded by the config (only configured tenants and keys have limits).
    """

    def __init__(self, clock: object = time.time) -> None:
        self._scopes: dict[str, _Scope] = {}
        self._clock = clock

    def _now(self) -> float:
        return self._clock()  # type: ignore[operator,no-any-return]

    def _scope(self, sid: str) -> _Scope:
        s = self._scopes.get(sid)
        if s is None:
            s = self._scopes[sid] = _Scope()
        return s

    def check(self, scopes: list[Scope], tokens: int, cost: float) -> Exceeded | None:
        """The first limit that refuses a request needing ``tokens`` and ``cost``, without taking anything."""
        now = self._now()
        for sid, label, lim in scopes:
            s = self._scope(sid)
            if lim.requests_per_minute is not None:
                b = s.requests = s.requests or _Bucket(lim.requests_per_minute, now)
                b.refill(lim.requests_per_minute, now)
                if b.level < 1:
                    return Exceeded(label, "requests_per_minute", b.wait_s(1), f"limit {lim.requests_per_minute}/min")
            if lim.tokens_per_minute is not None:
                b = s.tokens = s.tokens or _Bucket(lim.tokens_per_minute, now)
                b.refill(lim.tokens_per_minute, now)
                need = min(tokens, b.capacity)
                if b.level < max(need, 1e-9):
                    detail = f"limit {lim.tokens_per_minute}/min, requested ~{tokens}"
                    return Exceeded(label, "tokens_per_minute", b.wait_s(max(need, 1)), detail)
            if lim.budget is not None:
                ends = s.spend.roll(lim.budget, now)
                if s.spend.spent + s.spend.reserved >= lim.budget.usd:
                    detail = f"${s.spend.spent:.4f} of ${lim.budget.usd:g} per {lim.budget.period} spent"
                    return Exceeded(label, "budget", ends - now, detail)
        return None

    def admit(self, scopes: list[Scope], tokens: int, cost: float) -> Charge | Exceeded:
        """Check every scope and, if all admit, take the request from each; else say which limit refused."""
        refused = self.check(scopes, tokens, cost)
        if refused is not None:
            return refused
        for sid, _, lim in scopes:  # check() created and refilled every bucket these read
            s = self._scopes[sid]
            if s.requests is not None and lim.requests_per_minute is not None:
                s.requests.level -= 1
            if s.tokens is not None and lim.tokens_per_minute is not None:
                s.tokens.level -= tokens
            if lim.budget is not None:
                s.spend.reserved += cost
        return Charge(scopes, tokens, cost)

    def settle(self, charge: Charge, tokens: int | None, cost: float | None) -> None:
        """The request is over: replace its estimates by what it used (``None``: unknown, keep the estimate)."""
        if charge.settled:
            return
        charge.settled = True
        now = self._now()
        used_tokens = charge.tokens if tokens is None else tokens
        used_cost = charge.cost if cost is None else cost
        for sid, _, lim in charge.scopes:
            s = self._scopes.get(sid)
            if s is None:
                continue
            if s.tokens is not None and lim.tokens_per_minute is not None:
                s.tokens.refill(lim.tokens_per_minute, now)
                s.tokens.level = min(s.tokens.capacity, s.tokens.level + charge.tokens - used_tokens)
            s.spend.reserved = max(0.0, s.spend.reserved - charge.cost)
            if lim.budget is not None:
                s.spend.roll(lim.budget, now)
                s.spend.spent += used_cost

    def spent(self, sid: str) -> float:
        """Spend of the current period so far (for tests and the status view)."""
        s = self._scopes.get(sid)
        return s.spend.spent if s is not None else 0.0
