"""Routing decision latency and end-to-end ``auto`` throughput (issue 3).

1. In process: the full request pipeline (parse, every signal of the built-in config incl. the
   domain classifier on the shared embedding, decision, selection, enrichment) on 16-, 64- and
   512-token prompts, one request at a time: p50/p99 per prompt length.
2. Through the proxy: ``model: auto`` with 32 concurrent connections (wrk) in front of a fake worker.

    python bench/routing_latency.py [--requests 300] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).parent))
import yaml
from common import Proc, free_port, machine, semrouter, write_section, wrk

from semrouter.config import RouterConfig, parse_config
from semrouter.context import ApiKind, RequestContext
from semrouter.stages import build_pipeline

DEFAULT = Path(__file__).resolve().parents[1] / "semrouter" / "configs" / "default.yaml"
ASSETS = Path(__file__).resolve().parents[1] / "semrouter" / "embed" / "assets"
_TOKENIZER: Any = None
QUESTIONS = [
    line.split("\t", 1)[0]
    for line in (
        "What is the derivative of x^3 times the sine of x with respect to x",
        "Explain why the Treaty of Versailles contributed to the outbreak of the Second World War",
        "Which data structure gives logarithmic insertion and lookup while keeping keys sorted",
        "A contract signed by a minor is generally voidable at whose option and why",
        "How does the enzyme catalase protect cells from the damage caused by hydrogen peroxide",
        "What happens to the equilibrium price when both supply and demand increase at the same time",
    )
]


def count_tokens(text: str) -> int:
    """WordPiece tokens of the embedding model, without its 256-token selection or [CLS]/[SEP]."""
    from tokenizers import Tokenizer

    global _TOKENIZER
    if _TOKENIZER is None:
        _TOKENIZER = Tokenizer.from_file(str(ASSETS / "tokenizer.json"))
        _TOKENIZER.no_truncation()
        _TOKENIZER.no_padding()
    return len(_TOKENIZER.encode(text, add_special_tokens=False).ids)


def prompt_of(tokens: int, i: int) -> str:
    """A prompt of exactly ``tokens`` WordPiece tokens (±1 word), built from real questions."""
    words: list[str] = []
    j = i
    while count_tokens(" ".join(words)) < tokens:
        words += QUESTIONS[j % len(QUESTIONS)].split()
        j += 1
    while count_tokens(" ".join(words)) > tokens:
        words.pop()
    return " ".join(words)


EXTRA_SIGNALS = [  # every other signal type, so the figure covers all of them on one shared embedding
    {"name": "code", "type": "keyword", "keywords": ["def ", "class ", "stack trace", "```"], "word_boundary": False},
    {"name": "urgent", "type": "keyword", "keywords": [r"\burgent\b", r"\basap\b"], "regex": True},
    {
        "name": "coding",
        "type": "similarity",
        "examples": ["Write a Python function", "Fix this bug", "Explain this code", "Optimize this SQL query"],
    },
    {
        "name": "complexity",
        "type": "complexity",
        "hard_examples": ["Prove this theorem rigorously", "Derive the formula step by step", "Design a system"],
        "easy_examples": ["What is 2 + 2?", "Say hello", "What color is the sky?"],
    },
    {"name": "long", "type": "context_length", "min_tokens": 4000},
    {"name": "premium", "type": "header", "header": "x-tier", "equals": "gold"},
    {"name": "tenant", "type": "metadata", "field": "user", "pattern": "^team-"},
]


def routing_only(raw: dict[str, Any]) -> dict[str, Any]:
    """The built-in config without guards and cache: this benchmark is about the routing decision
    (``bench/guards.py`` and ``bench/cache_backends.py`` measure those), and a cache would answer the
    rotating prompts of the end-to-end run after their first round."""
    raw["guards"] = {}
    raw["cache"] = {"enabled": False}
    return raw


def bench_config() -> RouterConfig:
    raw = routing_only(yaml.safe_load(DEFAULT.read_text()))
    raw["signals"] += EXTRA_SIGNALS
    return parse_config(yaml.safe_dump(raw), "bench-config")


def p50_p99(values: list[float]) -> tuple[float, float]:
    v = sorted(values)
    return statistics.median(v), v[max(int(len(v) * 0.99) - 1, 0)]


StageTimes = dict[int, dict[str, tuple[float, float]]]


async def pipeline_latency(n: int) -> tuple[dict[int, tuple[float, float, int]], StageTimes]:
    """Whole-pipeline p50/p99 per prompt length, and p50/p99 of every stage and signal from the request's
    own stage records (``ctx.records``) plus the shared embedding (which the first signal that needs it
    starts and every other consumer awaits, so it overlaps the ``signals`` stage rather than adding to it)."""
    cfg = bench_config()
    pipe = build_pipeline(cfg)
    out = {}
    stages: StageTimes = {}
    for tokens in (16, 64, 512):
        prompts = [prompt_of(tokens, i) for i in range(len(QUESTIONS))]
        real = count_tokens(prompts[0])
        times = []
        per_stage: dict[str, list[float]] = {}
        for k in range(n + 10):
            body = {"model": "auto", "messages": [{"role": "user", "content": prompts[k % len(prompts)]}]}
            ctx = RequestContext(ApiKind.CHAT, orjson.dumps(body), {}, cfg)
            t0 = time.perf_counter()
            await pipe.run_request(ctx)
            if k >= 10:  # warm-up excluded
                times.append((time.perf_counter() - t0) * 1e3)
                for rec in ctx.records:
                    per_stage.setdefault(rec.stage, []).append(rec.ms)
                embedding = ctx.timings.embedding_s()
                if embedding is not None:
                    per_stage.setdefault("embedding", []).append(embedding * 1e3)
        out[tokens] = (*p50_p99(times), real)
        stages[tokens] = {name: p50_p99(v) for name, v in per_stage.items()}
    return out, stages


def stage_table(stages: StageTimes) -> list[str]:
    lengths = sorted(stages)
    names = list(dict.fromkeys(name for t in lengths for name in stages[t]))
    order = ["embedding"] + [n for n in names if n != "embedding"]
    lines = [
        "| stage | " + " | ".join(f"{t} tok p50 / p99" for t in lengths) + " |",
        "|---|" + "---|" * len(lengths),
    ]
    for name in order:
        cells = [
            f"{stages[t][name][0]:.3f} / {stages[t][name][1]:.3f} ms" if name in stages[t] else "-" for t in lengths
        ]
        label = f"&nbsp;&nbsp;{name}" if name.startswith("signal.") else name
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=300)
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    lat, stages = asyncio.run(pipeline_latency(args.requests))
    for t, (p50, p99, real) in lat.items():
        print(f"{t:4d} tokens (measured {real}): p50 {p50:.2f} ms  p99 {p99:.2f} ms", flush=True)
    wport, rport = free_port(), free_port()
    env_cfg = Path("/tmp") / f"semrouter-bench-{rport}.yaml"
    raw = routing_only(yaml.safe_load(DEFAULT.read_text()))
    for model in raw["models"]:
        model["endpoints"] = [{"url": f"http://127.0.0.1:{wport}"}]
    env_cfg.write_text(yaml.safe_dump(raw))
    bodies = [
        json.dumps(
            {
                "model": "auto",
                "max_tokens": 16,
                "messages": [{"role": "user", "content": f"{QUESTIONS[i % len(QUESTIONS)]} (#{i})"}],
            }
        )
        for i in range(200)
    ]
    with (
        Proc(semrouter("fake-worker", "--port", str(wport), "--model", "m"), f"http://127.0.0.1:{wport}/health"),
        Proc(semrouter("serve", "--config", str(env_cfg), "--port", str(rport)), f"http://127.0.0.1:{rport}/health"),
    ):
        url = f"http://127.0.0.1:{rport}/v1/chat/completions"
        wrk(url, bodies, connections=8, seconds=2)
        e2e = wrk(url, bodies, connections=32, seconds=args.seconds)
    print(f"auto end to end, 32 connections: {e2e.rps:.0f} req/s p50 {e2e.p50_ms:.1f} ms p99 {e2e.p99_ms:.1f} ms")
    lines = [
        "## Routing decision latency (issue 3)",
        "",
        f"Machine: {machine()}. Built-in config (`semrouter/configs/default.yaml`: domain signal, 14 decisions) "
        "plus one signal of every other type (2 keyword, similarity, complexity, context_length, header, "
        "metadata), all on one shared embedding. In process, one request at a time, the whole request pipeline "
        "(parse, signals, "
        f"decision, selection, enrichment); {args.requests} requests per length over 6 different prompts of exactly "
        "that many word pieces ([CLS]/[SEP] not counted; nothing is cached between requests), p99 over them. "
        "512-token prompts are embedded as their first 127 + last 127 word pieces.",
        "",
        f"Command: `python bench/routing_latency.py --requests {args.requests} --seconds {args.seconds}`",
        "",
        "| prompt | p50 | p99 |",
        "|---|---|---|",
    ]
    lines += [f"| {t} tokens | {p50:.2f} ms | {p99:.2f} ms |" for t, (p50, p99, _) in lat.items()]
    lines += [
        "",
        "Per stage, from each request's own stage records (same run). The signals run concurrently inside "
        "the `signals` stage, and the embedding is computed once, by the first signal that needs it, while "
        "the others await it: the `signals` stage is about the embedding plus the slowest signal, not the sum, "
        "and an embedding signal's own figure includes its wait for the embedding (its own work, a dot product "
        "with its head or prototypes, is the difference).",
        "",
        *stage_table(stages),
    ]
    lines += [
        "",
        f"End to end through the proxy (`model: auto`, wrk, 32 connections, {args.seconds} s, fake worker, 200 "
        f"distinct ~20-token prompts in rotation, so every request is embedded): **{e2e.rps:,.0f} "
        f"req/s**, p50 {e2e.p50_ms:.1f} ms, p99 {e2e.p99_ms:.1f} ms, errors {e2e.errors}.",
    ]
    write_section("routing", "\n".join(lines))


if __name__ == "__main__":
    main()
