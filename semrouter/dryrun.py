"""Dry-run routing: what the router would decide for a request, without calling any worker.

Used by ``semrouter route`` (JSONL in, JSONL out, for offline evaluation) and ``POST /api/v1/route``
(one request). Both run the real pipeline on a chat request for the virtual model, so the answer is
exactly what a live request would get; only the upstream call is left out. The output format is
consumed by our evaluation, so keys are fixed and always present (null when not applicable).
"""

from __future__ import annotations

import asyncio
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import orjson

from semrouter import cpu
from semrouter.config.loader import DEFAULT_CONFIG
from semrouter.config.schema import RouterConfig
from semrouter.context import ApiKind, LocalResponse, RequestContext
from semrouter.errors import RouterError, invalid_request
from semrouter.lang import Language
from semrouter.pipeline import Pipeline
from semrouter.signals.result import SignalResult
from semrouter.stages.cache import DRY_RUN
from semrouter.stages.parse import decode_body, validate_body

log = logging.getLogger("semrouter.dryrun")

# request fields an input item may carry besides text/messages, so tool and metadata signals can be tried
_PASSTHROUGH = ("tools", "tool_choice", "user", "metadata")


def request_body(config: RouterConfig, item: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The chat request and headers an input item stands for; RouterError 400 if it is malformed."""
    if not isinstance(item, dict):
        raise invalid_request("Each item must be a JSON object with 'text' or 'messages'", code="invalid_body")
    text, messages = item.get("text"), item.get("messages")
    if messages is None:
        if not isinstance(text, str):
            raise invalid_request("Provide 'text' (a string) or 'messages' (an array)", param="text")
        messages = [{"role": "user", "content": text}]
    model = "auto" if "auto" in config.routing.virtual_models else config.routing.virtual_models[0]
    body: dict[str, Any] = {"model": model, "messages": messages}
    body.update({k: item[k] for k in _PASSTHROUGH if k in item})
    validate_body(ApiKind.CHAT, body)  # malformed messages are the caller's error, not a routing block
    headers = item.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise invalid_request("'headers' must be an object of string values", param="headers")
    return body, {str(k).lower(): v for k, v in headers.items()}


def _result_of_type(ctx: RequestContext, kind: str, fallback_name: str | None = None) -> SignalResult | None:
    """The result of the first configured signal of type ``kind``, else of one named ``fallback_name``.

    Guards (jailbreak, PII, harmful) are not configured signals but record their verdicts as signals of that
    name (``semrouter.stages.guard``); the name fallback finds them.
    """
    names = [s.name for s in ctx.config.signals if s.type == kind] or ([fallback_name] if fallback_name else [])
    return next((ctx.signals[n] for n in names if n in ctx.signals), None)


def _local_code(local: LocalResponse) -> str:
    try:
        err = orjson.loads(local.body)["error"]
        return str(err.get("code") or err.get("type"))
    except Exception:
        return f"http_{local.status}"


def describe(
    ctx: RequestContext, blocked: bool, block_reason: str | None, latency_ms: float, language: Language | None = None
) -> dict[str, Any]:
    """The ``route`` object of the dry-run format."""
    domain = _result_of_type(ctx, "domain")
    jb = _result_of_type(ctx, "jailbreak", "jailbreak")
    pii = _result_of_type(ctx, "pii", "pii")
    harm = _result_of_type(ctx, "harmful", "harmful")
    entities = pii.detail.get("entities", []) if pii is not None else []
    return {
        "decision": ctx.decision.name if ctx.decision is not None else None,
        "category": ctx.category,
        "category_confidence": round(domain.confidence, 4) if domain is not None else None,
        "language": language.to_dict() if language is not None else None,
        "model": ctx.model,
        "reasoning": ctx.reasoning,
        "reasoning_effort": ctx.reasoning_effort,
        "system_prompt_injected": ctx.system_prompt_injected,
        "tools": ctx.tools_selected,
        "signals": {name: r.to_dict() for name, r in ctx.signals.items()},
        # the decision's own threshold and switch when the policy stage ran, else the detector's
        "jailbreak": {
            "detected": bool(jb.detail.get("route_hit", jb.matched)),
            "score": round(jb.confidence, 4),
            "type": jb.value,
        }
        if jb is not None
        else {"detected": False, "score": None, "type": None},
        # harmful-request guard: the route's verdict when the policy stage ran; category only when detected
        "safety": {
            "detected": bool(harm.detail.get("route_hit", harm.matched)),
            "category": harm.value if harm.detail.get("route_hit", harm.matched) else None,
            "score": round(harm.confidence, 4),
        }
        if harm is not None
        else {"detected": False, "category": None, "score": None},
        "pii": {
            "detected": bool(pii.matched) if pii is not None else False,
            "entities": [{k: e.get(k) for k in ("type", "start", "end")} for e in entities if isinstance(e, dict)],
        },
        "blocked": blocked,
        "block_reason": block_reason,
        "latency_ms": round(latency_ms, 3),
    }


async def route_request(config: RouterConfig, pipeline: Pipeline, item: Any) -> dict[str, Any]:
    """Route one input item; RouterError 400 when the item itself is malformed.

    A request the pipeline refuses (RouterError, or a local answer with status >= 400, e.g. a guard
    block) is reported as ``blocked`` with the error code as the reason, not raised.
    """
    body, headers = request_body(config, item)
    ctx = RequestContext(ApiKind.CHAT, orjson.dumps(body), headers, config)
    ctx.cache_bypass = DRY_RUN  # the cache stage reports its lookup (signal "cache_lookup"), never answers or stores
    t0 = time.perf_counter()
    blocked, reason = False, None
    try:
        local = await pipeline.run_request(ctx)
    except RouterError as err:
        blocked, reason = True, err.code or err.type
    else:
        if local is not None and local.status >= 400:
            blocked, reason = True, _local_code(local)
    latency_ms = (time.perf_counter() - t0) * 1e3
    try:  # shared with a language signal if the config has one; a dry run always reports it
        language: Language | None = await ctx.language()
    except Exception:
        log.exception("language detection failed")
        language = None
    return describe(ctx, blocked, reason, latency_ms, language)


async def route_api(config: RouterConfig, pipeline: Pipeline, raw: bytes) -> dict[str, Any]:
    """``POST /api/v1/route``: the body is one item (``text`` or ``messages``, optional ``headers``)."""
    item = await cpu.run(len(raw), decode_body, raw, config.server.max_json_depth)
    return await route_request(config, pipeline, item)


@contextmanager
def _open(path: str, mode: str) -> Iterator[IO[bytes]]:
    if path == "-":
        yield sys.stdin.buffer if "r" in mode else sys.stdout.buffer
        return
    with open(path, mode) as f:
        yield f


def _progress(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    try:
        from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]
    except ImportError:  # tqdm is an extra; routing works without a bar
        return None
    return tqdm(total=total, desc="routing", unit="req", file=sys.stderr)


async def route_file(config: RouterConfig, input_path: str, output_path: str, *, progress: bool = True) -> int:
    """Route every line of a JSONL file; returns how many lines could not be routed.

    Output lines keep input order: the input object plus ``route``. A line that is not valid JSON or
    lacks text/messages becomes ``{..., "error": {...}}`` instead, so one bad line never loses a run.
    """
    from semrouter.stages import build_pipeline

    pipeline = build_pipeline(config)
    with _open(input_path, "rb") as f:
        lines = [ln for ln in f.read().splitlines() if ln.strip()]
    # one throwaway request first: model loading and first-call costs must not show in latency_ms
    await route_request(config, pipeline, {"text": "warm-up"})
    bar = _progress(len(lines), progress)
    failed = 0
    try:
        with _open(output_path, "wb") as out:
            for n, line in enumerate(lines, 1):
                item: Any = None
                try:
                    item = orjson.loads(line)
                    record = {**item, "route": await route_request(config, pipeline, item)}
                except (orjson.JSONDecodeError, RouterError) as exc:
                    failed += 1
                    err = exc.to_dict()["error"] if isinstance(exc, RouterError) else {"message": str(exc)}
                    base = item if isinstance(item, dict) else {"line": n}
                    record = {**base, "error": err}
                out.write(orjson.dumps(record) + b"\n")
                if bar is not None:
                    bar.update(1)
    finally:
        if bar is not None:
            bar.close()
    return failed


def run_cli(config_path: str | None, input_path: str, output_path: str, *, progress: bool = True) -> int:
    """``semrouter route``: exit status 0 when every line was routed, 1 otherwise."""
    from semrouter.config.loader import load_config

    config = load_config(config_path or DEFAULT_CONFIG)
    failed = asyncio.run(route_file(config, input_path, output_path, progress=progress))
    if failed:
        print(f"{failed} line(s) could not be routed; see their 'error' field", file=sys.stderr)
    return 1 if failed else 0
