# ruff: noqa: RUF001  (non-English prompts are deliberate)
"""Cost of the guards' language-gated multilingual look (``guards.multilingual``), in the real pipeline.

Both guards on (jailbreak + harmful, actions that let every request through), the built-in config,
cache off; the same prompts with ``guards.multilingual.enabled`` false and true, interleaved request by
request so background load hits both alike. English prompts must cost the same either way (they never
take the multilingual path); non-English prompts pay the multilingual-e5-small embedding, read from at
most ``MAX_TOKENS`` (128) tokens, so 256-token prompts cost what 128-token ones do. Also reported: the
encoder alone against the MiniLM embedding, the warm-up time, and the process's resident memory.

    python bench/multilingual_guard.py [--requests 100]

Prints markdown; nothing is written to docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import machine
from routing_latency import DEFAULT, count_tokens, prompt_of

from semrouter.config import parse_config
from semrouter.context import ApiKind, RequestContext
from semrouter.errors import RouterError
from semrouter.stages import build_pipeline

LENGTHS = (16, 64, 256)
# ordinary requests written for this benchmark (their wording does not matter, their length does)
RU = (
    "Подскажите, как составить план питания на неделю для семьи из четырёх человек с небольшим бюджетом, "
    "чтобы дети ели больше овощей и меньше сладкого, а ужин готовился не дольше получаса."
)
ZH = "请帮我写一封邮件给房东，说明公寓里的暖气已经坏了三天，希望他这周能安排维修工人上门检查并尽快修好。"


def _rss_mb() -> float:
    return int(Path("/proc/self/statm").read_text().split()[1]) * 4096 / 1e6


def _encoder_prompt(base: str, tokens: int) -> str:
    from semrouter.embed.multilingual import MultilingualEncoder

    enc = MultilingualEncoder.shared()
    text = base
    while enc._model.token_count(text, True) < tokens:
        text += " " + base
    while enc._model.token_count(text, True) > tokens and len(text) > 1:
        text = text[:-1]
    return text


def _pct(ts: list[float]) -> tuple[float, float]:
    s = sorted(ts)
    return statistics.median(s), s[max(0, int(len(s) * 0.99) - 1)]


async def measure(n: int) -> list[str]:
    pipes: dict[str, tuple[Any, Any]] = {}
    for name, enabled in (("off", False), ("on", True)):
        raw = yaml.safe_load(DEFAULT.read_text())
        raw["guards"] = {
            "jailbreak": {"enabled": True, "action": "flag"},
            "harmful": {"enabled": True, "actions": dict.fromkeys(
                ("sexual", "sexual_minors", "violence_weapons", "crime_fraud", "self_harm", "hate"), "allow")},
            "multilingual": {"enabled": enabled},
        }  # fmt: skip
        raw["cache"] = {"enabled": False}
        cfg = parse_config(yaml.safe_dump(raw), "bench-multilingual")
        pipes[name] = (cfg, build_pipeline(cfg))
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    for _, pipe in pipes.values():
        for stage in pipe.stages:
            stage.warm_up()
    warm_s = time.perf_counter() - t0
    lines = [f"warm-up of the stages (language detector, encoder load and one call): {warm_s:.2f} s"]
    rows = []
    for tokens in LENGTHS:
        prompts = {
            "en": prompt_of(tokens, 0),
            "ru": _encoder_prompt(RU, tokens),
            "zh": _encoder_prompt(ZH, tokens),
        }
        for lang, text in prompts.items():
            body = orjson.dumps({"model": "auto", "messages": [{"role": "user", "content": text}]})
            times: dict[str, list[float]] = {"off": [], "on": []}
            for k in range(n + 5):
                for name, (cfg, pipe) in pipes.items():
                    ctx = RequestContext(ApiKind.CHAT, body, {}, cfg)
                    t = time.perf_counter()
                    with contextlib.suppress(RouterError):
                        await pipe.run_request(ctx)
                    if k >= 5:
                        times[name].append((time.perf_counter() - t) * 1e3)
            added = statistics.median(a - b for a, b in zip(times["on"], times["off"], strict=True))
            (p50_off, p99_off), (p50_on, p99_on) = _pct(times["off"]), _pct(times["on"])
            rows.append(
                f"| {lang} | {tokens} | {p50_off:.2f} / {p99_off:.2f} | {p50_on:.2f} / {p99_on:.2f} | {added:+.2f} |"
            )
            print(rows[-1], flush=True)
    lines += [
        "",
        "| language | tokens | multilingual off: p50 / p99 ms | on: p50 / p99 ms | added p50 (paired) |",
        "|---|---|---|---|---|",
        *rows,
    ]
    lines.append(f"\nresident memory: {rss0:.0f} MB before warm-up, {_rss_mb():.0f} MB after the runs")
    return lines


def encoder_alone(n: int) -> list[str]:
    """The multilingual encoder against the MiniLM embedding, one text at a time, same process."""
    from semrouter.embed.multilingual import MultilingualEncoder
    from semrouter.embed.service import EmbeddingService

    enc = MultilingualEncoder.shared()
    svc = EmbeddingService.default()
    out = ["", "| tokens | MiniLM int8 (English) p50 / p99 ms | multilingual-e5-small q4 (Russian) p50 / p99 ms |",
           "|---|---|---|"]  # fmt: skip
    for tokens in LENGTHS:
        en, ru = prompt_of(tokens, 1), _encoder_prompt(RU, tokens)
        a, b = [], []
        for k in range(n + 3):
            t = time.perf_counter()
            svc.model.embed([en])
            ta = (time.perf_counter() - t) * 1e3
            t = time.perf_counter()
            enc.embed(ru)
            tb = (time.perf_counter() - t) * 1e3
            if k >= 3:
                a.append(ta)
                b.append(tb)
        (a50, a99), (b50, b99) = _pct(a), _pct(b)
        out.append(f"| {tokens} | {a50:.2f} / {a99:.2f} | {b50:.2f} / {b99:.2f} |")
        print(out[-1], flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=100)
    args = ap.parse_args()
    count_tokens("warm")
    print(f"Machine: {machine()}")
    lines = asyncio.run(measure(args.requests))
    lines += encoder_alone(args.requests)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
