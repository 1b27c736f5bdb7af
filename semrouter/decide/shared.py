"""The bandits' evidence and the feedback request map, shared by replicas through Redis/Valkey (issue 19).

Without it each router process learns alone, and feedback for a request another process served gets 404.
With ``routing.feedback.store`` set, every process:

- keeps learning locally, at once, as before (a request never waits on the store);
- queues each outcome update (decision, model, reward, weight) and, on a thread of its own, adds the queue to
  the shared posterior with one Lua script per decision (:data:`MERGE`): the script applies exactly the
  update :meth:`~semrouter.decide.bandit.Bandit.update` applies (a forgetting step towards the prior for
  every arm of the decision, then the outcome), atomically, so the shared posterior is the one a single
  process serving every replica's traffic would hold. Replicas' updates interleave in the order they
  reach the store;
- every ``sync_interval_s`` reads each decision's merged posterior back (the same script with no outcome)
  and adopts it, replaying the outcomes it queued since (they are not in the store yet);
- writes each finished request's (decision, model) under ``<prefix>:req:<digest of the id>`` with the
  feedback TTL, so any replica accepts feedback for any request; a verdict claims the entry atomically
  (``HSETNX``), so the one-verdict-per-answer rule holds across the fleet.

A queued request entry is written within about 20 ms of the answer (a write wakes the thread); feedback for
an id found nowhere is looked up once more 250 ms later before the 404, for feedback sent the moment the
answer arrived at another replica.

A store that is down (refused, timed out, a script error) degrades to local learning: outcomes stay queued
(at most ``MAX_PENDING``, the oldest dropped beyond), calls are retried every ``sync_interval_s``, and each
failure is counted (``semrouter_bandit_store_errors_total{op}``); nothing fails a request. The first merge of
a decision the store does not hold seeds it with the process's own evidence (loaded from ``state_path``, or
the priors), so switching the store on keeps what a replica had learned.

The posterior hashes expire 30 days after their last write (a decision gone from every config does not
linger). The store holds no prompt text: request ids are stored as digests, decisions and models by name.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from semrouter.config.schema import BanditStoreConfig, RouterConfig
    from semrouter.observe.metrics import Metrics

log = logging.getLogger("semrouter.learning.store")

MAX_PENDING = 10000  # queued outcomes and request entries kept while the store is down
BATCH_S = 0.02  # a queued write waits this long for others to go in the same round trip
RETRY_LOOKUP_S = 0.25  # feedback for an id not (yet) in the store is looked up once more after this
STATE_TTL_MS = 30 * 86400 * 1000

# KEYS[1]: the decision's hash (field: model, value: "successes failures prior").
# ARGV: decay, prior_strength, ttl_ms, n, then n x (model, prior, seed_successes, seed_failures) for the
# caller's candidates (the seed is used only for an arm the store does not hold yet), then outcomes as
# (model, reward, weight) triples; a reward below 0 means "as expected": the arm's prior. A decision the
# store does not hold at all is seeded with the caller's evidence, which already counts the outcomes sent
# with it (they were applied locally when queued), so they are not applied a second time.
MERGE = """
local key = KEYS[1]
local d, ps, ttl, n = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local arms = {}
local flat = redis.call('HGETALL', key)
for i = 1, #flat, 2 do
  local s, f, p = string.match(flat[i + 1], '^(%S+) (%S+) (%S+)$')
  if s then arms[flat[i]] = {tonumber(s), tonumber(f), tonumber(p)} end
end
local fresh = #flat == 0
local i = 5
for _ = 1, n do
  local m, p = ARGV[i], tonumber(ARGV[i + 1])
  local a = arms[m]
  if a == nil then arms[m] = {tonumber(ARGV[i + 2]), tonumber(ARGV[i + 3]), p} else a[3] = p end
  i = i + 4
end
while i <= #ARGV and not fresh do
  local m, r, w = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  i = i + 3
  for _, a in pairs(arms) do
    a[1] = d * a[1] + (1 - d) * a[3] * ps
    a[2] = d * a[2] + (1 - d) * (1 - a[3]) * ps
  end
  local a = arms[m]
  if a == nil then a = {0.5 * ps, 0.5 * ps, 0.5}; arms[m] = a end
  if r < 0 then r = a[3] end
  a[1] = a[1] + w * r
  a[2] = a[2] + w * (1 - r)
end
local out = {}
for m, a in pairs(arms) do
  local v = string.format('%.17g %.17g %.17g', a[1], a[2], a[3])
  redis.call('HSET', key, m, v)
  out[#out + 1] = m
  out[#out + 1] = v
end
if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
return out
"""

# KEYS[1]: a request's entry. Returns nil (unknown or expired), 'dup' (a verdict was already given), or
# [decision, model, learns] after claiming the verdict.
CLAIM = """
if redis.call('EXISTS', KEYS[1]) == 0 then return false end
if redis.call('HSETNX', KEYS[1], 'v', '1') == 0 then return 'dup' end
return redis.call('HMGET', KEYS[1], 'd', 'm', 'l')
"""

Outcome = tuple[str, str, float | None, float]  # decision, model, reward (None: as expected), weight
# (decision, decay, prior_strength, {model: (prior, successes, failures)}): what a merge sends
Snapshot = tuple[str, float, float, dict[str, tuple[float, float, float]]]
Adopt = Callable[[str, dict[str, tuple[float, float]], list[tuple[str, float | None, float]]], None]


def store_settings(config: RouterConfig) -> tuple[str, str | None, BanditStoreConfig] | None:
    """(url, password, settings) of the configured store, None when there is none. With no url of its own
    the store is the Redis cache's server (the config check requires ``cache.backend: redis`` then)."""
    cfg = config.routing.feedback.store
    if cfg is None:
        return None
    url, password_env = cfg.url, cfg.password_env
    if url is None:
        url = config.cache.redis.url
        password_env = password_env or config.cache.redis.password_env
    password = os.environ.get(password_env) if password_env else None
    if password_env and not password:
        log.warning("the bandit store's password env %s is not set: connecting without a password", password_env)
    return url, password, cfg


class SharedStore:
    """The client side of the shared state (see the module docstring). ``lock`` guards the queues; the
    :class:`~semrouter.decide.online.Learning` hub holds it around a local update and its enqueue, and the
    store holds it while it adopts a merged posterior and replays what was queued since, so no outcome is
    counted twice or lost from the local view."""

    def __init__(
        self, url: str, password: str | None, cfg: BanditStoreConfig, snapshot: Callable[[], list[Snapshot]]
    ) -> None:
        self.url, self.cfg = url, cfg
        self._password = password
        self._snapshot = snapshot
        self.adopt: Adopt | None = None
        self.metrics_of: Callable[[], Metrics | None] = lambda: None  # the observer's, when metrics are on
        self.lock = threading.Lock()
        self.outcomes: deque[Outcome] = deque()
        self.writes: deque[tuple[str, dict[str, str], int]] = deque()  # request entries: key, fields, ttl ms
        self.dropped = 0
        self.errors: dict[str, int] = {}
        self.syncs = 0
        self.up = False  # the last call reached the store
        self._client: Any = None
        self._merge: Any = None
        self._claim: Any = None
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def same(self) -> tuple[str, str | None, BanditStoreConfig]:
        return self.url, self._password, self.cfg

    def key(self, *parts: str) -> str:
        return ":".join((self.cfg.prefix, *parts))

    def request_key(self, request_id: str) -> str:
        return self.key("req", hashlib.blake2b(request_id.encode(), digest_size=16).hexdigest())

    # -- queueing (event loop; the caller holds ``lock`` for outcomes) ------------------------------

    def _nudge(self) -> None:
        if not self._wake.is_set():  # Event.set takes a lock and notifies: a few us, paid once per batch
            self._wake.set()

    def queue_outcome(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)
        if len(self.outcomes) > MAX_PENDING:
            self.outcomes.popleft()
            self.dropped += 1
        self._nudge()

    def queue_request(self, request_id: str, decision: str, model: str, learns: bool, ttl_s: float) -> None:
        with self.lock:
            self.writes.append(
                (
                    self.request_key(request_id),
                    {"d": decision, "m": model, "l": "1" if learns else "0"},
                    int(ttl_s * 1e3),
                )
            )
            if len(self.writes) > MAX_PENDING:
                self.writes.popleft()
                self.dropped += 1
        self._nudge()

    def queue_claimed(self, request_id: str, ttl_s: float) -> None:
        """A verdict given here for a request whose entry had not reached the store yet: claim it there too."""
        with self.lock:
            self.writes.append((self.request_key(request_id), {"v": "1"}, int(ttl_s * 1e3)))
        self._nudge()

    # -- the store ----------------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._client is None:
            import redis

            self._client = redis.Redis.from_url(
                self.url,
                password=self._password,
                socket_timeout=self.cfg.timeout_s,
                socket_connect_timeout=self.cfg.timeout_s,
                protocol=2,
            )
            self._merge = self._client.register_script(MERGE)
            self._claim = self._client.register_script(CLAIM)
        return self._client

    def _fault(self, op: str, exc: BaseException) -> None:
        self.errors[op] = self.errors.get(op, 0) + 1
        metrics = self.metrics_of()
        if metrics is not None:
            metrics.bandit_store_errors.labels(op).inc()
        if self.up or self.errors[op] == 1:
            log.warning("bandit store %s: %s failed (%s); learning locally until it answers", self.url, op, exc)
        self.up = False

    def exchange(self, full: bool) -> bool:
        """Write what is queued and (``full``, or a decision with new outcomes) merge and adopt posteriors.
        False when the store failed (what was taken is queued again)."""
        with self.lock:
            outcomes, self.outcomes = list(self.outcomes), deque()
            writes, self.writes = list(self.writes), deque()
        snapshots = self._snapshot()
        touched = {o[0] for o in outcomes}
        merges = [s for s in snapshots if full or s[0] in touched]
        try:
            client = self._connect()
            pipe = client.pipeline(transaction=False)
            for key, fields, ttl_ms in writes:
                pipe.hset(key, mapping=fields)
                pipe.pexpire(key, ttl_ms)
            for decision, decay, strength, arms in merges:
                args: list[Any] = [decay, strength, STATE_TTL_MS, len(arms)]
                for model, (prior, s, f) in arms.items():
                    args += [model, prior, s, f]
                for d, model, reward, weight in outcomes:
                    if d == decision:
                        args += [model, -1.0 if reward is None else reward, weight]
                self._merge(keys=[self.key("arms", decision)], args=args, client=pipe)
            results = pipe.execute()
        except Exception as exc:
            with self.lock:  # back at the front, in order; the bound still holds
                self.outcomes.extendleft(reversed(outcomes))
                self.writes.extendleft(reversed(writes))
                for queue in (self.outcomes, self.writes):
                    while len(queue) > MAX_PENDING:
                        queue.popleft()
                        self.dropped += 1
            self._fault("sync", exc)
            return False
        self.up = True
        self.syncs += 1
        adopt = self.adopt
        if adopt is not None:
            for (decision, *_), flat in zip(merges, results[2 * len(writes) :], strict=True):
                merged: dict[str, tuple[float, float]] = {}
                for i in range(0, len(flat), 2):
                    s, f, _ = (float(x) for x in flat[i + 1].split())
                    merged[flat[i].decode() if isinstance(flat[i], bytes) else str(flat[i])] = (s, f)
                with self.lock:
                    replay = [(m, r, w) for d, m, r, w in self.outcomes if d == decision]
                    adopt(decision, merged, replay)
        return True

    def claim(self, request_id: str) -> tuple[str, str, bool] | str | None:
        """Claim the verdict on a request any replica served (blocking: run it off the event loop):
        (decision, model, learns), ``"dup"`` when a verdict was already given, None when unknown.
        Raises on a store failure (counted)."""
        try:
            self._connect()
            got = self._claim(keys=[self.request_key(request_id)])
        except Exception as exc:
            self._fault("claim", exc)
            raise
        self.up = True
        if got is None:
            return None
        if isinstance(got, bytes):
            return "dup"
        d, m, learns = (x.decode() if isinstance(x, bytes) else x for x in got)
        if d is None or m is None:
            return None
        return d, m, learns == "1"

    # -- the thread ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="semrouter-bandit-store", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        interval = self.cfg.sync_interval_s
        next_full = 0.0
        retry_at = 0.0
        while not self._stopping:
            now = time.monotonic()
            if now < retry_at:  # down: no call before the retry time, however much is queued
                time.sleep(min(retry_at - now, 0.05))
                continue
            if self._wake.wait(max(0.0, next_full - now)):
                self._wake.clear()
                time.sleep(BATCH_S)
            if self._stopping:
                break
            full = time.monotonic() >= next_full
            ok = self.exchange(full)
            if full or not ok:
                next_full = time.monotonic() + interval
            if not ok:
                retry_at = time.monotonic() + interval
        self.exchange(False)  # what is still queued, once
        self._close()

    def stop(self, wait: bool = True) -> None:
        """Stop the thread after one last write of what is queued (bounded by the socket timeout);
        ``wait=False`` (a reload, on the event loop) lets it finish on its own."""
        self._stopping = True
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is None:
            self._close()
        elif wait:
            thread.join(self.cfg.timeout_s * 3 + 1)

    def _close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            with contextlib.suppress(Exception):  # closing a broken client
                client.close()

    def stats(self) -> dict[str, Any]:
        return {"up": self.up, "syncs": self.syncs, "errors": dict(self.errors), "dropped": self.dropped}
