"""Added latency of the Envoy ext_proc path against the standalone proxy and Envoy alone, in one run.

Same fake worker, same request, same loads for every target: the worker directly, Envoy alone (the
shipped deploy/envoy/envoy.yaml without its ext_proc filter), Envoy + `semrouter extproc` (routed
and explicit-model passthrough), and `semrouter serve` (routed and passthrough). The routing config
has no signals (no embedding), so the figures are transport and pipeline overhead; the ext_proc
answer body mode is the shipped one (STREAMED). Results go to the ``extproc`` section of
docs/benchmarks.md.

    python bench/extproc.py [--seconds 10] [--connections 64]

Needs wrk (apt-get install -y wrk) and the Envoy binary (deploy/envoy/install-envoy.sh).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import ROOT, Proc, WrkResult, free_port, machine, semrouter, write_section, wrk

ENVOY_VERSION = "1.40.0"


def envoy_bin() -> str:
    found = os.environ.get("SEMROUTER_ENVOY_BIN") or shutil.which("envoy")
    default = Path.home() / ".cache" / "semrouter" / f"envoy-{ENVOY_VERSION}" / "envoy"
    if found:
        return found
    if default.exists():
        return str(default)
    raise SystemExit("no Envoy binary: run deploy/envoy/install-envoy.sh or set SEMROUTER_ENVOY_BIN")


def envoy_config(path: Path, listener: int, admin: int, ports: dict[str, int], ext_proc: bool) -> Path:
    cfg: dict[str, Any] = yaml.safe_load((ROOT / "deploy" / "envoy" / "envoy.yaml").read_text())
    cfg["admin"]["address"]["socket_address"]["port_value"] = admin
    lst = cfg["static_resources"]["listeners"][0]
    lst["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": listener}
    for cluster in cfg["static_resources"]["clusters"]:
        endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
        endpoint["address"]["socket_address"]["port_value"] = ports[cluster["name"]]
    if not ext_proc:
        hcm = lst["filter_chains"][0]["filters"][0]["typed_config"]
        hcm["http_filters"] = [f for f in hcm["http_filters"] if f["name"] != "envoy.filters.http.ext_proc"]
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def envoy(binary: str, config: Path, admin: int) -> Proc:
    args = [binary, "-c", str(config), "--disable-hot-restart", "--base-id", str(random.randrange(1, 2**30))]
    return Proc([*args, "--concurrency", "1", "--log-level", "error"], f"http://127.0.0.1:{admin}/ready")


def body(model: str) -> str:
    return json.dumps(
        {"model": model, "max_tokens": 16, "messages": [{"role": "user", "content": "What is the capital of France?"}]}
    )


def wait_routed(url: str, timeout: float = 60) -> None:
    """Until Envoy's answers carry semrouter's headers (the ext_proc service is up and reached)."""
    deadline = time.monotonic() + timeout
    req = urllib.request.Request(url, body("auto").encode(), {"content-type": "application/json"})
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, urllib.error.HTTPError), urllib.request.urlopen(req, timeout=2) as r:
            if r.headers.get("x-vsr-selected-model"):
                return
        time.sleep(0.2)
    raise RuntimeError("semrouter extproc never routed a request through Envoy")


@dataclass
class Target:
    name: str
    url: str
    payload: str
    procs: list[Proc]  # whose CPU the target costs beyond the worker's


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--connections", type=int, default=64)
    args = ap.parse_args()
    binary = envoy_bin()
    wport, rport, xport = free_port(), free_port(), free_port()
    plain, plain_admin, gw, gw_admin = free_port(), free_port(), free_port(), free_port()
    worker = f"http://127.0.0.1:{wport}"
    cfg = {
        "models": [
            {"name": "qwen3-8b", "family": "qwen3", "endpoints": [{"url": worker}]},
            {"name": "qwen3-32b", "family": "qwen3", "endpoints": [{"url": worker}]},
        ],
        "pool": {"health_check": {"interval_s": 5}},
        "decisions": [
            {
                "name": "default",
                "models": [{"model": "qwen3-8b"}],
                "use_reasoning": False,
                "system_prompt": {"text": "You are a helpful assistant."},
            }
        ],
        "reload": {"enabled": False},
    }
    tmp = Path(tempfile.mkdtemp())
    cfg_path = tmp / "bench.yaml"
    cfg_path.write_text(yaml.safe_dump(cfg))
    ports = {"qwen3-8b": wport, "qwen3-32b": wport, "semrouter": xport}
    chat = "/v1/chat/completions"
    rows: list[tuple[Target, WrkResult, WrkResult, float]] = []
    with contextlib.ExitStack() as stack:
        stack.enter_context(
            Proc(semrouter("fake-worker", "--port", str(wport), "--model", "qwen3-8b"), worker + "/health")
        )
        proxy = stack.enter_context(
            Proc(
                semrouter("serve", "--config", str(cfg_path), "--port", str(rport)), f"http://127.0.0.1:{rport}/health"
            )
        )
        extproc = stack.enter_context(Proc(semrouter("extproc", "--config", str(cfg_path), "--port", str(xport))))
        alone = stack.enter_context(
            envoy(binary, envoy_config(tmp / "plain.yaml", plain, plain_admin, ports, False), plain_admin)
        )
        gateway = stack.enter_context(envoy(binary, envoy_config(tmp / "gw.yaml", gw, gw_admin, ports, True), gw_admin))
        wait_routed(f"http://127.0.0.1:{gw}{chat}")
        targets = [
            Target("fake worker, direct", worker + chat, body("qwen3-8b"), []),
            Target("Envoy alone", f"http://127.0.0.1:{plain}{chat}", body("qwen3-8b"), [alone]),
            Target(
                "Envoy + semrouter ext_proc, auto", f"http://127.0.0.1:{gw}{chat}", body("auto"), [gateway, extproc]
            ),
            Target(
                "Envoy + semrouter ext_proc, passthrough",
                f"http://127.0.0.1:{gw}{chat}",
                body("qwen3-8b"),
                [gateway, extproc],
            ),
            Target("semrouter proxy, auto", f"http://127.0.0.1:{rport}{chat}", body("auto"), [proxy]),
            Target("semrouter proxy, passthrough", f"http://127.0.0.1:{rport}{chat}", body("qwen3-8b"), [proxy]),
        ]
        for t in targets:
            wrk(t.url, t.payload, connections=4, seconds=2)  # warm up connections and caches
            lat = wrk(t.url, t.payload, connections=1, seconds=max(3, args.seconds // 2))
            cpu0 = sum(p.cpu_seconds() for p in t.procs)
            load = wrk(t.url, t.payload, connections=args.connections, seconds=args.seconds)
            cpu_us = (sum(p.cpu_seconds() for p in t.procs) - cpu0) / max(load.requests, 1) * 1e6
            rows.append((t, lat, load, cpu_us))
            print(
                f"{t.name:42s} c=1 p50 {lat.p50_ms:.3f} ms | c={args.connections} {load.rps:7.0f} rps "
                f"p50 {load.p50_ms:.2f} p99 {load.p99_ms:.2f} | CPU {cpu_us:5.0f} us/req | "
                f"errors {lat.errors + load.errors}",
                flush=True,
            )
    direct = rows[0][1]
    n = args.connections
    lines = [
        "## Envoy ext_proc path (issue 6)",
        "",
        f"Machine: {machine()}. Loopback; fake worker, Envoy 1.40 (`--concurrency 1`), semrouter and wrk share "
        "the same cores. Routing config without signals (no embedding), one decision with a system prompt and "
        "reasoning off, so `auto` requests are rewritten; the ext_proc filter as shipped (request body BUFFERED; "
        "no stage reads answers, so semrouter asks Envoy not to send the answer body: three gRPC messages per "
        "request). CPU/req counts the processes of the path (Envoy and semrouter), not the worker. Other jobs "
        "shared the machine: compare rows of one run.",
        "",
        f"Command: `python bench/extproc.py --seconds {args.seconds} --connections {n}`",
        "",
        f"| target | 1 conn p50 | added p50 | {n} conn req/s | p50 | p99 | CPU/req | errors |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t, lat, load, cpu_us in rows:
        added = "—" if not t.procs else f"{lat.p50_ms - direct.p50_ms:+.3f} ms"
        cpu = f"{cpu_us:.0f} µs" if t.procs else "—"
        lines.append(
            f"| {t.name} | {lat.p50_ms:.3f} ms | {added} | {load.rps:,.0f} | {load.p50_ms:.2f} ms | "
            f"{load.p99_ms:.2f} ms | {cpu} | {lat.errors + load.errors} |"
        )
    lines += [
        "",
        "Where the time goes: semrouter's own work per request is the same as in the proxy (the pipeline); "
        "the rest is grpc-python receiving and answering each phase (a cProfile of the ext_proc process at one "
        "connection shows it mostly idle in epoll: the latency is the hand-off between gRPC's core and the "
        "event loop, not Python work). Passthrough skips the body rewrite but not the phases.",
    ]
    write_section("extproc", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
