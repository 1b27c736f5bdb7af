"""Proxy overhead: a fake worker directly, semrouter passthrough and ``auto`` (one and two server
processes), and the Rust ``vllm-router`` in front of the same worker, in one run on loopback.

Two loads per target: one connection (added latency without queueing) and 64 connections
(throughput), plus the CPU time the proxy spent per request. Results go to the ``proxy`` section of
docs/benchmarks.md.

    python bench/proxy_overhead.py [--seconds 10] [--connections 64]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import Proc, WrkResult, free_port, machine, semrouter, write_section, wrk


def body(model: str) -> str:
    return json.dumps(
        {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    )


@dataclass
class Target:
    name: str
    url: str
    payload: str
    proc: Proc | None  # the proxy whose CPU we account (None: the worker itself)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    wport, rport, r2port, vport = free_port(), free_port(), free_port(), free_port()
    worker = f"http://127.0.0.1:{wport}"
    cfg = {
        "models": [{"name": "m1", "family": "qwen3", "endpoints": [{"url": worker}]}],
        "pool": {"health_check": {"interval_s": 5}},
        "decisions": [
            {
                "name": "default",
                "models": [{"model": "m1"}],
                "use_reasoning": False,
                "system_prompt": {"text": "You are a helpful assistant."},
            }
        ],
        "reload": {"enabled": False},
    }
    cfg_path = Path(tempfile.mkdtemp()) / "bench.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    chat = "/v1/chat/completions"
    rows: list[tuple[Target, WrkResult, WrkResult, float]] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(Proc(semrouter("fake-worker", "--port", str(wport), "--model", "m1"), worker + "/health"))
        one = stack.enter_context(
            Proc(
                semrouter("serve", "--config", str(cfg_path), "--port", str(rport)), f"http://127.0.0.1:{rport}/health"
            )
        )
        two = stack.enter_context(
            Proc(
                semrouter("serve", "--config", str(cfg_path), "--port", str(r2port), "--workers", "2"),
                f"http://127.0.0.1:{r2port}/health",
            )
        )
        targets = [
            Target("fake worker, direct", worker + chat, body("m1"), None),
            Target("semrouter passthrough (model: m1)", f"http://127.0.0.1:{rport}{chat}", body("m1"), one),
            Target("semrouter auto (model: auto)", f"http://127.0.0.1:{rport}{chat}", body("auto"), one),
            Target("semrouter passthrough, 2 processes", f"http://127.0.0.1:{r2port}{chat}", body("m1"), two),
            Target("semrouter auto, 2 processes", f"http://127.0.0.1:{r2port}{chat}", body("auto"), two),
        ]
        if shutil.which("vllm-router"):
            vr_args = ["--host", "127.0.0.1", "--port", str(vport), "--worker-urls", worker]
            vr = stack.enter_context(
                Proc(
                    ["vllm-router", *vr_args, "--policy", "round_robin", "--log-level", "error"],
                    f"http://127.0.0.1:{vport}/health",
                )
            )
            targets.append(Target("vllm-router (Rust), round robin", f"http://127.0.0.1:{vport}{chat}", body("m1"), vr))
        for t in targets:
            wrk(t.url, t.payload, connections=4, seconds=2)  # warm up connections and caches
            lat = wrk(t.url, t.payload, connections=1, seconds=max(3, args.seconds // 2))
            cpu0 = t.proc.cpu_seconds() if t.proc else 0.0
            load = wrk(t.url, t.payload, connections=args.connections, seconds=args.seconds)
            cpu_us = (t.proc.cpu_seconds() - cpu0) / load.requests * 1e6 if t.proc else 0.0
            rows.append((t, lat, load, cpu_us))
            print(
                f"{t.name:38s} c=1 p50 {lat.p50_ms:.3f} ms | c={args.connections} {load.rps:7.0f} rps "
                f"p50 {load.p50_ms:.2f} p99 {load.p99_ms:.2f} | proxy CPU {cpu_us:5.0f} us/req | "
                f"errors {lat.errors + load.errors}",
                flush=True,
            )
    direct = rows[0]
    n = args.connections
    lines = [
        "## Proxy overhead (issue 2)",
        "",
        f"Machine: {machine()}. Loopback; the fake worker (`semrouter fake-worker`, no latency, 16-token answer), "
        "the proxy and wrk share the same cores, so every proxy also takes CPU from the worker.",
        "",
        f"Command: `python bench/proxy_overhead.py --seconds {args.seconds} --connections {n}`",
        "",
        f"| target | 1 conn p50 | added p50 | {n} conn req/s | p50 | p99 | proxy CPU/req | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t, lat, load, cpu_us in rows:
        added = "—" if t is direct[0] else f"{lat.p50_ms - direct[1].p50_ms:+.3f} ms"
        cpu = f"{cpu_us:.0f} µs" if t.proc else "—"
        lines.append(
            f"| {t.name} | {lat.p50_ms:.3f} ms | {added} | {load.rps:,.0f} | {load.p50_ms:.2f} ms | "
            f"{load.p99_ms:.2f} ms | {cpu} | {lat.errors + load.errors} |"
        )
    if rows[-1][0].name.startswith("vllm-router"):
        vr_rps = rows[-1][2].rps
        ratios = ", ".join(f"{t.name}: {load.rps / vr_rps:.2f}x" for t, _, load, _ in rows[1:-1])
        lines += ["", f"Throughput relative to vllm-router at {n} connections: {ratios}."]
    write_section("proxy", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
