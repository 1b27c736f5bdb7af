"""Guards: find PII, jailbreak attempts and harmful requests, then apply the policy of the route it takes.

Two stages because detection and policy need different moments. Detection runs early, for every request
(an explicit model name must not be a way around the guards), and records its findings as the ``pii``,
``jailbreak`` and ``harmful`` signals, so decision rules can route on them (e.g. prompts with PII to an
on-premises model, ``{signal: harmful, equals: self_harm}`` to a decision with a supportive system prompt).
The policy can only run once the decision and the model are known, because both may override it: a
decision for an internal HR assistant may allow names that a public chat decision masks, and a stricter
jailbreak threshold may apply to a model that runs tools.

A harmful request's policy is one of block, route or allow per category. ``route`` is the smallest
mechanism that works for routed and explicit-model requests alike: the policy stage runs after selection
and replaces the chosen model with the policy's ``safety_model`` (body included), before the cache and
enrich stages, so the answer comes from the safety model under the decision's prompt settings. A harmful
hit of any action is never cached.

What never leaves this module is the detected values: signals, headers, errors and logs carry entity
types and character positions only. Masked values live in the request context for the one request that
needs them back (``restore``) and are dropped with it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import orjson

from semrouter import cpu
from semrouter.config.schema import ModelConfig, RouterConfig
from semrouter.context import RequestContext
from semrouter.errors import RouterError
from semrouter.guards.config import HarmAction, PiiAction, Scan
from semrouter.pipeline import Stage
from semrouter.signals.result import SignalResult

if TYPE_CHECKING:
    from semrouter.context import LocalResponse
    from semrouter.guards.harmful import HarmfulDetector, HarmfulResult
    from semrouter.guards.jailbreak import JailbreakDetector
    from semrouter.guards.multilingual_stage import MultilingualLook
    from semrouter.guards.pii import PiiDetector, PiiEntity, Restorer
    from semrouter.guards.reader_stage import ReaderLook

log = logging.getLogger("semrouter.guards")

PII_SIGNAL = "pii"
JAILBREAK_SIGNAL = "jailbreak"
HARMFUL_SIGNAL = "harmful"
GUARD_SIGNALS = (PII_SIGNAL, JAILBREAK_SIGNAL, HARMFUL_SIGNAL)


def scan_targets(body: dict[str, Any], scan: Scan) -> Iterator[tuple[dict[str, Any], str]]:
    """Each user text a guard must read, as (container, key) so a masker can write it back in place.

    A string ``content`` is one target; a list of parts gives one target per text part. ``last_user``
    reads only the newest user message (earlier turns were checked when they were new); ``all_user``
    reads every one (for clients that resend edited histories).
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        if isinstance(body.get("prompt"), str):
            yield body, "prompt"
        return
    users = [m for m in messages if isinstance(m, dict) and m.get("role") == "user"]
    for msg in users[-1:] if scan == "last_user" else users:
        content = msg.get("content")
        if isinstance(content, str):
            yield msg, "content"
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and isinstance(part.get("text"), str):
                    yield part, "text"


class _Masker:
    """Replaces spans with ``<TYPE>`` placeholders, one placeholder per distinct value across the request,
    so the same email in two messages maps to one placeholder and ``restore`` is unambiguous."""

    def __init__(self) -> None:
        self.mapping: dict[str, str] = {}  # placeholder -> original value
        self._by_value: dict[tuple[str, str], str] = {}
        self._count: dict[str, int] = {}

    def placeholder(self, kind: str, value: str) -> str:
        key = (kind, value)
        ph = self._by_value.get(key)
        if ph is None:
            n = self._count.get(kind, 0) + 1
            self._count[kind] = n
            ph = f"<{kind}>" if n == 1 else f"<{kind}_{n}>"
            self._by_value[key] = ph
            self.mapping[ph] = value
        return ph

    def mask(self, text: str, entities: list[PiiEntity]) -> str:
        out, pos = [], 0
        for e in sorted(entities, key=lambda e: e.start):
            if e.start < pos:  # overlapping spans: the earlier one already covers it
                continue
            out += [text[pos : e.start], self.placeholder(e.type, text[e.start : e.end])]
            pos = e.end
        out.append(text[pos:])
        return "".join(out)


class GuardStage(Stage):
    """Detection: PII entities (regex, validators, NER), the jailbreak probability and the harmful-request
    category and score (both on the shared embedding; where a head is unsure, blended with the reader's,
    :mod:`semrouter.guards.reader_stage`)."""

    name = "guard"

    def __init__(self, config: RouterConfig) -> None:
        self.pii_cfg = config.guards.pii
        self.jb_cfg = config.guards.jailbreak
        self.pii: PiiDetector | None = None
        self.jailbreak: JailbreakDetector | None = None
        self.harm_cfg = config.guards.harmful
        self.harmful: HarmfulDetector | None = None
        self.faults = 0
        if self.pii_cfg.enabled:
            from semrouter.guards.pii import PiiDetector

            self.pii = PiiDetector.shared(self.pii_cfg)
        if self.jb_cfg.enabled:
            from semrouter.guards.jailbreak import JailbreakDetector

            self.jailbreak = JailbreakDetector.load()
        if self.harm_cfg.enabled:
            from semrouter.guards.harmful import HarmfulDetector

            self.harmful = HarmfulDetector.load()
        self.uses_embedding = self.jailbreak is not None or self.harmful is not None
        self.multilingual: MultilingualLook | None = None
        if self.uses_embedding and config.guards.multilingual.enabled:
            from semrouter.guards.multilingual_stage import MultilingualLook

            self.multilingual = MultilingualLook.create(
                config.guards.multilingual, self.jailbreak is not None, self.harmful is not None
            )
        self.reader: ReaderLook | None = None
        reads_last_turn = (self.jailbreak is not None and self.jb_cfg.scan == "last_user") or (
            self.harmful is not None and self.harm_cfg.scan == "last_user"
        )
        if reads_last_turn:  # the reader reads a last turn with the turns before it, never each turn alone
            from semrouter.guards.reader_stage import ReaderLook

            shipped = self.jailbreak.threshold if self.jailbreak is not None else 0.5
            self.reader = ReaderLook.create(config.guards.reader, shipped)

    def warm_up(self) -> None:
        if self.pii is not None:
            self.pii.warm_up()
        if self.multilingual is not None:
            self.multilingual.warm_up()
        if self.reader is not None:
            self.reader.warm_up()

    @property
    def jailbreak_threshold(self) -> float:
        assert self.jailbreak is not None
        return self.jb_cfg.threshold if self.jb_cfg.threshold is not None else self.jailbreak.threshold

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        jobs = []
        if self.pii is not None:
            jobs.append(self._guarded(ctx, "pii", self.pii_cfg.on_error, self._detect_pii(ctx)))
        if self.jailbreak is not None and (ctx.routed or self.jb_cfg.passthrough):
            jobs.append(self._guarded(ctx, "jailbreak", self.jb_cfg.on_error, self._detect_jailbreak(ctx)))
        if self.harmful is not None and (ctx.routed or self.harm_cfg.passthrough):
            jobs.append(self._guarded(ctx, "harmful", self.harm_cfg.on_error, self._detect_harmful(ctx)))
        await asyncio.gather(*jobs)
        return None

    async def _guarded(self, ctx: RequestContext, what: str, on_error: str, job: Any) -> None:
        """A failing detector either lets the request through unguarded (counted) or refuses it (503)."""
        try:
            await job
        except RouterError:
            raise
        except Exception as exc:
            self.faults += 1
            ctx.faults.append(f"guard.{what}")  # named like the stage records: guard.pii, guard.jailbreak
            # the exception type only: a detector's message might quote the text it choked on
            log.warning("%s guard failed for request %s: %s", what, ctx.request_id, type(exc).__name__)
            if what == "pii":  # unscanned text may hold personal data: it must not reach the cache either
                ctx.cache_bypass = "pii_unchecked"
            if on_error == "closed":
                raise RouterError(
                    503,
                    f"The {what} guard is unavailable and this router is configured to refuse unchecked requests",
                    type="service_unavailable_error",
                    code="guard_unavailable",
                ) from None

    async def _detect_pii(self, ctx: RequestContext) -> None:
        assert self.pii is not None
        detector = self.pii
        targets = list(scan_targets(ctx.body, self.pii_cfg.scan))
        texts = [str(c[k]) for c, k in targets]
        found = await cpu.off_loop(sum(map(len, texts)), lambda: [detector.detect(t) for t in texts])
        flat = [(i, e) for i, ents in enumerate(found) for e in ents]
        entities = [
            {"type": e.type, "start": e.start, "end": e.end, "score": round(e.score, 3), "target": i} for i, e in flat
        ]
        ctx.pii_types = sorted({e.type for _, e in flat})
        ctx.signals[PII_SIGNAL] = SignalResult(
            matched=bool(entities),
            confidence=max((e.score for _, e in flat), default=0.0),
            value=",".join(ctx.pii_types) or None,
            detail={"entities": entities},
        )
        if entities:
            ctx.cache_bypass = "pii"  # never cached, even if masked or allowed
            ctx.pii_findings = (targets, found)

    async def _detect_jailbreak(self, ctx: RequestContext) -> None:
        assert self.jailbreak is not None
        detector = self.jailbreak
        reader = None
        if self.jb_cfg.scan == "last_user":  # the last turn, read with the few user turns before it
            from semrouter.guards.jailbreak import earlier_user_turns

            context = earlier_user_turns(ctx.body)
            scored = [detector.score(ctx.text, await ctx.embedding(), context)]
            reader = self.reader
        else:
            from semrouter.embed.service import EmbeddingService

            texts = [str(c[k]) for c, k in scan_targets(ctx.body, "all_user")]
            service = EmbeddingService.default()
            vectors = await asyncio.gather(*(service.embed(t) for t in texts))
            scored = [detector.score(t, v) for t, v in zip(texts, vectors, strict=True)]
        prob, kind = max(scored, default=(0.0, "none"))
        threshold = self.jailbreak_threshold
        detail: dict[str, Any] = {"threshold": round(threshold, 4)}
        if reader is not None:  # unsure prompts: blended with the reader's reading
            prob = await reader.attack(ctx, prob, threshold, context, detail)
        if self.multilingual is not None:  # non-English prompts: the multilingual head's verdict, OR-ed in
            prob, kind = await self.multilingual.attack(ctx, prob, kind, threshold, detail)
        ctx.signals[JAILBREAK_SIGNAL] = SignalResult(
            matched=prob >= threshold, confidence=prob, value=kind, detail=detail
        )

    @property
    def harmful_thresholds(self) -> dict[str, float]:
        """Per-category thresholds: ``guards.harmful.thresholds``, else its ``threshold``, else the calibrated ones."""
        assert self.harmful is not None
        from semrouter.guards.harmful import CATEGORIES, CLASSES

        cfg = self.harm_cfg
        shipped = {c: float(self.harmful.thresholds[CLASSES.index(c)]) for c in CATEGORIES}
        return {
            c: cfg.thresholds.get(c, cfg.threshold if cfg.threshold is not None else shipped[c]) for c in CATEGORIES
        }

    async def _detect_harmful(self, ctx: RequestContext) -> None:
        """The most harmful scanned text's score and category; the verdict at the global thresholds (the
        policy stage re-decides with the route's)."""
        assert self.harmful is not None
        detector = self.harmful
        reader = None
        if self.harm_cfg.scan == "last_user":
            results = [detector.detect(ctx.text, await ctx.embedding())]
            reader = self.reader
        else:
            from semrouter.embed.service import EmbeddingService

            texts = [str(c[k]) for c, k in scan_targets(ctx.body, "all_user")]
            vectors = await asyncio.gather(*(EmbeddingService.default().embed(t) for t in texts))
            results = [detector.detect(t, v) for t, v in zip(texts, vectors, strict=True)]
        if not results:
            return
        top: HarmfulResult = max(results, key=lambda r: r.score)
        extra: dict[str, Any] = {}
        if reader is not None:  # unsure prompts: blended with the reader's reading
            from semrouter.guards.jailbreak import earlier_user_turns

            threshold = self.harmful_thresholds[top.category]
            top = await reader.harmful(ctx, top, threshold, earlier_user_turns(ctx.body), extra)
        if self.multilingual is not None:  # non-English prompts: the multilingual head's verdict, OR-ed in
            top = await self.multilingual.harmful(ctx, top, self.harmful_thresholds, extra)
        threshold = self.harmful_thresholds[top.category]
        ctx.signals[HARMFUL_SIGNAL] = SignalResult(
            matched=top.score >= threshold,
            confidence=top.score,
            value=top.category,
            detail={
                "threshold": round(threshold, 4),
                "category_probability": round(top.category_probability, 4),
                **extra,
            },
        )


def harmful_policy(
    config: RouterConfig, ctx: RequestContext
) -> tuple[bool, dict[str, HarmAction], dict[str, float], str | None]:
    """(enabled, action per category, threshold overrides, safety model) for this request: global, then the
    model's, then the decision's (the most specific wins, key by key)."""
    g = config.guards.harmful
    enabled, actions, thresholds, safety = True, dict(g.actions), {}, g.safety_model
    model: ModelConfig | None = config.model(ctx.model) if ctx.model else None
    for p in (model.harmful if model else None, ctx.decision.harmful if ctx.decision else None):
        if p is None:
            continue
        enabled = p.enabled if p.enabled is not None else enabled
        actions.update(p.actions or {})
        thresholds.update(p.thresholds or {})
        safety = p.safety_model or safety
    return enabled, actions, thresholds, safety


def pii_policy(config: RouterConfig, ctx: RequestContext) -> tuple[PiiAction, frozenset[str], bool]:
    """(action, allowed types, restore) for this request: global, then the model's, then the decision's."""
    g = config.guards.pii
    action, allow, restore = g.action, list(g.allow_types), g.restore
    model: ModelConfig | None = config.model(ctx.model) if ctx.model else None
    for p in (model.pii if model else None, ctx.decision.pii if ctx.decision else None):
        if p is None:
            continue
        action = p.action or action
        allow = p.allow_types if p.allow_types is not None else allow
        restore = p.restore if p.restore is not None else restore
    return action, frozenset(allow), restore


class GuardPolicyStage(Stage):
    """Apply the route's policy to what :class:`GuardStage` found: block, mask, or let through with headers."""

    name = "guard_policy"

    def __init__(self, config: RouterConfig, detect: GuardStage) -> None:
        self.config = config
        self.detect = detect
        self.blocked = {"pii": 0, "jailbreak": 0, "harmful": 0}
        self.routed = {"harmful": 0}

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        self._jailbreak(ctx)
        self._harmful(ctx)
        self._pii(ctx)
        return None

    def _harmful(self, ctx: RequestContext) -> None:
        """block: a 400 naming the category (never the text); route: the safety model takes the request
        whatever was selected or asked for; allow: headers only."""
        result = ctx.signals.get(HARMFUL_SIGNAL)
        if result is None:
            return
        enabled, actions, overrides, safety = harmful_policy(self.config, ctx)
        category = result.value or ""
        threshold = overrides.get(category, self.detect.harmful_thresholds.get(category, 1.0))
        hit = enabled and result.confidence >= threshold
        action = actions.get(category, "block") if hit else "allow"
        result.detail.update(route_threshold=round(threshold, 4), route_hit=hit, action=action)
        h = ctx.response_headers
        h["x-vsr-harmful-detected"] = "true" if hit else "false"
        h["x-vsr-harmful-score"] = f"{result.confidence:.4f}"
        if not hit:
            return
        h["x-vsr-harmful-category"] = category
        h["x-vsr-harmful-action"] = action
        ctx.cache_bypass = "harmful"
        if action == "block":
            self.blocked["harmful"] += 1
            raise RouterError(
                self.config.guards.harmful.block_status,
                f"The request was blocked by this service's content policy (category {category}).",
                param="messages",
                code="harmful_request",
            )
        if action == "route" and safety is not None and safety != ctx.model:
            self.routed["harmful"] += 1
            h["x-vsr-harmful-routed-from"] = ctx.model or ""
            ctx.model = safety
            ctx.body["model"] = safety  # passthrough requests too: the upstream body must name the model
            ctx.body_modified = True

    def _jailbreak(self, ctx: RequestContext) -> None:
        result = ctx.signals.get(JAILBREAK_SIGNAL)
        if result is None:
            return
        cfg = self.config.guards.jailbreak
        policy = ctx.decision.jailbreak if ctx.decision is not None else None
        enabled = policy.enabled if policy is not None and policy.enabled is not None else True
        threshold = self.detect.jailbreak_threshold
        if policy is not None and policy.threshold is not None:
            threshold = policy.threshold
        hit = enabled and result.confidence >= threshold
        result.detail.update(route_threshold=round(threshold, 4), route_hit=hit)  # the verdict for this route
        blocked = hit and cfg.action == "block"
        ctx.response_headers["x-vsr-jailbreak-blocked"] = "true" if blocked else "false"
        ctx.response_headers["x-vsr-jailbreak-confidence"] = f"{result.confidence:.4f}"
        if hit:
            ctx.response_headers["x-vsr-jailbreak-type"] = result.value or "unknown"
        if blocked:
            self.blocked["jailbreak"] += 1
            raise RouterError(
                400,
                f"The request was blocked as a likely jailbreak or prompt-injection attempt "
                f"(type {result.value}, confidence {result.confidence:.2f}).",
                param="messages",
                code="jailbreak_detected",
            )

    def _pii(self, ctx: RequestContext) -> None:
        findings = ctx.pii_findings
        if findings is None:
            return
        action, allowed, restore = pii_policy(self.config, ctx)
        acted = sorted(set(ctx.pii_types) - allowed)
        ctx.response_headers["x-vsr-pii-types"] = ",".join(ctx.pii_types)
        if not acted or action == "allow":
            ctx.response_headers["x-vsr-pii-action"] = "allow"
            return
        ctx.response_headers["x-vsr-pii-action"] = action
        if action == "block":
            self.blocked["pii"] += 1
            raise RouterError(
                self.config.guards.pii.block_status,
                f"The request contains personal data ({', '.join(acted)}) that this route does not accept; "
                "remove it and try again.",
                param="messages",
                code="pii_detected",
            )
        masker = _Masker()
        for (container, key), entities in zip(*findings, strict=True):
            todo = [e for e in entities if e.type in acted]
            if todo:
                container[key] = masker.mask(str(container[key]), todo)
        ctx.body_modified = True
        if restore and masker.mapping:
            ctx.response_filters.append(RestoreFilter(masker.mapping, stream=ctx.stream))


class RestoreFilter:
    """Puts masked values back into the answer: placeholders in a JSON body, or in SSE deltas as they
    stream (a placeholder split across two deltas is held back until it is complete)."""

    FIELDS = ("content", "reasoning_content")

    def __init__(self, mapping: dict[str, str], *, stream: bool) -> None:
        self.mapping = mapping
        self.stream = stream
        self.buf = b""
        self.restorers: dict[tuple[int, str], Restorer] = {}
        self._template: dict[str, Any] = {}  # the last chunk seen, to give an extra chunk its id and model

    def feed(self, data: bytes) -> bytes:
        self.buf += data
        if not self.stream:
            return b""
        out = []
        while (i := self.buf.find(b"\n\n")) >= 0:
            event, self.buf = self.buf[: i + 2], self.buf[i + 2 :]
            out.append(self._event(event))
        return b"".join(out)

    def finish(self) -> bytes:
        data, self.buf = self.buf, b""
        if not self.stream:
            return self._whole(data)
        pending = self._flush_all()
        return (self._chunk(pending) if pending else b"") + data

    def _whole(self, data: bytes) -> bytes:
        from semrouter.guards.pii import restore

        try:
            obj = orjson.loads(data)
        except orjson.JSONDecodeError:
            return data
        for choice in obj.get("choices", []) if isinstance(obj, dict) else []:
            msg = choice.get("message") if isinstance(choice, dict) else None
            for f in self.FIELDS if isinstance(msg, dict) else ():
                if isinstance(msg.get(f), str):  # type: ignore[union-attr]
                    msg[f] = restore(msg[f], self.mapping)  # type: ignore[index]
        return orjson.dumps(obj)

    def _restorer(self, index: int, field: str) -> Restorer:
        key = (index, field)
        if key not in self.restorers:
            from semrouter.guards.pii import Restorer

            self.restorers[key] = Restorer(self.mapping)
        return self.restorers[key]

    def _event(self, event: bytes) -> bytes:
        line = event.strip()
        if not line.startswith(b"data:"):
            return event
        payload = line[5:].strip()
        if payload == b"[DONE]":
            pending = self._flush_all()
            return (self._chunk(pending) if pending else b"") + event
        try:
            obj = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return event
        for choice in obj.get("choices", []) if isinstance(obj, dict) else []:
            delta = choice.get("delta") if isinstance(choice, dict) else None
            if not isinstance(delta, dict):
                continue
            index = int(choice.get("index", 0))
            for f in self.FIELDS:
                if isinstance(delta.get(f), str):
                    delta[f] = self._restorer(index, f).feed(delta[f])
            if choice.get("finish_reason") is not None:
                for f in self.FIELDS:
                    tail = self._restorer(index, f).flush()
                    if tail:
                        delta[f] = (delta.get(f) or "") + tail
        if isinstance(obj, dict):
            self._template = obj
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    def _flush_all(self) -> dict[tuple[int, str], str]:
        return {k: t for k, r in self.restorers.items() if (t := r.flush())}

    def _chunk(self, pending: dict[tuple[int, str], str]) -> bytes:
        """An extra SSE chunk carrying text still held back when the stream ended without a finish chunk."""
        choices: dict[int, dict[str, Any]] = {}
        for (index, f), text in pending.items():
            choices.setdefault(index, {"index": index, "delta": {}, "finish_reason": None})["delta"][f] = text
        base = self._template
        obj: dict[str, Any] = {k: base[k] for k in ("id", "object", "created", "model") if k in base}
        obj["choices"] = list(choices.values())
        return b"data: " + orjson.dumps(obj) + b"\n\n"
