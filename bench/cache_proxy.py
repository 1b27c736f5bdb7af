"""End-to-end latency of a semantic-cache hit through the proxy versus a miss (issue 5).

One client, sequential requests, through ``semrouter serve`` with the in-memory cache, in front of a fake
worker that answers in ``--worker-ms`` (a stand-in for a model's time to answer; 0 shows the router's
own cost). A miss pays the embedding, the lookup, the forward and a background store; a hit pays the
embedding, the lookup and the near-miss check, and replays the stored answer. Both are measured for
JSON and for streamed answers, with the paraphrase of a stored question (a hit that is not an exact
repeat).

    python bench/cache_proxy.py [--requests 200] [--worker-ms 0] [--no-verifier] [--write [--doc PATH]]

``--no-verifier`` turns the cache verifier off (cosine threshold + lexical guard only, the hit path before
issue 17), so the verifier's cost on a hit is the difference between two runs on the same machine.

``--write`` replaces the ``cache_proxy`` section of docs/benchmarks.md (or of ``--doc PATH``); otherwise it
only prints. The default run takes under a minute.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
import common
from common import Proc, free_port, machine, semrouter, write_section

QUESTION = "How many {} does a {} have, and why did it evolve that way?"
ANIMALS = ["spider", "octopus", "starfish", "crab", "beetle", "squid", "lobster", "ant", "centipede", "scorpion"]
PARTS = ["legs", "eyes", "hearts", "arms", "wings", "teeth", "antennae", "gills", "claws", "segments"]


def questions(n: int, offset: int = 0) -> list[str]:
    """Distinct questions; the "(i)" suffix keeps later rounds apart (the near-miss check compares numbers)."""
    return [
        QUESTION.format(PARTS[i % len(PARTS)], ANIMALS[(i // len(PARTS)) % len(ANIMALS)]) + f" ({i})"
        for i in range(offset, offset + n)
    ]


def post(conn: http.client.HTTPConnection, text: str, stream: bool) -> tuple[float, str]:
    body = json.dumps({"model": "auto", "stream": stream, "messages": [{"role": "user", "content": text}]})
    t0 = time.perf_counter()
    conn.request("POST", "/v1/chat/completions", body, {"content-type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    ms = (time.perf_counter() - t0) * 1e3
    assert resp.status == 200, resp.status
    return ms, resp.getheader("x-vsr-cache-hit") or ""


def summary(times: list[float]) -> str:
    times = sorted(times)
    return f"{statistics.median(times):.2f} / {times[int(len(times) * 0.99) - 1]:.2f} ms"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--worker-ms", type=float, default=0.0)
    ap.add_argument("--no-verifier", action="store_true", help="cache.verifier.enabled: false (the old hit path)")
    ap.add_argument("--write", action="store_true", help="write the cache_proxy section of docs/benchmarks.md")
    ap.add_argument("--doc", type=Path, help="with --write: the Markdown file to write into instead")
    args = ap.parse_args()
    if args.doc is not None:
        common.DOC = args.doc  # write_section reads it at call time
    wport, rport = free_port(), free_port()
    cfg: dict[str, Any] = {
        "models": [{"name": "m", "endpoints": [{"url": f"http://127.0.0.1:{wport}"}]}],
        "signals": [{"name": "domain", "type": "domain"}],
        "decisions": [{"name": "default", "models": [{"model": "m"}]}],
        "cache": {"enabled": True, "max_entries": 100_000, "verifier": {"enabled": not args.no_verifier}},
    }
    path = Path("/tmp") / f"semrouter-cache-bench-{rport}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    results: dict[str, list[float]] = {}
    worker = semrouter("fake-worker", "--port", str(wport), "--model", "m", "--latency-ms", str(args.worker_ms))
    serve = semrouter("serve", "--config", str(path), "--port", str(rport))
    with Proc(worker, f"http://127.0.0.1:{wport}/health"), Proc(serve, f"http://127.0.0.1:{rport}/health"):
        conn = http.client.HTTPConnection("127.0.0.1", rport)
        for stream in (False, True):
            kind = "stream" if stream else "JSON"
            qs = questions(args.requests, offset=args.requests if stream else 0)  # JSON entries serve streams too
            post(conn, "warm-up question about the weather", stream)
            misses, hits = [], []
            for q in qs:
                ms, hit = post(conn, q, stream)
                assert hit == "false", (q, hit)
                misses.append(ms)
            time.sleep(0.5)  # stores run after the answers
            for q in qs:
                ms, hit = post(conn, q.replace("and why did it evolve", "and why has it evolved"), stream)
                if hit == "true":
                    hits.append(ms)
            results[f"miss, {kind}"] = misses
            results[f"hit (paraphrase), {kind}"] = hits
            print(f"{kind}: miss {summary(misses)}  hit {summary(hits)}  ({len(hits)}/{len(qs)} paraphrases hit)")
    if not args.write:
        return
    lines = [
        "## Semantic cache through the proxy: hit vs miss (issue 5)",
        "",
        f"Machine: {machine()}. `semrouter serve` with the in-memory cache and a domain signal, one client, "
        f"sequential requests, fake worker answering 16 tokens after {args.worker_ms:g} ms. Misses are "
        f"{args.requests} distinct questions; hits are paraphrases of them (served only when the cache verifier "
        f"accepts them{' (off in this run: cosine ≥ 0.80 and the near-miss check)' if args.no_verifier else ''}), "
        "so both pay the embedding.",
        "",
        f"Command: `python bench/cache_proxy.py --requests {args.requests} --worker-ms {args.worker_ms:g}"
        f"{' --no-verifier' if args.no_verifier else ''} --write`",
        "",
        "| request | p50 / p99 | n |",
        "|---|---|---|",
    ]
    lines += [f"| {name} | {summary(ts)} | {len(ts)} |" for name, ts in results.items() if ts]
    write_section("cache_proxy", "\n".join(lines))


if __name__ == "__main__":
    main()
