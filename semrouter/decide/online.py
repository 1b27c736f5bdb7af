"""Online learning for model selection: the bandit selector, the outcomes that teach it, and its state.

The :class:`Learning` hub belongs to the :class:`~semrouter.router.Router` and outlives config
snapshots (a reload keeps each decision's evidence while the decision exists). It holds:

- one :class:`~semrouter.decide.bandit.Bandit` per decision whose selection algorithm is ``bandit``;
- the recent requests that feedback can still name (a bounded map: ``routing.feedback.max_requests``
  entries, each for ``ttl_s``), fed by the observer once each request has finished;
- the implicit outcome of each request, recorded with its decision (the decision log's ``outcome``) and
  fed to its decision's bandit with these weights (``routing.feedback.weight_*``; one outcome is worth
  ``weight`` Bernoulli trials):

  ====================================================  ========  =======
  outcome                                                reward    weight
  ====================================================  ========  =======
  ``ok``: a complete 2xx answer with some content        prior     0.3
  ``error``: upstream error, 5xx, timeout, no endpoint   0         1.0
  ``truncated``: ``finish_reason`` length, empty answer  0         0.5
  ``reask``: the same question again in the session      0         1.0 (against the earlier answer)
  explicit feedback (rating, label)                      0..1      1.0
  ====================================================  ========  =======

  A complete answer says the model works, not that the answer was good: it counts as an outcome "as
  expected" (the reward is the model's prior mean), so a healthy model stays at its configured quality
  instead of every healthy model drifting to a mean of 1; an error is certain evidence of a bad answer.
  A request that fell back to another model counts as an error for the one chosen. A client's 4xx, a
  disconnect, a cache hit and a block teach nothing (the model was not at fault or not asked). A re-ask
  is the same last user message (case and spacing aside) in the same session (the
  ``pool.session_header`` header, else the body's ``user``) within ``reask_window_s``: without a
  session two people asking the same thing cannot be told from one asking twice, so it is not guessed;
- the latency book of pool-aware choice (:mod:`semrouter.decide.pool`).

State: the bandits are saved to ``routing.feedback.state_path`` (JSON) on stop and every
``save_interval_s``, and loaded at start. With ``routing.feedback.store`` (Redis/Valkey), replicas and
server workers share the evidence and the request map (:mod:`semrouter.decide.shared`); without it each
process learns on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semrouter.config.schema import DecisionConfig, FeedbackConfig, RouterConfig, SelectionConfig
from semrouter.decide.bandit import Bandit
from semrouter.decide.pool import LatencyBook
from semrouter.decide.shared import RETRY_LOOKUP_S, SharedStore, Snapshot, store_settings

if TYPE_CHECKING:
    from semrouter.context import RequestContext, ResponseOutcome
    from semrouter.observe.metrics import Metrics
    from semrouter.pool.pool import EndpointRegistry

log = logging.getLogger("semrouter.learning")

STATE_VERSION = 1
SNIFF_BYTES = 65536  # an answer chunk is scanned at its first and last 64 KB: bounded work on any answer
_LENGTH = re.compile(rb'"finish_reason"\s*:\s*"length"')
_CONTENT = re.compile(rb'"(?:content|text)"\s*:\s*"(?:[^"\\]|\\.)|"tool_calls"\s*:\s*\[\s*\{')
_SPACE = re.compile(r"\s+")
LEARNED_BASE = 0.5  # with prior "learned", arms start at 0.5 and the prompt's P(good) - 0.5 is the offset


class OutcomeSniffer:
    """A pass-through response filter that notes ``finish_reason: length`` and whether the answer had any
    content (text or a tool call), in a JSON body or SSE chunks; a pattern split across two chunks is
    caught through a 64-byte carry. ``seen`` stays False where the answer never passed through it (Envoy
    relays answers itself under ext_proc): then nothing is concluded from it."""

    __slots__ = ("_tail", "nonempty", "seen", "truncated")

    def __init__(self) -> None:
        self.truncated = False
        self.nonempty = False
        self.seen = False
        self._tail = b""

    def feed(self, data: bytes) -> bytes:
        self.seen = True
        if self.truncated and self.nonempty:
            return data
        view = data if len(data) <= 2 * SNIFF_BYTES else data[:SNIFF_BYTES] + data[-SNIFF_BYTES:]
        scan = self._tail + view
        if not self.truncated and _LENGTH.search(scan):
            self.truncated = True
        if not self.nonempty and _CONTENT.search(scan):
            self.nonempty = True
        self._tail = view[-64:]
        return data

    def finish(self) -> bytes:
        return b""


@dataclass(slots=True)
class SelectionNote:
    """What the selection stage leaves for the outcome: the model it sent the request to, whether a
    bandit chose it, and the answer's sniffer."""

    chosen: str
    learns: bool
    sniffer: OutcomeSniffer | None
    stale_s: float


@dataclass(slots=True)
class Served:
    """A recent request that feedback can still name."""

    decision: str
    model: str
    learns: bool
    at: float
    explicit: bool = False


def bandit_decisions(config: RouterConfig) -> dict[str, tuple[DecisionConfig, SelectionConfig]]:
    out = {}
    for d in config.decisions:
        cfg = d.selection or config.routing.selection
        if cfg.algorithm == "bandit":
            out[d.name] = (d, cfg)
    return out


def priors_for(decision: DecisionConfig, cfg: SelectionConfig) -> dict[str, float]:
    if cfg.bandit.prior == "learned":
        return {m.model: LEARNED_BASE for m in decision.models}
    return {m.model: m.score for m in decision.models}


def reward_of(body: Any) -> tuple[float, str]:
    """(reward in [0, 1], how it was given) from a feedback body; ValueError names the field at fault.

    ``rating`` reads on -1..1 (thumbs: -1 bad, 0 neutral, 1 good) unless ``scale`` is ``"1-5"`` (stars);
    a rating above 1 with no scale is a star rating. ``label`` is ``good`` or ``bad``."""
    if not isinstance(body, dict):
        raise ValueError("body: must be a JSON object")
    rating, label, scale = body.get("rating"), body.get("label"), body.get("scale")
    if (rating is None) == (label is None):
        raise ValueError("rating: send exactly one of rating or label")
    if label is not None:
        if label not in ("good", "bad"):
            raise ValueError("label: must be 'good' or 'bad'")
        return (1.0 if label == "good" else 0.0), "label"
    if isinstance(rating, bool) or not isinstance(rating, int | float) or rating != rating:
        raise ValueError("rating: must be a number")
    if scale is not None and scale not in ("-1..1", "1-5"):
        raise ValueError("scale: must be '-1..1' or '1-5'")
    if scale == "1-5" or (scale is None and rating > 1):
        if not 1 <= rating <= 5:
            raise ValueError("rating: a 1-5 rating must be between 1 and 5")
        return (float(rating) - 1) / 4, "rating"
    if not -1 <= rating <= 1:
        raise ValueError("rating: must be between -1 and 1 (or 1-5 with scale '1-5')")
    return (float(rating) + 1) / 2, "rating"


class Learning:
    """The router's online learning state (see the module docstring)."""

    def __init__(self, config: RouterConfig) -> None:
        self.bandits: dict[str, Bandit] = {}
        self.served: OrderedDict[str, Served] = OrderedDict()
        self.asked: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.latency = LatencyBook()
        self.fleet: EndpointRegistry | None = None
        self.metrics: Metrics | None = None  # the observer's, when metrics are on
        self.cfg: FeedbackConfig = config.routing.feedback
        self._save_task: asyncio.Task[None] | None = None
        self.store: SharedStore | None = None
        self._running = False
        self.apply(config)
        self.load()

    @property
    def watches_outcomes(self) -> bool:
        """Whether an answer's status teaches anything: some decision chooses its model by bandit (behind
        Envoy, an answer nothing reads is not shown to semrouter)."""
        return bool(self.bandits)

    # -- config --------------------------------------------------------------------------------------

    def apply(self, config: RouterConfig) -> None:
        """Settings of a (new) config: each bandit decision keeps its evidence, a decision that is gone
        loses it, and a model no longer among a decision's candidates is forgotten."""
        self.cfg = config.routing.feedback
        self.session_header = config.pool.session_header.lower()
        wanted = bandit_decisions(config)
        for gone in set(self.bandits) - set(wanted):
            del self.bandits[gone]
        for name, (decision, cfg) in wanted.items():
            b = cfg.bandit
            bandit = self.bandits.get(name)
            if bandit is None:
                bandit = self.bandits[name] = Bandit(b.max_explore, b.decay, b.prior_strength)
            else:
                bandit.configure(b.max_explore, b.decay, b.prior_strength)
            bandit.set_priors(priors_for(decision, cfg), keep={m.model for m in decision.models})
        if self.fleet is not None:
            self.latency.prune((e.model, e.url) for e in self.fleet.endpoints)
        self._apply_store(config)

    def _apply_store(self, config: RouterConfig) -> None:
        """The shared store of this config: kept when its settings did not change, else replaced (the old
        one writes what it queued on its way out, off the event loop)."""
        settings = store_settings(config)
        if self.store is not None and settings == self.store.same:
            return
        if self.store is not None:
            self.store.stop(wait=False)
            self.store = None
        if settings is not None:
            store = self.store = SharedStore(*settings, snapshot=self._snapshots)
            store.adopt = self._adopt
            store.metrics_of = lambda: self.metrics
            if self._running:
                store.start()

    def _snapshots(self) -> list[Snapshot]:
        return [(name, b.decay, b.prior_strength, b.snapshot()) for name, b in list(self.bandits.items())]

    def _adopt(
        self, decision: str, merged: dict[str, tuple[float, float]], replay: list[tuple[str, float | None, float]]
    ) -> None:
        bandit = self.bandits.get(decision)
        if bandit is not None:
            bandit.adopt(merged, replay)

    def bandit(self, decision: DecisionConfig, cfg: SelectionConfig) -> Bandit:
        """The decision's bandit (made on first use: a pipeline built without a router, as in a dry run)."""
        bandit = self.bandits.get(decision.name)
        if bandit is None:
            b = cfg.bandit
            bandit = self.bandits[decision.name] = Bandit(b.max_explore, b.decay, b.prior_strength)
            bandit.set_priors(priors_for(decision, cfg))
        return bandit

    def bind(self, stages: Any, fleet: EndpointRegistry) -> None:
        """Give a new pipeline's stages this state (the selection stage finds it by ``attach_learning``)."""
        self.fleet = fleet
        for stage in stages:
            attach = getattr(stage, "attach_learning", None)
            if attach is not None:
                attach(self)

    # -- outcomes ------------------------------------------------------------------------------------

    def _count(self, kind: str, verdict: str) -> None:
        if self.metrics is not None:
            self.metrics.feedback.labels(kind, verdict).inc()

    def _learn(self, decision: str, model: str, reward: float | None, weight: float) -> None:
        bandit = self.bandits.get(decision)
        if bandit is None or model not in bandit.arms or weight <= 0:
            return
        store = self.store
        if store is None:
            bandit.update(model, reward, weight)
            return
        with store.lock:  # the local update and its place in the queue, as one (see SharedStore)
            bandit.update(model, reward, weight)
            store.queue_outcome((decision, model, reward, weight))

    def record(
        self,
        ctx: RequestContext,
        path: str,
        upstream_error: str | None,
        outcome: ResponseOutcome | None,
        latency_s: float | None,
    ) -> dict[str, Any] | None:
        """Note a finished request (called by the observer): the endpoint's latency, the implicit outcome
        fed to the bandit, a re-ask of an earlier answer. Returns the decision log's extra fields."""
        note: SelectionNote | None = ctx.stage_state.get("selection")
        if note is None or ctx.decision is None:
            return None
        now = time.monotonic()
        endpoint = ctx.endpoint
        if endpoint is not None and latency_s is not None and outcome is not None and outcome.status:
            self.latency.observe(endpoint.model, endpoint.url, latency_s, note.stale_s, now)
        if path in ("cache", "blocked") or ctx.model is None:
            return None
        cfg, decision, model = self.cfg, ctx.decision.name, ctx.model
        label: str | None
        reward: float | None
        if upstream_error is not None:
            label, reward, weight = "error", 0.0, cfg.weight_error
        elif outcome is None or outcome.error == "client_disconnected" or not outcome.status:
            label, reward, weight = None, 0.0, 0.0
        elif outcome.status >= 400:
            label, reward, weight = "client_error", 0.0, 0.0
        elif (sniffed := note.sniffer) is not None and sniffed.seen and (sniffed.truncated or not sniffed.nonempty):
            label, reward, weight = "truncated", 0.0, cfg.weight_truncated
        else:
            label, reward, weight = "ok", None, cfg.weight_success  # "as expected": the arm's prior
        extra: dict[str, Any] = {"outcome": label}
        if note.learns:
            # the forwarder fell back from the model it was sent to (a session pin or a cascade may also have
            # changed ctx.model after selection: that is no failure, so the header decides, not note.chosen)
            failed = ctx.response_headers.get("x-vsr-fallback-from")
            if failed and failed != model:
                self._learn(decision, failed, 0.0, cfg.weight_error)
            if weight:
                self._learn(decision, model, reward, weight)
        if label is not None and weight:
            self._count("implicit", "good" if reward is None else "bad")
        self._remember(ctx.request_id, Served(decision, model, note.learns, now), now)
        earlier = self._reask(ctx, now)
        if earlier is not None:
            extra["reask_of"] = earlier
        return extra

    def _remember(self, request_id: str, served: Served, now: float) -> None:
        table = self.served
        table[request_id] = served
        if self.store is not None:
            self.store.queue_request(request_id, served.decision, served.model, served.learns, self.cfg.ttl_s)
        table.move_to_end(request_id)
        while table and (len(table) > self.cfg.max_requests or now - next(iter(table.values())).at > self.cfg.ttl_s):
            table.popitem(last=False)

    def _session(self, ctx: RequestContext) -> str | None:
        key = ctx.headers.get(self.session_header)
        if key:
            return key
        user = ctx.body.get("user")
        return user if isinstance(user, str) and user else None

    def _reask(self, ctx: RequestContext, now: float) -> str | None:
        """The earlier request this one asks again, if any (its answer then counts as a failure)."""
        window = self.cfg.reask_window_s
        session = self._session(ctx) if window else None
        if session is None:
            return None
        text = _SPACE.sub(" ", ctx.text[:4096]).strip().lower()
        if not text:
            return None
        key = hashlib.blake2b(f"{session}\0{text}".encode(), digest_size=16).hexdigest()
        asked = self.asked
        prev = asked.pop(key, None)
        asked[key] = (ctx.request_id, now)
        while len(asked) > self.cfg.max_requests or (asked and now - next(iter(asked.values()))[1] > window):
            asked.popitem(last=False)
        if prev is None or now - prev[1] > window or prev[0] == ctx.request_id:
            return None
        served = self.served.get(prev[0])
        if served is not None:
            if served.learns:
                self._learn(served.decision, served.model, 0.0, self.cfg.weight_reask)
            self._count("implicit", "reask")
        return prev[0]

    def feedback(self, request_id: str, reward: float) -> tuple[Served, bool]:
        """Explicit feedback on a recent request: (what it was, whether a bandit learned from it).
        KeyError: unknown or expired; ValueError: feedback was already given for it."""
        served = self.served.get(request_id)
        now = time.monotonic()
        if served is None or now - served.at > self.cfg.ttl_s:
            raise KeyError(request_id)
        if served.explicit:
            raise ValueError("feedback for this request was already recorded")
        served.explicit = True
        self._count("explicit", "good" if reward >= 0.5 else "bad")
        learned = served.learns and served.decision in self.bandits
        if learned:
            self._learn(served.decision, served.model, reward, self.cfg.weight_explicit)
        return served, learned

    async def feedback_shared(self, request_id: str, reward: float) -> tuple[Served, bool]:
        """:meth:`feedback` for a request any replica served, through the shared store when there is one
        (the verdict is claimed there, so one verdict per answer holds across the fleet). A store that
        fails leaves the local map to answer. Same errors as :meth:`feedback`."""
        store = self.store
        if store is None:
            return self.feedback(request_id, reward)
        local = self.served.get(request_id)
        if local is not None and local.explicit:
            raise ValueError("feedback for this request was already recorded")
        try:
            got = await asyncio.to_thread(store.claim, request_id)
            if got is None and local is None:  # it may have been answered a moment ago by another replica
                await asyncio.sleep(RETRY_LOOKUP_S)
                got = await asyncio.to_thread(store.claim, request_id)
        except Exception:
            return self.feedback(request_id, reward)  # the store is down (counted): what this process knows
        if got == "dup":
            if local is not None:
                local.explicit = True
            raise ValueError("feedback for this request was already recorded")
        if got is None:
            if local is None:
                raise KeyError(request_id)
            store.queue_claimed(request_id, self.cfg.ttl_s)  # its entry is still queued here: claim it there too
            return self.feedback(request_id, reward)
        assert not isinstance(got, str)
        if local is not None:
            return self.feedback(request_id, reward)
        decision, model, learns = got
        served = Served(decision, model, learns, time.monotonic(), explicit=True)
        self._count("explicit", "good" if reward >= 0.5 else "bad")
        learned = learns and decision in self.bandits
        if learned:
            self._learn(decision, model, reward, self.cfg.weight_explicit)
        return served, learned

    # -- state ---------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {"version": STATE_VERSION, "decisions": {n: b.to_dict() for n, b in self.bandits.items()}}

    def load(self) -> None:
        """Evidence from ``state_path`` for the decisions that still use the bandit. A missing file is a
        first start; an unreadable one is logged and ignored (learned state, not config: serving must
        not depend on it) and replaced at the next save."""
        path = self.cfg.state_path
        if not path or not Path(path).exists():
            return
        try:
            data = json.loads(Path(path).read_text())
            if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
                raise ValueError(f"not a version {STATE_VERSION} bandit state")
            loaded = {str(n): Bandit.from_dict(s) for n, s in data["decisions"].items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("bandit state %s not loaded (%s); starting from the priors", path, exc)
            return
        for name, bandit in self.bandits.items():
            old = loaded.get(name)
            if old is None:
                continue
            for model, arm in old.arms.items():
                if model in bandit.arms:  # still a candidate: its evidence, with today's prior
                    arm.prior = bandit.arms[model].prior
                    bandit.arms[model] = arm
            bandit.explore_rate = old.explore_rate

    def save(self) -> None:
        """Write the state to ``state_path`` atomically (a crash mid-write leaves the previous file)."""
        path = self.cfg.state_path
        if not path:
            return
        target = Path(path)
        tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(self.state()))
        os.replace(tmp, target)

    def start(self) -> None:
        """Save every ``save_interval_s`` (a loop that does nothing while no ``state_path`` is set, so that a
        reload that sets one needs no restart)."""
        if self._save_task is None:
            self._save_task = asyncio.get_running_loop().create_task(self._save_loop(), name="semrouter-bandit-save")
        self._running = True
        if self.store is not None:
            self.store.start()

    async def _save_loop(self) -> None:
        while True:
            await asyncio.sleep(self.cfg.save_interval_s)
            if not self.cfg.state_path:
                continue
            try:
                await asyncio.to_thread(self.save)
            except Exception:
                log.exception("saving the bandit state failed")

    async def stop(self) -> None:
        if self._save_task is not None:
            self._save_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._save_task
            self._save_task = None
        self._running = False
        if self.store is not None:
            await asyncio.to_thread(self.store.stop)  # writes what is queued, then closes
        try:
            await asyncio.to_thread(self.save)
        except Exception:
            log.exception("saving the bandit state failed")


class BanditSelector:
    """Thompson sampling over the decision's candidates (``selection.algorithm: bandit``).

    Priors come from the candidates' configured scores, or (``bandit.prior: learned``) from the learned
    selector per request: its P(good answer | prompt) - 0.5 is added to each model's sample, so the bandit
    learns how far each model's real outcomes sit from the offline prediction. ``cost_weight`` trades
    quality against price as the learned selector does. The evidence lives in the router's
    :class:`Learning` (attached by the selection stage); without a router (a dry run on a bare
    pipeline) the selector keeps its own, in memory.
    """

    def __init__(self, cfg: SelectionConfig) -> None:
        self.cfg = cfg
        self.learning: Learning | None = None
        self._own: dict[str, Bandit] = {}

    def _bandit(self, decision: DecisionConfig) -> Bandit:
        if self.learning is not None:
            return self.learning.bandit(decision, self.cfg)
        bandit = self._own.get(decision.name)
        if bandit is None:
            b = self.cfg.bandit
            bandit = self._own[decision.name] = Bandit(b.max_explore, b.decay, b.prior_strength)
        return bandit

    def select(self, decision: DecisionConfig, config: RouterConfig) -> tuple[str, dict[str, float]]:
        model, utility, _ = self.choose(decision, config, None)
        return model, utility

    def choose(
        self, decision: DecisionConfig, config: RouterConfig, proba: dict[str, float] | None
    ) -> tuple[str, dict[str, float], bool]:
        """(model, sampled utility, explored) given the learned selector's P(good) per candidate, if any."""
        prices: dict[str, float] = {}
        for m in decision.models:
            mc = config.model(m.model)
            p = mc.pricing if mc else None
            prices[m.model] = (p.prompt_per_1m + p.completion_per_1m) / 2 if p else 0.0
        top = max(prices.values()) or 1.0
        rel = {k: v / top for k, v in prices.items()}
        offsets = {m: p - LEARNED_BASE for m, p in proba.items()} if proba is not None else None
        return self._bandit(decision).choose(rel, priors_for(decision, self.cfg), self.cfg.cost_weight, offsets)

    async def select_request(
        self, ctx: RequestContext, decision: DecisionConfig, config: RouterConfig
    ) -> tuple[str, dict[str, float]]:
        if len(decision.models) == 1:
            return decision.models[0].model, {decision.models[0].model: 1.0}
        proba = None
        if self.cfg.bandit.prior == "learned":
            from semrouter.decide.learned import assign_columns, load_selector_model

            model = load_selector_model(self.cfg.selector)
            columns, _ = assign_columns(decision, config, model, self.cfg.tiers)
            by_column = model.proba(await ctx.embedding(), ctx.text)
            proba = {m: by_column[c] for m, c in columns.items()}
        pick, utility, explored = self.choose(decision, config, proba)
        if explored:
            ctx.obs["selection_reason"] = "explore"
        return pick, utility
