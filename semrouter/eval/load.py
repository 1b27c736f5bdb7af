"""``semrouter bench load``: the same load against one or more OpenAI-compatible targets, compared.

Typical use: a worker directly, semrouter in front of it (passthrough and ``auto``), Envoy, vllm-router, in
one run, with ratios to the first target::

    semrouter bench load --concurrency 32 --duration 10 \\
        --target direct=http://127.0.0.1:8000#qwen3-8b \\
        --target passthrough=http://127.0.0.1:8801#qwen3-8b \\
        --target auto=http://127.0.0.1:8801#auto

Design choices, and why:

* **The HTTP client is semrouter's own upstream client** (:mod:`semrouter.upstream.client`: one asyncio
  protocol per keep-alive connection, llhttp parsing) on uvloop, because the generator must cost far less
  per request than what it measures; aiohttp's client costs ~2x more CPU per request. The generator's own
  CPU time is reported with every result (``client.cpu_utilisation``); near one core it says the
  generator, not the target, may be the limit.
* **Closed loop** (``--concurrency N``: N requests always in flight) measures capacity; **open loop**
  (``--rate R``: starts at fixed or Poisson times whatever the answers do) measures latency at a given
  load. In open loop the latency of a request counts from its *scheduled* start, so a generator or target
  that falls behind shows as latency instead of silently lowering the rate (coordinated omission);
  ``client.start_lag_ms`` says how late requests actually started.
* **TTFT** (streams) is the time to the first SSE event that carries content (or reasoning) text, not to
  the first byte: semrouter and vLLM both send a role-only event first.
* **Per-stage breakdown**: when a target serves Prometheus ``/metrics``, histograms with a ``stage`` label
  are scraped before and after the run and their differences reported (mean and estimated p50/p99 per
  stage). A target without ``/metrics`` is simply reported without one.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import re
import resource
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from semrouter.eval.common import EvalError
from semrouter.eval.metrics import latency_summary

DEFAULT_PROMPTS = [
    "What is the capital of France?",
    "Explain the difference between a process and a thread.",
    "Write a haiku about autumn leaves.",
    "What is the derivative of x^3 + 2x?",
    "Summarise the causes of the First World War in two sentences.",
    "How do vaccines train the immune system?",
    "Give me three tips for a job interview.",
    "What does the Pauli exclusion principle say?",
    "Translate 'good morning' into Spanish and German.",
    "What is the time complexity of binary search?",
    "Why is the sky blue?",
    "Recommend a good science fiction novel.",
    "What is opportunity cost in economics?",
    "How does a hash table handle collisions?",
    "What are the symptoms of dehydration?",
    "Explain supply and demand to a ten-year-old.",
]
CHAT_PATH = "/v1/chat/completions"


@dataclass(slots=True)
class Target:
    name: str
    url: str  # where requests go (a chat or completions URL)
    base: str  # scheme://host:port, for /metrics
    model: str | None = None  # overrides the settings' model


@dataclass(slots=True)
class LoadSettings:
    concurrency: int = 16
    rate: float | None = None
    arrival: str = "uniform"
    duration: float | None = None
    requests: int | None = None
    warmup: float = 1.0
    stream: bool = False
    model: str = "auto"
    max_tokens: int = 16
    headers: dict[str, str] = field(default_factory=dict)
    timeout: float = 60.0
    max_inflight: int = 4096
    metrics: bool = True
    prompts: list[dict[str, Any]] = field(default_factory=list)  # request bodies without model/stream


def parse_target(spec: str, index: int) -> Target:
    """``[NAME=]URL[#MODEL]``; a base URL gets ``/v1/chat/completions`` appended."""
    name, sep, rest = spec.partition("=")
    if not sep or "://" in name:  # no name given (the '=' belongs to the URL, or there is none)
        name, rest = "", spec
    url, _, model = rest.partition("#")
    return make_target(name or f"target{index + 1}", url, model or None)


def make_target(name: str, url: str, model: str | None) -> Target:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise EvalError(f"target {name}: not an http(s) URL: {url!r}")
    base = f"{parts.scheme}://{parts.netloc}"
    path = parts.path.rstrip("/")
    full = url if path and path != "/v1" else base + CHAT_PATH
    return Target(name, full, base, model)


def load_prompts(path: str) -> list[dict[str, Any]]:
    """Request bodies from JSONL: a JSON string or ``{"text"}``/``{"prompt"}`` becomes one user message;
    an object with ``messages`` (or ``prompt`` for /v1/completions targets) is used as the body itself."""
    out: list[dict[str, Any]] = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EvalError(f"{path}: cannot read: {exc.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{path}:{n}: invalid JSON: {exc.msg}") from None
        if isinstance(item, str):
            item = {"text": item}
        if not isinstance(item, dict):
            raise EvalError(f"{path}:{n}: expected a string or an object")
        if "messages" in item:
            out.append(item)
        elif isinstance(item.get("text"), str):
            out.append({"messages": [{"role": "user", "content": item["text"]}]})
        elif isinstance(item.get("prompt"), str) and "messages" not in item:
            out.append({"messages": [{"role": "user", "content": item["prompt"]}]})
        else:
            raise EvalError(f"{path}:{n}: needs 'text' or 'messages'")
    if not out:
        raise EvalError(f"{path}: no prompts")
    return out


def encode_bodies(settings: LoadSettings, target: Target) -> list[bytes]:
    """Every prompt as the bytes this target gets: encoded once, before the clock starts."""
    bodies = []
    for prompt in settings.prompts or [{"messages": [{"role": "user", "content": p}]} for p in DEFAULT_PROMPTS]:
        body = dict(prompt)
        body["model"] = target.model or body.get("model") or settings.model
        body.setdefault("max_tokens", settings.max_tokens)
        if settings.stream:
            body["stream"] = True
        else:
            body.pop("stream", None)
        bodies.append(orjson.dumps(body))
    return bodies


# ------------------------------------------------------------------------------------------ one request


@dataclass(slots=True)
class Outcome:
    error: str | None  # None: a complete 200 answer; else the status code or a failure kind
    latency_ms: float
    ttft_ms: float | None = None


def _has_text(event: bytes) -> bool:
    """Does this SSE ``data:`` payload carry generated text (content or reasoning)?"""
    try:
        obj = orjson.loads(event)
    except orjson.JSONDecodeError:
        return False
    for choice in obj.get("choices") or ():
        delta = choice.get("delta") or {}
        if delta.get("content") or delta.get("reasoning_content") or delta.get("reasoning") or choice.get("text"):
            return True
    return False


async def one_request(
    client: Any, url: str, headers: list[tuple[bytes, bytes]], body: bytes, stream: bool, timeout: float, t0: float
) -> Outcome:
    """Send one request; latency counts from ``t0`` (the ``perf_counter`` time it was due to start).

    ``perf_counter`` rather than the loop's clock: uvloop's ``loop.time()`` has millisecond resolution.
    """
    from semrouter.upstream.client import UpstreamConnectError, UpstreamError, UpstreamTimeout

    now = time.perf_counter
    try:
        resp = await client.request("POST", url, headers, body, timeout=timeout, idle_timeout=timeout)
    except UpstreamTimeout:
        return Outcome("timeout", (now() - t0) * 1e3)
    except UpstreamConnectError:
        return Outcome("connect", (now() - t0) * 1e3)
    except (UpstreamError, OSError):
        return Outcome("connection", (now() - t0) * 1e3)
    try:
        if resp.status != 200:
            await resp.read()
            return Outcome(str(resp.status), (now() - t0) * 1e3)
        if not stream:
            await resp.read()
            return Outcome(None, (now() - t0) * 1e3)
        ttft: float | None = None
        buf = b""
        done = False
        async for chunk in resp.iter_chunks():
            if ttft is not None:  # after the first token only the end matters: no per-event parsing
                buf = buf[-16:] + chunk
                done = done or b"data: [DONE]" in buf
                continue
            buf += chunk
            while ttft is None and b"\n\n" in buf:
                event, buf = buf.split(b"\n\n", 1)
                for line in event.split(b"\n"):
                    if not line.startswith(b"data:"):
                        continue
                    payload = line[5:].strip()
                    if payload == b"[DONE]":  # a stream without any text still ends properly
                        done = True
                    elif _has_text(payload):
                        ttft = (now() - t0) * 1e3
                        break
            if ttft is not None:
                done = done or b"data: [DONE]" in buf
        latency = (now() - t0) * 1e3
        return Outcome(None if done else "incomplete_stream", latency, ttft)
    except UpstreamTimeout:
        return Outcome("timeout", (now() - t0) * 1e3)
    except UpstreamError:
        return Outcome("incomplete", (now() - t0) * 1e3)
    finally:
        await resp.aclose()


# ------------------------------------------------------------------------------------------ load shapes


@dataclass(slots=True)
class Run:
    outcomes: list[Outcome]
    elapsed_s: float
    start_lag_ms: list[float]


async def run_load(
    client: Any,
    target: Target,
    bodies: list[bytes],
    settings: LoadSettings,
    *,
    duration: float | None,
    requests: int | None,
) -> Run:
    """One measured (or warm-up) period: closed loop at ``concurrency``, or open loop at ``rate``."""
    now = time.perf_counter
    headers = [(b"content-type", b"application/json")] + [
        (k.lower().encode(), v.encode()) for k, v in settings.headers.items()
    ]
    outcomes: list[Outcome] = []
    lags: list[float] = []
    start = now()
    deadline = start + duration if duration is not None else math.inf
    budget = requests if requests is not None else math.inf
    issued = 0

    async def send(i: int, due: float) -> None:
        lags.append((now() - due) * 1e3)
        outcomes.append(
            await one_request(
                client, target.url, headers, bodies[i % len(bodies)], settings.stream, settings.timeout, due
            )
        )

    if settings.rate is None:

        async def worker() -> None:
            nonlocal issued
            while issued < budget and now() < deadline:
                i = issued
                issued += 1
                await send(i, now())

        await asyncio.gather(*(worker() for _ in range(settings.concurrency)))
    else:
        rng = random.Random(0)
        gap = 1.0 / settings.rate
        slots = asyncio.Semaphore(settings.max_inflight)
        tasks: set[asyncio.Task[None]] = set()

        async def scheduled(i: int, due: float) -> None:
            try:
                await send(i, due)
            finally:
                slots.release()

        due = start
        while issued < budget and due < deadline:
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            await slots.acquire()
            task = asyncio.create_task(scheduled(issued, due))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            issued += 1
            due += rng.expovariate(settings.rate) if settings.arrival == "poisson" else gap
        if tasks:
            await asyncio.gather(*tasks)
    return Run(outcomes, now() - start, lags)


# ------------------------------------------------------------------------------------------ /metrics

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')
Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def parse_prometheus(text: str) -> Series:
    """Samples of the Prometheus text format as {(name, sorted labels): value}."""
    out: Series = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            continue
        try:
            value = float(m.group(3))
        except ValueError:
            continue
        labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
        out[(m.group(1), labels)] = value
    return out


def _quantile(q: float, buckets: list[tuple[float, float]]) -> float | None:
    """Prometheus' ``histogram_quantile``: linear interpolation inside the bucket holding the rank."""
    buckets = sorted(buckets)
    if not buckets or buckets[-1][1] <= 0:
        return None
    rank = q * buckets[-1][1]
    prev_le, prev_count = 0.0, 0.0
    for le, count in buckets:
        if count >= rank:
            if math.isinf(le):
                return prev_le
            return prev_le + (le - prev_le) * ((rank - prev_count) / (count - prev_count) if count > prev_count else 0)
        prev_le, prev_count = le, count
    return prev_le


def stage_breakdown(before: Series, after: Series) -> dict[str, dict[str, dict[str, float | None]]]:
    """Per histogram family with a ``stage`` label: per stage, the run's count, mean, p50 and p99 (ms)."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    buckets: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for (name, labels), value in after.items():
        lab = dict(labels)
        stage = lab.get("stage")
        if stage is None or not name.endswith("_bucket") or "le" not in lab:
            continue
        delta = value - before.get((name, labels), 0.0)
        buckets.setdefault((name[: -len("_bucket")], stage), []).append((float(lab["le"]), delta))
    for (family, stage), bs in buckets.items():
        scale = 1e3 if "seconds" in family else 1.0

        def delta_of(suffix: str, family: str = family, stage: str = stage) -> float:
            total = 0.0
            for (name, labels), value in after.items():
                if name == family + suffix and dict(labels).get("stage") == stage:
                    total += value - before.get((name, labels), 0.0)
            return total

        count, total = delta_of("_count"), delta_of("_sum")
        p50, p99 = _quantile(0.5, bs), _quantile(0.99, bs)
        out.setdefault(family, {})[stage] = {
            "count": count,
            "mean_ms": round(total / count * scale, 4) if count else None,
            "p50_ms": round(p50 * scale, 4) if p50 is not None else None,
            "p99_ms": round(p99 * scale, 4) if p99 is not None else None,
        }
    return out


async def scrape(client: Any, base: str) -> Series | None:
    try:
        resp = await client.request("GET", base + "/metrics", [], b"", timeout=5.0)
        body = await resp.read()
    except Exception:
        return None
    if resp.status != 200:
        return None
    return parse_prometheus(body.decode("utf-8", "replace"))


# ------------------------------------------------------------------------------------------ a whole run


def _cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def bench_target(target: Target, settings: LoadSettings) -> dict[str, Any]:
    from semrouter.upstream.client import UpstreamClient

    client = UpstreamClient(max_idle_per_host=max(256, settings.concurrency, min(settings.max_inflight, 4096)))
    bodies = encode_bodies(settings, target)
    try:
        warm = (
            await run_load(client, target, bodies, settings, duration=settings.warmup, requests=None)
            if settings.warmup > 0
            else Run([], 0.0, [])
        )
        before = await scrape(client, target.base) if settings.metrics else None
        duration = settings.duration if settings.duration is not None else (None if settings.requests else 10.0)
        cpu0 = _cpu()
        run = await run_load(client, target, bodies, settings, duration=duration, requests=settings.requests)
        cpu = _cpu() - cpu0
        after = await scrape(client, target.base) if before is not None else None
    finally:
        await client.aclose()
    ok = [o for o in run.outcomes if o.error is None]
    errors = Counter(o.error for o in run.outcomes if o.error is not None)
    n = len(run.outcomes)
    result: dict[str, Any] = {
        "name": target.name,
        "url": target.url,
        "model": target.model or settings.model,
        "requests": n,
        "ok": len(ok),
        "errors": dict(errors),
        "error_count": n - len(ok),
        "elapsed_s": round(run.elapsed_s, 3),
        "rps": round(n / run.elapsed_s, 2) if run.elapsed_s else None,
        "ok_rps": round(len(ok) / run.elapsed_s, 2) if run.elapsed_s else None,
        "latency_ms": latency_summary([o.latency_ms for o in ok]),
        "ttft_ms": latency_summary([o.ttft_ms for o in ok if o.ttft_ms is not None]) if settings.stream else None,
        "warmup_requests": len(warm.outcomes),
        "client": {
            "cpu_s": round(cpu, 3),
            "cpu_us_per_request": round(cpu / n * 1e6, 1) if n else None,
            "cpu_utilisation": round(cpu / run.elapsed_s, 3) if run.elapsed_s else None,
            "start_lag_ms": latency_summary(run.start_lag_ms) if settings.rate is not None else None,
        },
        "stages": stage_breakdown(before, after) if before is not None and after is not None else None,
    }
    return result


def ratios(results: list[dict[str, Any]]) -> None:
    """Add ``vs_first`` to every result: RPS and latency relative to the first target."""
    if not results:
        return
    first = results[0]

    def rel(a: float | None, b: float | None) -> float | None:
        return round(a / b, 3) if a is not None and b else None

    for r in results:
        r["vs_first"] = {
            "rps": rel(r["ok_rps"], first["ok_rps"]),
            "p50": rel(r["latency_ms"]["p50"], first["latency_ms"]["p50"]),
            "p99": rel(r["latency_ms"]["p99"], first["latency_ms"]["p99"]),
            "added_p50_ms": round(r["latency_ms"]["p50"] - first["latency_ms"]["p50"], 3)
            if r["latency_ms"]["p50"] is not None and first["latency_ms"]["p50"] is not None
            else None,
        }


def settings_from(args: argparse.Namespace) -> tuple[LoadSettings, list[Target]]:
    """Spec file first, then command-line options on top of it."""
    spec: dict[str, Any] = {}
    base_dir = Path.cwd()
    if args.spec:
        import yaml

        try:
            spec = yaml.safe_load(Path(args.spec).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise EvalError(f"{args.spec}: {exc}") from None
        if not isinstance(spec, dict):
            raise EvalError(f"{args.spec}: expected a mapping")
        base_dir = Path(args.spec).parent
    known = {f for f in LoadSettings.__dataclass_fields__ if f != "prompts"} | {"targets", "prompts"}
    unknown = set(spec) - known
    if unknown:
        raise EvalError(f"{args.spec}: unknown keys {sorted(unknown)}; known: {sorted(known)}")
    s = LoadSettings(**{k: v for k, v in spec.items() if k not in ("targets", "prompts")})
    for name in (
        "concurrency",
        "rate",
        "arrival",
        "duration",
        "requests",
        "warmup",
        "stream",
        "model",
        "max_tokens",
        "timeout",
        "max_inflight",
    ):
        value = getattr(args, name, None)
        if value is not None:
            setattr(s, name, value)
    if args.no_metrics:
        s.metrics = False
    for h in args.header:
        k, sep, v = h.partition(":")
        if not sep:
            raise EvalError(f"--header {h!r}: expected 'Name: value'")
        s.headers[k.strip()] = v.strip()
    prompts = args.prompts or spec.get("prompts")
    if prompts:
        path = Path(prompts) if args.prompts else base_dir / str(prompts)
        s.prompts = load_prompts(str(path))
    targets = [parse_target(t, i) for i, t in enumerate(args.target)]
    if not targets:
        for i, t in enumerate(spec.get("targets") or []):
            if isinstance(t, str):
                targets.append(parse_target(t, i))
            elif isinstance(t, dict) and "url" in t:
                targets.append(make_target(str(t.get("name") or f"target{i + 1}"), str(t["url"]), t.get("model")))
            else:
                raise EvalError(f"{args.spec}: targets[{i}] needs a url")
    if not targets:
        raise EvalError("no target: give --target URL (repeatable) or a --spec file with targets")
    if s.concurrency < 1 or (s.rate is not None and s.rate <= 0):
        raise EvalError("--concurrency must be >= 1 and --rate > 0")
    if s.requests is not None and s.requests < 1:
        raise EvalError("--requests must be >= 1")
    return s, targets


async def bench(settings: LoadSettings, targets: list[Target], progress: bool = True) -> dict[str, Any]:
    results = []
    for t in targets:
        if progress:
            print(f"load: {t.name} ({t.url}) ...", file=sys.stderr, flush=True)
        results.append(await bench_target(t, settings))
    ratios(results)
    return {
        "command": "bench load",
        "settings": {
            "mode": "open loop" if settings.rate is not None else "closed loop",
            "concurrency": settings.concurrency if settings.rate is None else None,
            "rate": settings.rate,
            "arrival": settings.arrival if settings.rate is not None else None,
            "duration_s": settings.duration,
            "requests": settings.requests,
            "warmup_s": settings.warmup,
            "stream": settings.stream,
            "max_tokens": settings.max_tokens,
            "prompts": len(settings.prompts) or len(DEFAULT_PROMPTS),
        },
        "targets": results,
    }


def table(out: dict[str, Any]) -> str:
    rows = [
        "| target | requests | req/s | p50 ms | p90 ms | p99 ms | TTFT p50 | errors | req/s vs first | p50 vs first |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in out["targets"]:
        lat, vs = r["latency_ms"], r["vs_first"]
        ttft = r["ttft_ms"]["p50"] if r["ttft_ms"] else None
        errs = ", ".join(f"{k}: {v}" for k, v in sorted(r["errors"].items())) or "0"
        cells = [r["name"], r["requests"], r["ok_rps"], lat["p50"], lat["p90"], lat["p99"], ttft, errs]
        cells += [f"{vs['rps']}x" if vs["rps"] is not None else None, f"{vs['p50']}x" if vs["p50"] else None]
        rows.append("| " + " | ".join("-" if c is None else str(c) for c in cells) + " |")
    lines = ["\n".join(rows)]
    for r in out["targets"]:
        c = r["client"]
        if c["cpu_utilisation"] is not None and c["cpu_utilisation"] > 0.85:
            lines.append(
                f"warning: {r['name']}: the load generator used {c['cpu_utilisation']:.0%} of a core; "
                "it may be the bottleneck (lower the load or run several generators)"
            )
        for family, stages in (r["stages"] or {}).items():
            lines.append(f"\n{r['name']}: {family} per stage")
            lines.append("| stage | count | mean ms | p50 ms | p99 ms |\n|---|---|---|---|---|")
            for stage, v in stages.items():
                lines.append(f"| {stage} | {v['count']:.0f} | {v['mean_ms']} | {v['p50_ms']} | {v['p99_ms']} |")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    settings, targets = settings_from(args)
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop is a dependency on every platform we run on
        runner = asyncio.run
    out = runner(bench(settings, targets))
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(table(out))
    return 0
