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
* **Following a verified duplicate** (``cache.follow``, on by default). Routing reads one message, so a
  paraphrase may land on another decision than its stored original (a cooking question split between
  ``general`` and ``physics``), whose partition cannot hold the answer. Each answer is therefore also kept
  under the request's *question* partition (:func:`~semrouter.cache.keys.question_key`: the partition key
  minus the decision and the model) with its origin (decision, model, decision partition). When the
  request's own partition yields no verified hit, one more lookup searches the question partition; a
  candidate from another decision is adopted only if that decision still exists with the same settings
  (its partition key, recomputed from the current config, must equal the stored one: a reload that edited
  its prompt ends the sharing), still offers the model, is not gated by a header or metadata rule, has its
  cache on, is allowed for the tenant, would not have blocked or flagged the request in the guards, and
  the verifier accepts the pair. The request then takes that decision and model, so the effective request
  is exactly the one that produced the answer: ``x-vsr-selected-decision`` names the adopted decision and
  ``x-vsr-cache-followed-from`` the one routing chose. A decision chosen by a matched keyword, header or
  metadata rule is not left (explicit rules win; ``follow.explicit_rules`` changes that), nor are
  explicit-model requests or session-held turns. All of this is here, after the backend's lookup, so every
  backend behaves the same.
* The store happens in ``on_response`` from the kept answer bytes, as a background task: the client
  already has its answer and waits for nothing. Stores are transport-neutral (the ext_proc adapter calls
  the same ``on_response``), and so are hits (a :class:`LocalResponse`).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from semrouter import cpu
from semrouter.cache.answer import Unstorable, iterate, parse_answer, to_json, to_sse
from semrouter.cache.keys import cacheability, partition_key, question_key
from semrouter.cache.match import compatible, normalize
from semrouter.cache.service import BackendUnavailable, CacheService
from semrouter.cache.verify import PairVerifier, load_verifier
from semrouter.context import ApiKind, LocalResponse, RequestContext, ResponseOutcome
from semrouter.pipeline import Stage
from semrouter.signals.result import SignalResult

if TYPE_CHECKING:
    from semrouter.cache.base import CacheHit, Vector
    from semrouter.config.schema import DecisionConfig, RouterConfig

log = logging.getLogger("semrouter.cache")


DRY_RUN = "dry_run"
"""``ctx.cache_bypass`` value a dry run sets: look up (to report what would happen), never answer or store."""
LOOKUP_RESULT = "cache_lookup"
"""Where a dry run's lookup result goes in ``ctx.signals`` (as the tool stage reports its ranking)."""
HIT_HEADER = "x-vsr-cache-hit"
SIMILARITY_HEADER = "x-vsr-cache-similarity"
VERIFIER_HEADER = "x-vsr-cache-verifier"
"""On a hit: the verifier's P(same question) for the served entry (absent when the verifier is off)."""
FOLLOWED_HEADER = "x-vsr-cache-followed-from"
"""On a hit that followed a verified duplicate stored under another decision: the decision routing chose
(``x-vsr-selected-decision`` then names the adopted one)."""
EXPLICIT_SIGNALS = frozenset({"keyword", "header", "metadata"})
"""Signal types whose match is the client's explicit choice: a decision they chose is not left for a cached one."""
GATING_SIGNALS = frozenset({"header", "metadata"})
"""Signal types that gate on who asks rather than on the question: a decision whose rules name one is never
adopted by a request that did not itself match it. The guards' verdicts (``pii``, ``jailbreak``,
``harmful``), which rules may also name, count as both explicit and gating: a decision for flagged requests
is never left for a cached answer, and never lends its answers to requests that were not flagged."""


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
    question: str | None = None  # also keep the answer here (with its origin), so paraphrases can follow it
    origin: dict[str, str] | None = None  # the decision and model the partition was keyed with


class CacheStage(Stage):
    name = "cache"
    optional = True  # a bug here must cost a cache hit, never the request
    uses_embedding = True

    def __init__(self, config: RouterConfig, service: CacheService) -> None:
        self.cfg = config.cache
        self.service = service
        self.finish_reasons = frozenset(config.cache.cache_finish_reasons)
        self._verifier: PairVerifier | None = None  # loaded by warm_up (or on first use): a model, for ``pair``
        self.config = config
        self.follow = config.cache.follow
        from semrouter.stages.guard import HARMFUL_SIGNAL, JAILBREAK_SIGNAL, PII_SIGNAL

        # the guards' verdicts are signals rules may use: a decision chosen on one is neither left nor adopted
        guards = {PII_SIGNAL, JAILBREAK_SIGNAL, HARMFUL_SIGNAL}
        explicit = {s.name for s in config.signals if s.type in EXPLICIT_SIGNALS} | guards
        gating = {s.name for s in config.signals if s.type in GATING_SIGNALS} | guards
        # per decision: the explicit signals its rules name, and whether a header/metadata rule gates it
        self._explicit = {
            d.name: frozenset(d.rules.signals() & explicit) if d.rules else frozenset() for d in config.decisions
        }
        self._gated = {d.name for d in config.decisions if d.rules is not None and d.rules.signals() & gating}
        # the question partition's search floor: the lowest any decision's policy may accept (re-checked after)
        thresholds = [config.cache.threshold]
        thresholds += [c.threshold for c in config.cache.categories.values() if c.threshold is not None]
        thresholds += [d.cache.threshold for d in config.decisions if d.cache is not None and d.cache.threshold]
        self.question_floor = min(self.floor(Policy(True, t, 0.0)) for t in thresholds)

    @property
    def wants_response_body(self) -> bool:
        return True

    def policy(self, ctx: RequestContext, decision: DecisionConfig | None = None) -> Policy:
        """Threshold and TTL: the decision's policy, else the category's, else the global one. ``decision``:
        another decision than the request's (one it may adopt), with the category it would report."""
        cfg = self.cfg
        threshold, ttl = cfg.threshold, cfg.ttl_s
        category = ctx.category
        if decision is not None:
            category = decision.category or category
        else:
            decision = ctx.decision
        cat = cfg.categories.get(category) if category else None
        if cat is not None:
            threshold = cat.threshold if cat.threshold is not None else threshold
            ttl = cat.ttl_s if cat.ttl_s is not None else ttl
        dp = decision.cache if decision is not None else None
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
        question: str | None = None  # the question partition: hashed only once the own partition has no hit
        hit: CacheHit | None = None
        looked_up = False
        score: float | None = None
        refused: str | None = None  # what refused a candidate, if one was refused and none served
        adopted: tuple[DecisionConfig, str] | None = None
        if allowed.lookup:
            now = time.time()
            floor = self.floor(policy)
            try:
                hit = await svc.call("lookup", lambda: svc.backend.lookup(vector, partition, floor, now), self.cfg, ctx)
                looked_up = True
            except BackendUnavailable as exc:
                if exc.reason != "fault":  # faults are counted as such by ``call``
                    self._bypass(exc.reason)
            seen = hit is not None
            if hit is not None:
                hit, score, refused = await self._check(ctx, text, hit, policy)
            if hit is None:
                question = await self._question(ctx)
            if hit is None and looked_up and question is not None and self._may_leave(ctx):
                found = await self._follow(ctx, text, vector, question, partition, now, seen)
                if found is not None:
                    hit, score, adopted = found
                    if adopted[0] is ctx.decision and adopted[1] == ctx.model:
                        adopted = None  # the request's own partition's answer, found through its question copy
                elif "cache_refused_by" in ctx.obs:
                    refused = str(ctx.obs["cache_refused_by"])
        if dry_run:
            detail: dict[str, Any] = {"looked_up": looked_up, "threshold": policy.threshold}
            if score is not None:
                detail["verifier"] = round(score, 4)
            if adopted is not None:
                detail["followed"] = adopted[0].name
            if not allowed.lookup:
                detail["reason"] = allowed.reason
            ctx.signals.setdefault(
                LOOKUP_RESULT, SignalResult(hit is not None, hit.similarity if hit else 0.0, detail=detail)
            )
            return None
        if hit is not None:
            svc.hits += 1
            if adopted is not None:
                svc.follows += 1
                return self._replay(ctx, hit, score, self._adopt(ctx, *adopted))
            return self._replay(ctx, hit, score)
        if refused is not None:  # one lookup, one result: a near miss, however many candidates were refused
            svc.near_misses += 1
            if refused == "verifier":
                svc.verifier_rejections += 1
        if looked_up:
            svc.misses += 1
        elif allowed.reason is not None:
            self._bypass(allowed.reason)  # no-cache: lookup skipped, the answer is still stored
        ctx.response_headers[HIT_HEADER] = "false"
        if allowed.store:
            if not allowed.lookup:  # no-cache: no lookup computed it
                question = await self._question(ctx)
            pending = _Pending(ctx, vector, partition, policy)
            # _question() returned a key only for a routed request with a decision and a model
            if question is not None and ctx.decision is not None and self._adoptable_target(ctx.decision):
                pending.question = question
                pending.origin = {"decision": ctx.decision.name, "model": ctx.model or "", "partition": partition}
            ctx.stage_state[self.name] = pending
        return None

    # -- following a verified duplicate stored under another decision ---------------------------------------

    def _follows(self, ctx: RequestContext) -> bool:
        """Following is on and the request was routed (an explicit model name is the client's choice: never
        followed away from, never stored for others to follow)."""
        return self.follow.enabled and ctx.routed and ctx.decision is not None and ctx.model is not None

    async def _question(self, ctx: RequestContext) -> str | None:
        """The request's question partition when :meth:`_follows`; hashing the conversation grows with it, so a
        large one is hashed off the event loop."""
        if not self._follows(ctx):
            return None
        size = len(ctx.raw_body)
        return await cpu.run(
            size, question_key, api=ctx.api.value, body=ctx.body, tenant=ctx.tenant, scope=self.cfg.scope
        )

    def _adoptable_target(self, decision: DecisionConfig | None) -> bool:
        """May a paraphrase adopt ``decision``? Not when a header or metadata rule gates it (a client without
        that header would get the gated decision's answer)."""
        return decision is not None and decision.name not in self._gated

    def _may_leave(self, ctx: RequestContext) -> bool:
        """May this request leave its own decision for a cached one? Not when a matched keyword, header or
        metadata rule chose it (explicit rules win, unless ``follow.explicit_rules``), nor when a session holds
        its model (the conversation's pin, not this turn's routing, chose it)."""
        if ctx.obs.get("session") not in (None, "new"):
            return False
        if self.follow.explicit_rules or ctx.decision is None:
            return True
        names = self._explicit.get(ctx.decision.name, frozenset())
        return not any((r := ctx.signals.get(n)) is not None and r.matched for n in names)

    def _origin(
        self, ctx: RequestContext, hit: CacheHit, own: str, seen: bool = False
    ) -> tuple[DecisionConfig, str] | None:
        """The (decision, model) a question-partition entry may be adopted under, checked against the current
        config; ``None`` (with the reason in ``ctx.obs``) when it may not. Cheap checks: they run before the
        verifier. An entry made under the request's own partition is the request's own answer (its copy in
        the decision partition was evicted or expired first): served as such, unless the own lookup already
        judged a candidate (``seen``)."""
        origin = hit.answer.origin
        if not origin:
            return None
        name, model, stored = origin.get("decision"), origin.get("model"), origin.get("partition")
        if not name or not model or not stored:
            return None
        if stored == own:
            return None if seen or ctx.decision is None or ctx.model is None else (ctx.decision, ctx.model)
        decision = self.config.decision(name)
        why: str | None = None
        if decision is None:
            why = "decision_gone"
        elif not self._adoptable_target(decision):
            why = "gated"
        elif model not in {m.model for m in decision.models} or self.config.model(model) is None:
            why = "model_gone"
        elif not self.policy(ctx, decision).enabled:
            why = "disabled"
        elif not _tenant_allows(ctx, decision, model):
            why = "tenant"
        elif not _guards_allow(ctx, decision, model):
            why = "guards"
        else:
            key = partition_key(
                api=ctx.api.value,
                body=ctx.body,
                model=model,
                decision=decision,
                tenant=ctx.tenant,
                scope=self.cfg.scope,
                by_effect=self.cfg.cross_decision,
            )
            if key != stored:
                why = "changed"  # the decision's settings (or keyed request parts) are not those it was made under
        if why is not None:
            ctx.obs["cache_follow_refused"] = why
            return None
        assert decision is not None
        return decision, model

    async def _follow(
        self, ctx: RequestContext, text: str, vector: Vector, question: str, own: str, now: float, seen: bool
    ) -> tuple[CacheHit, float | None, tuple[DecisionConfig, str]] | None:
        """One more lookup, in the question partition: a verified duplicate stored under another decision."""
        svc = self.service
        floor = self.question_floor
        try:
            cand = await svc.call("lookup", lambda: svc.backend.lookup(vector, question, floor, now), self.cfg, ctx)
        except BackendUnavailable as exc:
            if exc.reason != "fault":
                self._bypass(exc.reason)
            return None
        if cand is None:
            return None
        # the origin checks recompute a partition key (a hash of the conversation): large ones off the loop
        target = await cpu.run(len(ctx.raw_body), self._origin, ctx, cand, own, seen)
        if target is None:
            return None
        policy = self.policy(ctx, target[0])
        if cand.similarity < self.floor(policy):
            return None
        hit, score, _ = await self._check(ctx, text, cand, policy)
        if hit is None:
            return None
        return hit, score, target

    def _adopt(self, ctx: RequestContext, decision: DecisionConfig, model: str) -> str:
        """The request takes the adopted decision and model (what the headers, the decision log and the
        metrics report); returns the decision routing had chosen."""
        was = ctx.decision.name if ctx.decision is not None else ""
        ctx.decision = decision
        ctx.model = model
        ctx.category = decision.category or ctx.category
        ctx.obs["cache_followed_from"] = was
        return was

    @property
    def verifier(self) -> PairVerifier | None:
        """The configured pair verifier, or None with ``cache.verifier.enabled: false``."""
        vcfg = self.cfg.verifier
        if not vcfg.enabled:
            return None
        if self._verifier is None:
            self._verifier = load_verifier(vcfg.model)
        return self._verifier

    @property
    def verify_threshold(self) -> float:
        """P(same question) a candidate needs: the config's, else the verifier's own operating point."""
        if self.cfg.verifier.threshold is not None:
            return self.cfg.verifier.threshold
        verifier = self.verifier
        return verifier.threshold if verifier is not None else 1.0

    def warm_up(self) -> None:
        """Load the verifier at start, in the router's warm-up threads (the pair model takes ~0.4 s)."""
        _ = self.verifier

    def floor(self, policy: Policy) -> float:
        """The cosine a candidate needs: the policy's threshold, lowered to the verifier's floor when it is on
        (below the threshold, the verifier decides; above it, the verifier still must accept)."""
        if not self.cfg.verifier.enabled:  # the setting, not the model: asking must not load it
            return policy.threshold
        return min(policy.threshold, self.cfg.verifier.min_similarity)

    async def _check(
        self, ctx: RequestContext, text: str, hit: CacheHit, policy: Policy
    ) -> tuple[CacheHit | None, float | None, str | None]:
        """Serve ``hit`` only if the verifier (or, with it off, the lexical guard above the policy's threshold)
        accepts it: ``(hit or None, verifier score, what refused it)``. Either way the similarity and score go
        to ``ctx.obs`` for the decision log, so a refused candidate says why; the caller counts."""
        ctx.obs["cache_similarity"] = round(hit.similarity, 4)
        if self.verifier is None:
            if hit.similarity >= policy.threshold and await cpu.run(len(text), compatible, text, hit.answer.prompt):
                ctx.obs.pop("cache_refused_by", None)
                return hit, None, None
            ctx.obs["cache_refused_by"] = "lexical_guard"
            return None, None, "lexical_guard"
        verifier = self.verifier
        run = cpu.off_loop if verifier.heavy else cpu.run
        score = await run(len(text), verifier.score, text, hit.answer.prompt, hit.similarity)
        ctx.obs["cache_verifier"] = round(score, 4)
        if score >= self.verify_threshold:
            ctx.obs.pop("cache_refused_by", None)
            return hit, score, None
        ctx.obs["cache_refused_by"] = "verifier"
        return None, score, "verifier"

    def _replay(
        self, ctx: RequestContext, hit: CacheHit, score: float | None = None, followed_from: str | None = None
    ) -> LocalResponse:
        """The stored answer in the form this request asked for, named after the model it asked for."""
        model = ctx.model or ctx.requested_model
        headers = {HIT_HEADER: "true", SIMILARITY_HEADER: f"{hit.similarity:.4f}"}
        if score is not None:
            headers[VERIFIER_HEADER] = f"{score:.4f}"
        if followed_from is not None:
            headers[FOLLOWED_HEADER] = followed_from
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
        question, origin = pending.question, pending.origin
        if question is None or origin is None:
            svc.stores += 1
            return
        pointer = dataclasses.replace(answer, origin=origin)  # the same answer (strings shared), with its origin
        try:
            await svc.call(
                "store",
                lambda: svc.backend.store(
                    pending.vector, question, pointer, pending.policy.ttl_s, ctx.category, now, decision=decision
                ),
                self.cfg,
                ctx,
            )
        except BackendUnavailable as exc:
            if exc.reason != "fault":
                svc.store_skips[exc.reason] += 1
        svc.stores += 1  # counted once both are written: a paraphrase asked after this can follow the answer


def _tenant_allows(ctx: RequestContext, decision: DecisionConfig, model: str) -> bool:
    """The tenant's rules (semrouter.tenancy.narrow) for the adopted decision and model."""
    access = ctx.tenancy
    tenant = access.tenant if access is not None else None
    if tenant is None:
        return True
    if tenant.decisions is not None and decision.name not in tenant.decisions:
        return False
    return tenant.models is None or model in tenant.models


def _guards_allow(ctx: RequestContext, decision: DecisionConfig, model: str) -> bool:
    """Would the guard policy of the adopted decision and model have let this request through untouched, as
    its own did? The detectors' verdicts are in ``ctx.signals``; only their per-route thresholds differ. A
    request with PII never gets here (it bypasses the cache), so only jailbreak and harmful are re-checked."""
    from semrouter.stages.guard import HARMFUL_SIGNAL, JAILBREAK_SIGNAL, harmful_policy

    jb = ctx.signals.get(JAILBREAK_SIGNAL)
    if jb is not None and not jb.detail.get("route_hit"):
        p = decision.jailbreak
        enabled = p.enabled if p is not None and p.enabled is not None else True
        threshold = p.threshold if p is not None and p.threshold is not None else jb.detail.get("threshold", 1.0)
        if enabled and jb.confidence >= float(threshold):
            return False
    harm = ctx.signals.get(HARMFUL_SIGNAL)
    if harm is not None:
        saved = ctx.decision, ctx.model
        ctx.decision, ctx.model = decision, model
        try:
            enabled, _, overrides, _ = harmful_policy(ctx.config, ctx)
        finally:
            ctx.decision, ctx.model = saved
        threshold = overrides.get(harm.value or "", harm.detail.get("threshold", 1.0))
        if enabled and harm.confidence >= float(threshold):
            return False
    return True
