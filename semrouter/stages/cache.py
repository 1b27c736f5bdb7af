"""The semantic-cache stage: answer from the cache before the worker is called, keep good answers after.

Where it runs: after selection (the partition needs the decision and the selected model) and after the
guard policy (a request with PII is marked ``ctx.cache_bypass`` and never touches the cache), but before
enrichment, so the key describes the request as the client sent it. It is not ``routing_only``:
explicit-model requests are cached too, partitioned by that model. Only chat completions are cached
(bypass reason ``api``): legacy ``/v1/completions`` is rare enough not to warrant its own replay format, and
embeddings are cheap and deterministic.

Why the pieces are split this way:

* :class:`~semrouter.cache.service.CacheService` is long-lived (the router makes one and keeps it across
  config reloads unless the backend settings change) and lives under :mod:`semrouter.cache.service`: the
  backend with its entries, the counters the admin API reports, the circuit breaker (every backend call has
  a deadline, a fault is never the client's problem) and the background store tasks. A :class:`CacheStage`
  is rebuilt with every config and only holds policy.
* A candidate is served only if it is the *same question*: the backend returns the most similar entry above
  a permissive cosine (``cache.verifier.min_similarity``) and :mod:`semrouter.cache.verify` reads both
  texts and decides (the lexical guard is one of its inputs; with the verifier off, the guard alone
  decides above the policy's threshold). The verifier runs only on a candidate, never on a miss with no
  candidate. A hit reports ``x-vsr-cache-similarity`` and ``x-vsr-cache-verifier``; refused candidates
  count as ``near_misses`` (``verifier_rejections`` when the verifier refused), and the decision log gets
  both numbers either way.
* The store happens in ``on_response`` from the kept answer bytes, as a background task: the client
  already has its answer and waits for nothing. Stores are transport-neutral (the ext_proc adapter calls
  the same ``on_response``), and so are hits (a :class:`LocalResponse`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from semrouter import cpu
from semrouter.cache.answer import Unstorable, iterate, parse_answer, to_json, to_sse
from semrouter.cache.keys import cacheability, partition_key
from semrouter.cache.match import compatible, normalize
from semrouter.cache.service import BackendUnavailable, CacheService
from semrouter.cache.verify import Verifier
from semrouter.context import ApiKind, LocalResponse, RequestContext, ResponseOutcome
from semrouter.pipeline import Stage
from semrouter.signals.result import SignalResult

if TYPE_CHECKING:
    from semrouter.cache.base import CacheHit, Vector
    from semrouter.config.schema import RouterConfig

log = logging.getLogger("semrouter.cache")


DRY_RUN = "dry_run"
"""``ctx.cache_bypass`` value a dry run sets: look up (to report what would happen), never answer or store."""
LOOKUP_RESULT = "cache_lookup"
"""Where a dry run's lookup result goes in ``ctx.signals`` (as the tool stage reports its ranking)."""
HIT_HEADER = "x-vsr-cache-hit"
SIMILARITY_HEADER = "x-vsr-cache-similarity"
VERIFIER_HEADER = "x-vsr-cache-verifier"
"""On a hit: the verifier's P(same question) for the served entry (absent when the verifier is off)."""


@dataclass(slots=True)
class Policy:
    enabled: bool
    threshold: float
    ttl_s: float


@dataclass(slots=True)
class _Pending:
    """What a request that may be stored carries from lookup to ``on_response``."""

    ctx: RequestContext
    vector: Vector
    partition: str
    policy: Policy


class CacheStage(Stage):
    name = "cache"
    optional = True  # a bug here must cost a cache hit, never the request
    uses_embedding = True

    def __init__(self, config: RouterConfig, service: CacheService) -> None:
        self.cfg = config.cache
        self.service = service
        self.finish_reasons = frozenset(config.cache.cache_finish_reasons)
        vcfg = config.cache.verifier
        self.verifier: Verifier | None = Verifier.default() if vcfg.enabled else None
        self.verify_threshold = (
            vcfg.threshold if vcfg.threshold is not None else self.verifier.threshold if self.verifier else 1.0
        )

    @property
    def wants_response_body(self) -> bool:
        return True

    def policy(self, ctx: RequestContext) -> Policy:
        """Threshold and TTL: the decision's policy, else the category's, else the global one."""
        cfg = self.cfg
        threshold, ttl = cfg.threshold, cfg.ttl_s
        cat = cfg.categories.get(ctx.category) if ctx.category else None
        if cat is not None:
            threshold = cat.threshold if cat.threshold is not None else threshold
            ttl = cat.ttl_s if cat.ttl_s is not None else ttl
        dp = ctx.decision.cache if ctx.decision is not None else None
        enabled = True
        if dp is not None:
            enabled = dp.enabled is not False
            threshold = dp.threshold if dp.threshold is not None else threshold
            ttl = dp.ttl_s if dp.ttl_s is not None else ttl
        return Policy(enabled, threshold, ttl)

    def _bypass(self, reason: str) -> None:
        self.service.bypasses[reason] += 1

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        svc = self.service
        if ctx.api is not ApiKind.CHAT:  # completions and embeddings are passed through uncached
            self._bypass("api")
            return None
        dry_run = ctx.cache_bypass == DRY_RUN
        if ctx.cache_bypass is not None and not dry_run:
            self._bypass(ctx.cache_bypass)
            return None
        policy = self.policy(ctx)
        if not policy.enabled:
            self._bypass("decision")
            return None
        allowed = cacheability(ctx.body, ctx.headers, self.cfg)
        if not allowed.lookup and not allowed.store:
            self._bypass(allowed.reason or "uncacheable")
            return None
        text = ctx.text
        if not text.strip():
            self._bypass("no_text")  # nothing to embed: the key alone would make every such request "equal"
            return None
        partition = partition_key(
            api=ctx.api.value,
            body=ctx.body,
            model=ctx.model,
            decision=ctx.decision,
            tenant=ctx.tenant,
            scope=self.cfg.scope,
            by_effect=self.cfg.cross_decision,
        )
        try:
            vector = await ctx.embedding()
        except Exception as exc:
            svc.faults["embedding"] += 1
            ctx.faults.append("cache")
            log.warning("cache skipped for request %s: embedding failed (%s)", ctx.request_id, type(exc).__name__)
            return None
        hit: CacheHit | None = None
        looked_up = False
        score: float | None = None
        if allowed.lookup:
            now = time.time()
            floor = self.floor(policy)
            try:
                hit = await svc.call("lookup", lambda: svc.backend.lookup(vector, partition, floor, now), self.cfg, ctx)
                looked_up = True
            except BackendUnavailable as exc:
                if exc.reason != "fault":  # faults are counted as such by ``call``
                    self._bypass(exc.reason)
            if hit is not None:
                hit, score = await self._check(ctx, text, hit, dry_run)
        if dry_run:
            detail: dict[str, Any] = {"looked_up": looked_up, "threshold": policy.threshold}
            if score is not None:
                detail["verifier"] = round(score, 4)
            if not allowed.lookup:
                detail["reason"] = allowed.reason
            ctx.signals.setdefault(
                LOOKUP_RESULT, SignalResult(hit is not None, hit.similarity if hit else 0.0, detail=detail)
            )
            return None
        if hit is not None:
            svc.hits += 1
            return self._replay(ctx, hit, score)
        if looked_up:
            svc.misses += 1
        elif allowed.reason is not None:
            self._bypass(allowed.reason)  # no-cache: lookup skipped, the answer is still stored
        ctx.response_headers[HIT_HEADER] = "false"
        if allowed.store:
            ctx.stage_state[self.name] = _Pending(ctx, vector, partition, policy)
        return None

    def floor(self, policy: Policy) -> float:
        """The cosine a candidate needs: the policy's threshold, lowered to the verifier's floor when it is on
        (below the threshold, the verifier decides; above it, the verifier still must accept)."""
        if self.verifier is None:
            return policy.threshold
        return min(policy.threshold, self.cfg.verifier.min_similarity)

    async def _check(
        self, ctx: RequestContext, text: str, hit: CacheHit, dry_run: bool
    ) -> tuple[CacheHit | None, float | None]:
        """Serve ``hit`` only if the verifier (or, with it off, the lexical guard) accepts it. Either way the
        similarity and score go to ``ctx.obs`` for the decision log, so a refused candidate says why."""
        svc = self.service
        ctx.obs["cache_similarity"] = round(hit.similarity, 4)
        if self.verifier is None:
            if await cpu.run(len(text), compatible, text, hit.answer.prompt):
                return hit, None
            svc.near_misses += 0 if dry_run else 1
            ctx.obs["cache_refused_by"] = "lexical_guard"
            return None, None
        verifier = self.verifier
        score = await cpu.run(len(text), verifier.score, text, hit.answer.prompt, hit.similarity)
        ctx.obs["cache_verifier"] = round(score, 4)
        if score >= self.verify_threshold:
            return hit, score
        if not dry_run:
            svc.near_misses += 1
            svc.verifier_rejections += 1
        ctx.obs["cache_refused_by"] = "verifier"
        return None, score

    def _replay(self, ctx: RequestContext, hit: CacheHit, score: float | None = None) -> LocalResponse:
        """The stored answer in the form this request asked for, named after the model it asked for."""
        model = ctx.model or ctx.requested_model
        headers = {HIT_HEADER: "true", SIMILARITY_HEADER: f"{hit.similarity:.4f}"}
        if score is not None:
            headers[VERIFIER_HEADER] = f"{score:.4f}"
        if ctx.stream:
            opts = ctx.body.get("stream_options")
            usage = isinstance(opts, dict) and bool(opts.get("include_usage"))
            events = to_sse(hit.answer, model, include_usage=usage)
            return LocalResponse(200, headers=headers, content_type="text/event-stream", chunks=iterate(events))
        return LocalResponse(200, body=to_json(hit.answer, model), headers=headers)

    async def on_response(self, ctx: RequestContext, outcome: ResponseOutcome) -> None:
        pending = ctx.stage_state.pop(self.name, None)
        if not isinstance(pending, _Pending):
            return
        if ctx.upstream.native:  # a worker's own Responses answer: the cache keeps chat answers only
            self.service.store_skips["native_responses"] += 1
            return
        if outcome.status != 200 or outcome.error is not None:
            self.service.store_skips[outcome.error or "status"] += 1  # e.g. "client_disconnected"
            return
        if not outcome.completed:
            self.service.store_skips["incomplete"] += 1
            return
        if not outcome.body:
            self.service.store_skips["no_body"] += 1
            return
        self.service.spawn(self._store(pending, outcome.body))

    async def _store(self, pending: _Pending, body: bytes) -> None:
        svc, ctx = self.service, pending.ctx
        stream = not body.lstrip().startswith(b"{")  # what the worker sent, whatever the request asked
        try:
            prompt = await cpu.run(len(ctx.text), normalize, ctx.text)
            answer = await cpu.run(len(body), parse_answer, body, stream=stream, prompt=prompt)  # a long SSE answer
        except Unstorable as exc:
            svc.store_skips[exc.reason] += 1
            return
        if answer.finish_reason not in self.finish_reasons:
            svc.store_skips["finish_reason"] += 1
            return
        now = time.time()
        decision = ctx.decision.name if ctx.decision is not None else None
        try:
            await svc.call(
                "store",
                lambda: svc.backend.store(
                    pending.vector,
                    pending.partition,
                    answer,
                    pending.policy.ttl_s,
                    ctx.category,
                    now,
                    decision=decision,
                ),
                self.cfg,
                ctx,
            )
        except BackendUnavailable as exc:
            if exc.reason != "fault":
                svc.store_skips[exc.reason] += 1
            return
        svc.stores += 1
