"""Following a verified duplicate stored under another decision (``cache.follow``): keys and the stage's
checks, in the real pipeline with the real embedding and verifier and an in-memory backend.

The config routes "please" by keyword to ``polite``; everything else takes ``default``. So a question asked
with "please" is stored under ``polite`` and its paraphrase without it is routed to ``default``: the split a
semantic signal makes between two decisions, made deterministic.
"""

from __future__ import annotations

import copy
from typing import Any

import orjson
import pytest

from semrouter.cache.keys import partition_key, question_key
from semrouter.cache.memory import MemoryCache
from semrouter.cache.service import CacheService
from semrouter.config.schema import RouterConfig
from semrouter.context import ApiKind, RequestContext, ResponseOutcome
from semrouter.pipeline import Pipeline
from semrouter.signals.result import SignalResult
from semrouter.stages import build_pipeline
from semrouter.stages.cache import FOLLOWED_HEADER, HIT_HEADER, CacheStage, _guards_allow

ORIGINAL = "Please, what is cognitive dissonance?"  # -> polite (keyword)
PARAPHRASE = "What does cognitive dissonance mean?"  # -> default
NEAR_MISS_ORIGINAL = "Please, how do I turn on dark mode in Outlook?"
NEAR_MISS = "How do I turn off dark mode in Outlook?"

BASE: dict[str, Any] = {
    "models": [
        {"name": "m1", "endpoints": [{"url": "http://127.0.0.1:9"}]},
        {"name": "m2", "endpoints": [{"url": "http://127.0.0.1:9"}]},
    ],
    "signals": [{"name": "polite", "type": "keyword", "keywords": ["please"]}],
    "decisions": [
        {"name": "default", "models": [{"model": "m1"}], "system_prompt": {"text": "Be concise."}},
        {
            "name": "polite",
            "models": [{"model": "m2"}],
            "rules": {"signal": "polite"},
            "system_prompt": {"text": "Answer like a pirate."},
            "priority": 1,
        },
    ],
    "cache": {"enabled": True, "timeout_s": 1.0},
}


def config(edit: Any = None, **cache: Any) -> RouterConfig:
    raw = copy.deepcopy(BASE)
    raw["cache"].update(cache)
    if edit is not None:
        edit(raw)
    return RouterConfig.model_validate(raw)


def answer(text: str, model: str) -> bytes:
    choice = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
    return orjson.dumps({"id": "x", "object": "chat.completion", "created": 1, "model": model, "choices": [choice]})


async def ask(pipe: Pipeline, cfg: RouterConfig, text: str, tenant: str = "t1", **body: Any) -> RequestContext:
    """One request; if the pipeline did not answer it, a worker answers and the stage stores (awaited)."""
    raw = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": text}], **body})
    ctx = RequestContext(ApiKind.CHAT, raw, {"x-tenant-id": tenant}, cfg)
    local = await pipe.run_request(ctx)
    ctx.stage_state["_local"] = local
    if local is None:
        await pipe.run_response(ctx, ResponseOutcome(200, True, answer(f"answer to {text}", ctx.model or "")))
        await stage_of(pipe).service.drain()
    return ctx


def stage_of(pipe: Pipeline) -> CacheStage:
    return next(s for s in pipe.stages if isinstance(s, CacheStage))


def served(ctx: RequestContext) -> Any:
    local = ctx.stage_state.get("_local")
    return local if local is not None and local.headers.get(HIT_HEADER) == "true" else None


def test_question_key_leaves_out_decision_and_model_only() -> None:
    cfg = config()
    default, polite = cfg.decisions
    body: dict[str, Any] = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 50}
    q = question_key(api="chat/completions", body=body, tenant="t1")
    # a decision's partition never equals the question partition (even without a decision: explicit model)
    for decision, model in ((default, "m1"), (polite, "m2"), (None, "m1")):
        assert partition_key(api="chat/completions", body=body, model=model, decision=decision, tenant="t1") != q
    assert (
        question_key(api="chat/completions", body={**body, "messages": [{"role": "user", "content": "x"}]}, tenant="t1")
        == q
    )
    # everything client-side stays in it: tenant, user, API, earlier turns / system prompt, parameters
    others = [
        question_key(api="chat/completions", body=body, tenant="t2"),
        question_key(api="chat/completions", body={**body, "user": "u1"}, tenant="t1"),
        question_key(api="completions", body=body, tenant="t1"),
        question_key(
            api="chat/completions",
            body={**body, "messages": [{"role": "system", "content": "Be brief."}, *body["messages"]]},
            tenant="t1",
        ),
        question_key(api="chat/completions", body={**body, "max_tokens": 51}, tenant="t1"),
        question_key(api="chat/completions", body={**body, "tools": [{"type": "function"}]}, tenant="t1"),
    ]
    assert q not in others and len(set(others)) == len(others)
    # the tenant prefix comes first, as for decision partitions: invalidate-by-tenant drops both
    assert (
        q.split(":")[0]
        == partition_key(api="chat/completions", body=body, model="m1", decision=default, tenant="t1").split(":")[0]
    )
    # scope "tenant": the end user no longer separates
    assert question_key(api="chat/completions", body={**body, "user": "u1"}, tenant="t1", scope="tenant") == q


async def test_paraphrase_routed_elsewhere_adopts_the_stored_decision_and_model() -> None:
    cfg = config()
    svc = CacheService(MemoryCache(1000))
    pipe = build_pipeline(cfg, cache=svc)
    first = await ask(pipe, cfg, ORIGINAL)
    assert first.decision is not None and first.decision.name == "polite" and first.model == "m2"
    assert svc.backend.stats()["entries"] == 2  # its decision's partition and its question's
    para = await ask(pipe, cfg, PARAPHRASE)
    local = served(para)
    assert local is not None, para.obs
    assert orjson.loads(local.body)["choices"][0]["message"]["content"] == f"answer to {ORIGINAL}"
    assert local.headers[FOLLOWED_HEADER] == "default"
    assert para.decision is not None and para.decision.name == "polite" and para.model == "m2"
    assert para.routing_headers()["x-vsr-selected-decision"] == "polite"
    assert para.obs["cache_followed_from"] == "default"
    assert (svc.hits, svc.follows, svc.misses, svc.near_misses) == (1, 1, 1, 0)
    # another tenant: nothing to follow
    assert served(await ask(pipe, cfg, PARAPHRASE, tenant="t2")) is None


async def test_flipped_operation_stored_under_another_decision_is_refused() -> None:
    cfg = config()
    svc = CacheService(MemoryCache(1000))
    pipe = build_pipeline(cfg, cache=svc)
    await ask(pipe, cfg, NEAR_MISS_ORIGINAL)
    ctx = await ask(pipe, cfg, NEAR_MISS)
    assert served(ctx) is None and ctx.decision is not None and ctx.decision.name == "default"
    assert ctx.obs["cache_refused_by"] == "verifier"
    # one request, one lookup result: a near miss (counted once), not a follow
    assert (svc.hits, svc.follows, svc.near_misses, svc.verifier_rejections) == (0, 0, 1, 1)


async def test_switch_off_keeps_lookups_within_the_decision() -> None:
    cfg = config(follow={"enabled": False})
    svc = CacheService(MemoryCache(1000))
    pipe = build_pipeline(cfg, cache=svc)
    await ask(pipe, cfg, ORIGINAL)
    assert svc.backend.stats()["entries"] == 1  # no question entry
    ctx = await ask(pipe, cfg, PARAPHRASE)
    assert served(ctx) is None and ctx.decision is not None and ctx.decision.name == "default"
    assert svc.follows == 0


async def test_an_explicit_rule_wins_over_the_cache_unless_configured() -> None:
    """Stored under ``default``; the paraphrase says "please", so the keyword rule chose ``polite``."""
    for explicit, followed in ((False, False), (True, True)):
        cfg = config(follow={"explicit_rules": explicit})
        svc = CacheService(MemoryCache(1000))
        pipe = build_pipeline(cfg, cache=svc)
        await ask(pipe, cfg, PARAPHRASE)
        ctx = await ask(pipe, cfg, ORIGINAL)
        assert (served(ctx) is not None) is followed, (explicit, ctx.obs)
        assert ctx.decision is not None and ctx.decision.name == ("default" if followed else "polite")


async def test_a_reload_that_changes_gates_or_removes_the_stored_decision_ends_following() -> None:
    """The adopted decision must exist in the current config with the settings the answer was made under."""
    svc = CacheService(MemoryCache(1000))
    cfg = config()
    await ask(build_pipeline(cfg, cache=svc), cfg, ORIGINAL)

    def reprompt(raw: dict[str, Any]) -> None:
        raw["decisions"][1]["system_prompt"] = {"text": "Answer like a poet."}

    def drop_model(raw: dict[str, Any]) -> None:
        raw["decisions"][1]["models"] = [{"model": "m1"}]

    def disable(raw: dict[str, Any]) -> None:
        raw["decisions"][1]["cache"] = {"enabled": False}

    def gate(raw: dict[str, Any]) -> None:  # polite may now also be chosen by a header: a gate on who asks
        raw["signals"].append({"name": "vip", "type": "header", "header": "x-vip", "equals": "1"})
        raw["decisions"][1]["rules"] = {"any": [{"signal": "polite"}, {"signal": "vip"}]}

    def remove(raw: dict[str, Any]) -> None:
        del raw["decisions"][1]
        raw["signals"] = []

    edits = [(reprompt, "changed"), (drop_model, "model_gone"), (disable, "disabled"), (gate, "gated")]
    for edit, why in [*edits, (remove, "decision_gone"), (None, None)]:
        new = config(edit)
        raw = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": PARAPHRASE}]})
        ctx = RequestContext(ApiKind.CHAT, raw, {"x-tenant-id": "t1"}, new)
        local = await build_pipeline(new, cache=svc).run_request(ctx)  # never answered: nothing new is stored
        assert ctx.obs.get("cache_follow_refused") == why, why
        assert (local is not None) is (why is None)  # the unchanged config still follows
    assert svc.follows == 1


@pytest.mark.parametrize(
    ("policy", "allowed"),
    [
        (None, True),
        ({"threshold": 0.5}, False),
        ({"threshold": 0.7}, True),
        ({"enabled": False, "threshold": 0.5}, True),
    ],
)
def test_guards_are_rechecked_with_the_adopted_decisions_thresholds(policy: Any, allowed: bool) -> None:
    """The request passed its own route's jailbreak threshold (0.9, not hit at 0.6); the adopted decision's
    stricter threshold would have flagged it, so it is not followed."""

    def edit(raw: dict[str, Any]) -> None:
        if policy is not None:
            raw["decisions"][1]["jailbreak"] = policy

    cfg = config(edit)
    ctx = RequestContext(ApiKind.CHAT, b"{}", {}, cfg)
    ctx.decision, ctx.model = cfg.decisions[0], "m1"
    ctx.signals["jailbreak"] = SignalResult(False, 0.6, "injection", detail={"threshold": 0.9, "route_hit": False})
    assert _guards_allow(ctx, cfg.decisions[1], "m2") is allowed
    assert ctx.decision.name == "default" and ctx.model == "m1"  # the re-check leaves the request as it was


async def test_the_question_copy_serves_the_own_partition_when_its_entry_went_first() -> None:
    """A one-entry cache keeps only the question copy (stored second); the same question still hits, as an
    ordinary hit of its own decision (no follow)."""
    cfg = config()
    svc = CacheService(MemoryCache(1))
    pipe = build_pipeline(cfg, cache=svc)
    await ask(pipe, cfg, PARAPHRASE)
    assert svc.backend.stats()["entries"] == 1 and svc.backend.stats()["evictions"] == 1
    ctx = await ask(pipe, cfg, "what does cognitive dissonance mean")
    local = served(ctx)
    assert local is not None and FOLLOWED_HEADER not in local.headers
    assert ctx.decision is not None and ctx.decision.name == "default" and "cache_followed_from" not in ctx.obs
    assert (svc.hits, svc.follows) == (1, 0)


def test_decisions_chosen_on_a_guard_verdict_are_neither_left_nor_adopted() -> None:
    """A decision for flagged requests (a rule on the ``jailbreak`` verdict) keeps its requests, and a request
    that was not flagged never gets its answers."""

    def edit(raw: dict[str, Any]) -> None:
        raw["guards"] = {"jailbreak": {"enabled": True, "action": "flag"}}
        raw["decisions"][1]["rules"] = {"signal": "jailbreak"}

    cfg = config(edit)
    stage = CacheStage(cfg, CacheService(MemoryCache(10)))
    flagged = cfg.decisions[1]
    assert not stage._adoptable_target(flagged) and stage._adoptable_target(cfg.decisions[0])
    ctx = RequestContext(ApiKind.CHAT, b"{}", {}, cfg)
    ctx.decision = flagged
    ctx.signals["jailbreak"] = SignalResult(True, 0.99, "injection")
    assert not stage._may_leave(ctx)
    ctx.decision = cfg.decisions[0]
    assert stage._may_leave(ctx)
