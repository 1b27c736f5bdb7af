"""``semrouter eval cache``: does the semantic cache hit on paraphrases and stay away from near misses?

Input lines ``{"kind": "paraphrase" | "near_miss", "original", "variants": [...]}``, optionally with
``family`` (the kind of near miss: operation, role, number_relation, ...) and ``source`` (the shared
``paraphrase_cases.json`` shape, ``{"original_question", "similar_questions"}``, is read as paraphrases). A
paraphrase variant should be answered from the cache; a near miss ("17 * 23" vs "17 * 24", France vs
Germany) must not be, since serving it would be a wrong answer.

How it is measured: the real pipeline with the real cache stage and an in-memory backend. For each case the
original goes through the pipeline, a made-up answer goes back through ``on_response`` (so the stage stores
it exactly as it would a worker's answer), then each variant goes through the pipeline; a variant *hit* when
the cache stage answered it. Each case runs under its own tenant, so cases never see each other's entries
and every variant is compared with its own original only. Variants are never stored.

Why a miss happened is reported too (``reason``): ``below_threshold`` (similarity under the lookup's floor),
``verifier`` (a candidate the verifier judged another question), ``lexical_guard`` (with the verifier off: similar
enough, but the near-miss matcher rejected it: other number, entity, negation...), ``other_partition``
(routed to another decision or model, which the cache keeps apart, and no verified duplicate could be
followed there), ``bypassed`` (the request was not
cacheable, e.g. PII) or ``not_stored``. A hit is ``hit`` (its own partition) or ``followed`` (a verified
duplicate stored under another decision, adopted with ``cache.follow``: ``decision`` is then the adopted one
and ``routed_decision`` the one routing chose). Every variant's cosine similarity to its original is kept, which
gives the threshold sweep: hit and false-hit rates had the threshold been t (same partition and lexical
guard applied), so the configured operating point can be judged against its neighbours. With the verifier on,
every variant's verifier score against its original is kept too, which gives the verifier's sweep (same
partition and the similarity floor applied). False hits are broken down per ``family`` and rates per
``source``: an overall rate can hide one family the cache keeps getting wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from typing import Any

import orjson

from semrouter.eval.common import (
    EvalError,
    Row,
    command_line,
    emit,
    header_markdown,
    load_eval_config,
    load_rows,
    progress,
)
from semrouter.eval.report import Report, bar_plot, fmt, line_plot

KINDS = ("paraphrase", "near_miss")
SWEEP = [round(0.5 + 0.01 * i, 2) for i in range(51)]  # thresholds 0.50 .. 1.00
VERIFIER_SWEEP = [round(0.02 * i, 2) for i in range(1, 50)]  # verifier thresholds 0.02 .. 0.98


def _labels(row: Row) -> tuple[str, str]:
    """``(family, source)`` of a row: ``family`` only means something for near misses."""
    family, source = row.data.get("family"), row.data.get("source")
    return (str(family) if family else "unlabelled"), (str(source) if source else "unlabelled")


def _case(data: str, row: Row) -> tuple[str, str, list[str]]:
    d = row.data
    kind: Any
    if "original_question" in d:  # paraphrase_cases.json
        kind, original, variants = "paraphrase", d["original_question"], d.get("similar_questions")
    else:
        kind, original, variants = d.get("kind"), d.get("original"), d.get("variants")
    if kind not in KINDS:
        raise EvalError(f"{data}:{row.line}: 'kind' must be 'paraphrase' or 'near_miss', not {kind!r}")
    if not isinstance(original, str) or not original.strip():
        raise EvalError(f"{data}:{row.line}: 'original' must be a non-empty string")
    if not isinstance(variants, list) or not variants or not all(isinstance(v, str) for v in variants):
        raise EvalError(f"{data}:{row.line}: 'variants' must be a non-empty list of strings")
    return kind, original, variants


def _answer(model: str | None, i: int) -> bytes:
    """A worker answer the cache stage will accept and keep (finish_reason stop, non-empty content)."""
    return orjson.dumps(
        {
            "id": f"chatcmpl-eval-{i}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model or "eval",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": f"answer {i}"}, "finish_reason": "stop"}
            ],
            "usage": {"prompt_tokens": 8, "completion_tokens": 2, "total_tokens": 10},
        }
    )


async def evaluate(
    config_path: str | None,
    data: str,
    *,
    threshold: float | None = None,
    limit: int | None = None,
    progress_bar: bool = True,
) -> dict[str, Any]:
    import numpy as np

    from semrouter.cache.match import compatible, normalize
    from semrouter.cache.service import CacheService
    from semrouter.cache.verify import PairVerifier
    from semrouter.config.loader import DEFAULT_CONFIG, load_config
    from semrouter.context import ApiKind, RequestContext, ResponseOutcome
    from semrouter.errors import RouterError
    from semrouter.stages import build_pipeline
    from semrouter.stages.cache import FOLLOWED_HEADER, HIT_HEADER, CacheStage

    force: dict[str, Any] = {}
    if load_config(config_path or DEFAULT_CONFIG).cache.backend != "memory":
        force["cache.backend"] = "memory"  # never write evaluation entries into a shared cache
    if threshold is not None:
        force["cache.threshold"] = threshold
    config, source, notes = load_eval_config(config_path, {"cache": {"enabled": True}}, force)
    rows = load_rows(data, limit)
    cases = [_case(data, r) for r in rows]
    service = CacheService.from_config(config.cache)
    pipeline = build_pipeline(config, cache=service)
    stage = next(s for s in pipeline.stages if isinstance(s, CacheStage))
    model = "auto" if "auto" in config.routing.virtual_models else config.routing.virtual_models[0]
    tenant_header = config.cache.tenant_header.lower()
    verifier: PairVerifier | None = stage.verifier

    def context(text: str, tenant: str) -> RequestContext:
        body = {"model": model, "messages": [{"role": "user", "content": text}]}
        return RequestContext(ApiKind.CHAT, orjson.dumps(body), {tenant_header: tenant}, config)

    async def settled(before: int) -> None:
        """Wait for the background store (the stage stores after the answer went out)."""
        for _ in range(400):
            if service.stores + sum(service.store_skips.values()) + service.faults["store"] > before:
                return
            await asyncio.sleep(0.005)

    await pipeline.run_request(context("warm-up", "semrouter-eval-warmup"))  # model loading out of the way
    results: list[dict[str, Any]] = []
    total = sum(len(v) for _, _, v in cases)
    with progress(total, "cache", progress_bar) as bar:
        for i, (kind, original, variants) in enumerate(cases):
            tenant = f"semrouter-eval-{i}"
            octx = context(original, tenant)
            stored = False
            try:
                local = await pipeline.run_request(octx)
            except RouterError:
                local = None
                notes.append(f"line {rows[i].line}: the original was refused by the pipeline; its variants cannot hit")
            else:
                if local is None:
                    stores = service.stores
                    before = stores + sum(service.store_skips.values()) + service.faults["store"]
                    await pipeline.run_response(octx, ResponseOutcome(200, True, _answer(octx.model, i)))
                    await settled(before)
                    stored = service.stores > stores
            ovec = await octx.embedding()
            for variant in variants:
                vctx = context(variant, tenant)
                hit, blocked, followed = False, False, None
                try:
                    vlocal = await pipeline.run_request(vctx)
                except RouterError:
                    vlocal, blocked = None, True
                if vlocal is not None and vlocal.headers.get(HIT_HEADER) == "true":
                    hit = True
                    followed = vlocal.headers.get(FOLLOWED_HEADER)
                else:
                    await pipeline.run_response(vctx, ResponseOutcome(499, False, None, "evaluation: not stored"))
                similarity = float(np.dot(ovec, await vctx.embedding()))
                same_partition = _same_partition(stage, octx, vctx)
                reachable = same_partition or followed is not None or _followable(stage, octx, vctx)
                lexical_ok = compatible(variant, normalize(original))
                policy_threshold = stage.floor(stage.policy(vctx))
                score = verifier.score(variant, normalize(original), similarity) if verifier is not None else None
                if hit:
                    reason = "followed" if followed is not None else "hit"
                elif not stored:
                    reason = "not_stored"
                elif blocked or vctx.cache_bypass is not None:
                    reason = "bypassed"
                elif not reachable:
                    reason = "other_partition"
                elif similarity < policy_threshold:
                    reason = "below_threshold"
                elif score is not None and score < stage.verify_threshold:
                    reason = "verifier"
                elif score is None and not lexical_ok:
                    reason = "lexical_guard"
                else:
                    reason = "miss"
                family, source = _labels(rows[i])
                results.append(
                    {
                        "case": i,
                        "line": rows[i].line,
                        "kind": kind,
                        "original": original,
                        "variant": variant,
                        "hit": hit,
                        "reason": reason,
                        "similarity": round(similarity, 4),
                        "threshold": policy_threshold,
                        "lexical_ok": lexical_ok,
                        "verifier": round(score, 4) if score is not None else None,
                        "family": family if kind == "near_miss" else None,
                        "source": source,
                        "same_partition": same_partition,
                        "reachable": reachable,
                        "follow_refused": vctx.obs.get("cache_follow_refused"),
                        "decision": vctx.decision.name if vctx.decision is not None else None,
                        "routed_decision": followed if followed is not None else None,
                    }
                )
                bar.update(1)
    await service.aclose(drain_s=0)
    metrics = _metrics(results, cases, config.cache.threshold, source, data, notes)
    metrics["verifier"] = (
        {
            "model": config.cache.verifier.model,
            "threshold": stage.verify_threshold,
            "min_similarity": config.cache.verifier.min_similarity,
        }
        if verifier is not None
        else None
    )
    metrics["cross_decision"] = config.cache.cross_decision
    metrics["follow"] = config.cache.follow.enabled
    return metrics


def _same_partition(stage: Any, octx: Any, vctx: Any) -> bool:
    """Would the variant's lookup search the original's partition? Same model, and the same decision (by
    name, or by effect when ``cache.cross_decision`` keys decisions by what they do to the request). A variant
    that followed the original's entry was routed elsewhere: it adopted the original's decision, so this
    compares the decision routing chose (the question partition is where it found the entry)."""
    from semrouter.cache.keys import decision_effect

    if vctx.obs.get("cache_followed_from") is not None:
        return False
    if vctx.decision is None or octx.decision is None or vctx.model != octx.model:
        return False
    if stage.cfg.cross_decision:
        return bool(decision_effect(vctx.decision) == decision_effect(octx.decision))
    return bool(vctx.decision.name == octx.decision.name)


def _followable(stage: Any, octx: Any, vctx: Any) -> bool:
    """Could the variant, routed elsewhere, follow the original's entry (``cache.follow``)? The stage's own
    checks, on the origin the original's entry would carry."""
    from semrouter.cache.base import CachedAnswer, CacheHit
    from semrouter.cache.keys import partition_key

    if octx.decision is None or octx.model is None or not stage._follows(vctx):
        return False
    if not stage._may_leave(vctx) or not stage._adoptable_target(octx.decision):
        return False

    def key(ctx: Any) -> str:  # as the stage keyed it: the body as the client sent it (before enrichment)
        return partition_key(
            api=ctx.api.value,
            body=orjson.loads(ctx.raw_body),
            model=ctx.model,
            decision=ctx.decision,
            tenant=ctx.tenant,
            scope=stage.cfg.scope,
            by_effect=stage.cfg.cross_decision,
        )

    origin = {"decision": octx.decision.name, "model": octx.model, "partition": key(octx)}
    probe = CacheHit(0, 1.0, CachedAnswer(None, "", 0.0, origin=origin))
    own = key(vctx)
    vctx.body = orjson.loads(vctx.raw_body)  # the variant is done: let the stage see it as the client sent it
    return stage._origin(vctx, probe, own) is not None


def _rates(rs: list[dict[str, Any]]) -> dict[str, Any]:
    hits = sum(r["hit"] for r in rs)
    return {"variants": len(rs), "hits": hits, "rate": hits / len(rs) if rs else None}


def _metrics(
    results: list[dict[str, Any]],
    cases: list[tuple[str, str, list[str]]],
    threshold: float,
    source: str,
    data: str,
    notes: list[str],
) -> dict[str, Any]:
    by_kind: dict[str, dict[str, Any]] = {}
    for kind in KINDS:
        rs = [r for r in results if r["kind"] == kind]
        hits = sum(r["hit"] for r in rs)
        by_kind[kind] = {
            "variants": len(rs),
            "hits": hits,
            "rate": hits / len(rs) if rs else None,
            "outcomes": dict(Counter(r["reason"] for r in rs)),
            "similarity": {
                "min": min((r["similarity"] for r in rs), default=None),
                "max": max((r["similarity"] for r in rs), default=None),
            },
        }
    sweep: dict[str, list[float]] = {"threshold": [], "hit_rate": [], "false_hit_rate": []}
    for t in SWEEP:
        rates = []
        for kind in KINDS:
            rs = [r for r in results if r["kind"] == kind]
            ok = sum(
                1 for r in rs if r.get("reachable", r["same_partition"]) and r["lexical_ok"] and r["similarity"] >= t
            )
            rates.append(ok / len(rs) if rs else 0.0)
        sweep["threshold"].append(t)
        sweep["hit_rate"].append(rates[0])
        sweep["false_hit_rate"].append(rates[1])
    vsweep: dict[str, list[float]] = {"threshold": [], "hit_rate": [], "false_hit_rate": []}
    if any(r.get("verifier") is not None for r in results):
        for t in VERIFIER_SWEEP:
            rates = []
            for kind in KINDS:
                rs = [r for r in results if r["kind"] == kind]
                ok = sum(
                    1
                    for r in rs
                    if r.get("reachable", r["same_partition"])
                    and r["similarity"] >= r["threshold"]
                    and (r["verifier"] or 0.0) >= t
                )
                rates.append(ok / len(rs) if rs else 0.0)
            vsweep["threshold"].append(t)
            vsweep["hit_rate"].append(rates[0])
            vsweep["false_hit_rate"].append(rates[1])
    near = [r for r in results if r["kind"] == "near_miss"]
    families = {f: _rates([r for r in near if r["family"] == f]) for f in sorted({r["family"] for r in near})}
    sources = {
        src: {
            "hit_rate": _rates([r for r in results if r["source"] == src and r["kind"] == "paraphrase"])["rate"],
            "false_hit_rate": _rates([r for r in near if r["source"] == src])["rate"],
        }
        for src in sorted({r["source"] for r in results})
    }
    same = [r for r in results if r["same_partition"]]
    same_rates = {kind: _rates([r for r in same if r["kind"] == kind])["rate"] for kind in KINDS}
    return {
        "command": "cache",
        "command_line": command_line(),
        "data": str(data),
        "config": source,
        "notes": notes,
        "n": len(cases),
        "threshold": threshold,
        "hit_rate": by_kind["paraphrase"]["rate"],
        "false_hit_rate": by_kind["near_miss"]["rate"],
        "paraphrase": by_kind["paraphrase"],
        "near_miss": by_kind["near_miss"],
        "same_partition": {"hit_rate": same_rates["paraphrase"], "false_hit_rate": same_rates["near_miss"]},
        "families": families,
        "sources": sources,
        "sweep": sweep,
        "verifier_sweep": vsweep,
        "variants": results,
    }


def summary(m: dict[str, Any]) -> str:
    p, nm = m["paraphrase"], m["near_miss"]
    return "\n".join(
        [
            f"cache: {m['n']} cases, threshold {m['threshold']}",
            f"hit rate {fmt(m['hit_rate'], 4)} ({p['hits']}/{p['variants']} paraphrases)  outcomes {p['outcomes']}",
            f"false-hit rate {fmt(m['false_hit_rate'], 4)} ({nm['hits']}/{nm['variants']} near misses)  "
            f"outcomes {nm['outcomes']}",
            f"same partition only: hit rate {fmt(m['same_partition']['hit_rate'], 4)}, "
            f"false-hit rate {fmt(m['same_partition']['false_hit_rate'], 4)}",
            "false hits per family: "
            + ", ".join(f"{f} {v['hits']}/{v['variants']}" for f, v in m.get("families", {}).items()),
        ]
    )


def render(report: Report, m: dict[str, Any]) -> None:
    p, nm = m["paraphrase"], m["near_miss"]
    report.text(header_markdown(m))
    report.text(
        f"Threshold {m['threshold']} (global; per-decision and per-category policies apply where configured). "
        f"**Hit rate {fmt(m['hit_rate'], 4)}** ({p['hits']}/{p['variants']} paraphrases), "
        f"**false-hit rate {fmt(m['false_hit_rate'], 4)}** ({nm['hits']}/{nm['variants']} near misses)."
    )
    report.figure(
        "hit_rates",
        bar_plot(
            ["paraphrase → hit", "near miss → false hit"],
            {"rate": [m["hit_rate"] or 0.0, m["false_hit_rate"] or 0.0]},
            "Cache hit and false-hit rates",
            "share of variants",
            (0, 1.1),
        ),
        "hit and false-hit rates",
    )
    report.text("## Why variants missed or hit")
    reasons = sorted(set(p["outcomes"]) | set(nm["outcomes"]))
    report.table(
        ["outcome", "paraphrase", "near miss"],
        [[r, p["outcomes"].get(r, 0), nm["outcomes"].get(r, 0)] for r in reasons],
    )
    sw = m["sweep"]
    report.figure(
        "threshold_sweep",
        line_plot(
            sw["threshold"],
            {"hit rate (paraphrases)": sw["hit_rate"], "false-hit rate (near misses)": sw["false_hit_rate"]},
            "Had the threshold been t (partitions and lexical guard applied)",
            "similarity threshold",
            "share of variants served from cache",
            (f"configured {m['threshold']}", m["threshold"]),
        ),
        "threshold sweep",
    )
    report.text("## False hits per near-miss family")
    report.table(
        ["family", "near misses", "false hits", "false-hit rate"],
        [[f, v["variants"], v["hits"], fmt(v["rate"], 4)] for f, v in m.get("families", {}).items()],
    )
    report.text("## Per source")
    report.table(
        ["source", "hit rate", "false-hit rate"],
        [[s, fmt(v["hit_rate"], 4), fmt(v["false_hit_rate"], 4)] for s, v in m.get("sources", {}).items()],
    )
    vs = m.get("verifier_sweep") or {}
    if vs.get("threshold"):
        ver = m.get("verifier") or {}
        report.figure(
            "verifier_sweep",
            line_plot(
                vs["threshold"],
                {"hit rate (paraphrases)": vs["hit_rate"], "false-hit rate (near misses)": vs["false_hit_rate"]},
                "Had the verifier threshold been t (partitions and similarity floor applied)",
                "verifier threshold (P same question)",
                "share of variants served from cache",
                (f"configured {ver.get('threshold', 0):.2f}", float(ver.get("threshold", 0))),
            ),
            "verifier threshold sweep",
        )
    report.text("## Variants")
    report.table(
        ["kind", "original", "variant", "similarity", "outcome"],
        [[r["kind"], r["original"][:60], r["variant"][:60], r["similarity"], r["reason"]] for r in m["variants"][:200]],
    )


def run(args: argparse.Namespace) -> int:
    metrics = asyncio.run(
        evaluate(args.config, args.data, threshold=args.threshold, limit=args.limit, progress_bar=not args.no_progress)
    )
    return emit(args, metrics, summary, render, "Semantic cache evaluation")
