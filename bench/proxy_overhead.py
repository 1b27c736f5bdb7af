"""Proxy overhead: a fake worker directly, semrouter passthrough, semrouter ``auto``, and the Rust
``vllm-router`` in front of the same worker, in one run on loopback.

Two loads per target: one connection (added latency without queueing) and 64 connections
(throughput). Results go to the ``proxy`` section of docs/benchmarks.md.

    python bench/proxy_overhead.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import Proc, WrkResult, free_port, machine, semrouter, write_section, wrk


def body(model: str) -> str:
    return json.dumps(
        {
            "model": model,
            "max_tokens": 16,
            "messages": [{"role": "user", "content": "What is the capital of France?"}],
        }
    )


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
    targets: list[tuple[str, str, str]] = [
        ("fake worker, direct", f"{worker}/v1/chat/completions", body("m1")),
        ("semrouter passthrough (model: m1)", f"http://127.0.0.1:{rport}/v1/chat/completions", body("m1")),
        ("semrouter auto (model: auto)", f"http://127.0.0.1:{rport}/v1/chat/completions", body("auto")),
        ("semrouter passthrough, 2 processes", f"http://127.0.0.1:{r2port}/v1/chat/completions", body("m1")),
        ("semrouter auto, 2 processes", f"http://127.0.0.1:{r2port}/v1/chat/completions", body("auto")),
    ]
    has_vllm_router = shutil.which("vllm-router") is not None
    if has_vllm_router:
        targets.append(
            (
                "vllm-router 0.1.x (Rust), round robin",
                f"http://127.0.0.1:{vport}/v1/chat/completions",
                body("m1"),
            )
        )
    rows: list[tuple[str, WrkResult, WrkResult]] = []
    with (
        Proc(semrouter("fake-worker", "--port", str(wport), "--model", "m1"), worker + "/health"),
        Proc(
            semrouter("serve", "--config", str(cfg_path), "--port", str(rport)),
            f"http://127.0.0.1:{rport}/health",
        ),
        Proc(
            semrouter("serve", "--config", str(cfg_path), "--port", str(r2port), "--workers", "2"),
            f"http://127.0.0.1:{r2port}/health",
        ),
    ):
        vr = (
            Proc(
                [
                    "vllm-router",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(vport),
                    "--worker-urls",
                    worker,
                    "--policy",
                    "round_robin",
                    "--log-level",
                    "error",
                ],
                f"http://127.0.0.1:{vport}/health",
            )
            if has_vllm_router
            else None
        )
        if vr:
            vr.__enter__()
        try:
            for name, url, payload in targets:
                wrk(url, payload, connections=4, seconds=2)  # warm up connections and caches
                one = wrk(url, payload, connections=1, seconds=max(3, args.seconds // 2))
                many = wrk(url, payload, connections=args.connections, seconds=args.seconds)
                rows.append((name, one, many))
                print(
                    f"{name:42s} c=1 p50 {one.p50_ms:.3f} ms  c={args.connections} {many.rps:8.0f} rps "
                    f"p50 {many.p50_ms:.2f} p99 {many.p99_ms:.2f} errors {one.errors + many.errors}",
                    flush=True,
                )
        finally:
            if vr:
                vr.__exit__(None, None, None)
    direct = rows[0]
    lines = [
        "## Proxy overhead (issue 2)",
        "",
        f"Machine: {machine()}. Loopback; the fake worker (`semrouter fake-worker`, no latency, "
        "16-token answer), "
        "the router and wrk share the same cores, so every proxy also takes CPU from the worker.",
        "",
        f"Command: `python bench/proxy_overhead.py --seconds {args.seconds} --connections {args.connections}`",
        "",
        f"| target | 1 conn p50 | added p50 | {args.connections} conn req/s | p50 | p99 | errors |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, one, many in rows:
        added = one.p50_ms - direct[1].p50_ms
        lines.append(
            f"| {name} | {one.p50_ms:.3f} ms | {'—' if name == direct[0] else f'{added:+.3f} ms'} | "
            f"{many.rps:,.0f} | {many.p50_ms:.2f} ms | {many.p99_ms:.2f} ms | {one.errors + many.errors} |"
        )
    by_name = {n: m for n, _, m in rows}
    if has_vllm_router:
        vr_rps = rows[-1][2].rps
        ratios = ", ".join(f"{name}: {by_name[name].rps / vr_rps:.2f}x" for name, _, _ in targets[1:-1])
        lines += ["", f"Throughput relative to vllm-router at {args.connections} connections: {ratios}."]
    write_section("proxy", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
