"""Passthrough-proxy cost of the upstream HTTP client: aiohttp vs semrouter's own client.

Topology (all loopback, one process each)::

    wrk -t1 -c64 (POST chat JSON) ──► proxy (raw ASGI on uvicorn, or RSGI/ASGI on granian)
                                         └─► upstream (raw ASGI on uvicorn: fixed chat-completion JSON)

The proxy forwards method, path, body and the non-hop-by-hop headers, and returns the upstream's status,
headers and body; it is the smallest honest proxy, so the client is what differs between rows. CPU per
request is the proxy's utime+stime (process and children, from /proc) over the measured run divided by
the requests wrk completed.

    python bench/upstream_client.py                     # all configurations
    python bench/upstream_client.py --only uvicorn-semrouter --duration 5
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from semrouter.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
CHAT_RESPONSE = (
    b'{"id":"chatcmpl-1","object":"chat.completion","created":1700000000,"model":"m",'
    b'"choices":[{"index":0,"message":{"role":"assistant","content":"Hello! I am fine, thank you."},'
    b'"finish_reason":"stop"}],"usage":{"prompt_tokens":12,"completion_tokens":9,"total_tokens":21}}'
)
REQUEST_BODY = '{"model":"m","messages":[{"role":"user","content":"Hello, how are you today?"}]}'
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
UPSTREAM = os.environ.get("BENCH_UPSTREAM", "http://127.0.0.1:18001")
CLIENT = os.environ.get("BENCH_CLIENT", "semrouter")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


# -- upstream: the fake worker ----------------------------------------------------------------------


async def upstream_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    more = True
    while more:
        more = (await receive()).get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(CHAT_RESPONSE)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": CHAT_RESPONSE})


class RSGIUpstream:
    """The same fake worker on granian RSGI: cheaper, so the client under test is the bottleneck."""

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        await proto()
        proto.response_bytes(200, [("content-type", "application/json")], CHAT_RESPONSE)


rsgi_upstream = RSGIUpstream()


# -- proxy: two clients behind the same minimal forwarding logic --------------------------------------


class _Forwarder:
    """Lazily created in the worker's own event loop (granian and uvicorn both own the loop)."""

    def __init__(self) -> None:
        self.call: Callable[[str, str, list[tuple[bytes, bytes]], bytes], Awaitable[Any]] | None = None
        self.aclose: Callable[[], Awaitable[None]] | None = None

    async def __call__(
        self, method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        if self.call is None:
            self.call = self._make()
        result: tuple[int, list[tuple[bytes, bytes]], bytes] = await self.call(method, path, headers, body)
        return result

    def _make(self) -> Callable[[str, str, list[tuple[bytes, bytes]], bytes], Awaitable[Any]]:
        if CLIENT == "aiohttp":
            import aiohttp

            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            self.aclose = session.close

            async def via_aiohttp(
                method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
            ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
                hdrs = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers]
                async with session.request(method, UPSTREAM + path, data=body, headers=hdrs) as r:
                    data = await r.read()
                    return r.status, [(k.lower(), v) for k, v in r.raw_headers], data

            return via_aiohttp

        from semrouter.upstream.client import UpstreamClient

        client = UpstreamClient()
        self.aclose = client.aclose

        async def via_semrouter(
            method: str, path: str, headers: list[tuple[bytes, bytes]], body: bytes
        ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
            resp = await client.request(method, UPSTREAM + path, headers, body, timeout=30)
            try:
                return resp.status, resp.headers, await resp.read()
            finally:
                await resp.aclose()

        return via_semrouter


forward = _Forwarder()


async def proxy_app(scope: Scope, receive: Receive, send: Send) -> None:
    """ASGI proxy (uvicorn, granian --interface asgi)."""
    if scope["type"] == "lifespan":
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    chunks = []
    more = True
    while more:
        msg = await receive()
        chunks.append(msg.get("body", b""))
        more = msg.get("more_body", False)
    headers = [(k, v) for k, v in scope["headers"] if k not in HOP_BY_HOP]
    status, resp_headers, data = await forward(scope["method"], scope["path"], headers, b"".join(chunks))
    out = [(k, v) for k, v in resp_headers if k not in HOP_BY_HOP]
    out.append((b"content-length", b"%d" % len(data)))
    await send({"type": "http.response.start", "status": status, "headers": out})
    await send({"type": "http.response.body", "body": data})


class RSGIProxy:
    """RSGI proxy (granian --interface rsgi): body in one await, response in one call."""

    async def __rsgi__(self, scope: Any, proto: Any) -> None:
        body = await proto()
        headers = [
            (k.encode("latin-1"), v.encode("latin-1"))
            for k, v in scope.headers.items()
            if k.encode("latin-1") not in HOP_BY_HOP
        ]
        status, resp_headers, data = await forward(scope.method, scope.path, headers, body)
        out = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in resp_headers if k not in HOP_BY_HOP]
        proto.response_bytes(status, out, data)


rsgi_proxy = RSGIProxy()


# -- orchestration ------------------------------------------------------------------------------------

CONFIGS: dict[str, tuple[str, str]] = {  # name: (server, client)
    "uvicorn-aiohttp": ("uvicorn", "aiohttp"),
    "uvicorn-semrouter": ("uvicorn", "semrouter"),
    "granian-asgi-semrouter": ("granian-asgi", "semrouter"),
    "granian-rsgi-semrouter": ("granian-rsgi", "semrouter"),
    "granian-rsgi-aiohttp": ("granian-rsgi", "aiohttp"),
    "vllm-router": ("vllm-router", "-"),  # the Rust reference, if installed (pip install vllm-router)
}


def wait_port(port: int, timeout: float = 20.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"port {port} never opened")


def server_cmd(server: str, app: str, port: int) -> list[str]:
    if server == "vllm-router":
        return ["vllm-router", "--host", "127.0.0.1", "--port", str(port), "--worker-urls", app,
                "--policy", "round_robin", "--log-level", "warning"]  # fmt: skip
    bind = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    if server == "uvicorn":
        return [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            *bind,
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--no-access-log",
        ]
    iface = server.split("-", 1)[1]
    return ["granian", "--interface", iface, *bind, "--workers", "1", "--loop", "uvloop", "--http", "1", app]


def tree_cpu_seconds(pid: int) -> float:
    """utime+stime of ``pid`` and all its descendants (granian runs its worker as a child process)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                ppid = int(stat.rsplit(")", 1)[1].split()[1])
                children.setdefault(ppid, []).append(int(entry))
    total, todo = 0.0, [pid]
    tick = os.sysconf("SC_CLK_TCK")
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def run_wrk(port: int, duration: int, script: str) -> dict[str, float]:
    out = subprocess.run(
        ["wrk", "-t1", "-c64", f"-d{duration}s", "--latency", "-s", script, f"http://127.0.0.1:{port}/v1/chat/completions"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        return float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]

    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {
        "requests": requests,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
        "p50": ms("50%"),
        "p99": ms("99%"),
        "bad": int(non2xx.group(1)) if non2xx else 0,
        "errors": errors.group(1) if errors else "",  # type: ignore[dict-item]
    }


async def client_only(client: str, url: str, duration: float, concurrency: int = 64) -> tuple[int, float]:
    """In-process: ``concurrency`` loops POSTing through one client; returns (requests, CPU s)."""
    global UPSTREAM, CLIENT
    UPSTREAM, CLIENT = url, client
    fwd = _Forwarder()
    body, headers = REQUEST_BODY.encode(), [(b"content-type", b"application/json")]
    count = 0
    stop = time.monotonic() + duration

    async def loop() -> None:
        nonlocal count
        while time.monotonic() < stop:
            status, _, _ = await fwd("POST", "/v1/chat/completions", headers, body)
            assert status == 200
            count += 1

    await fwd("POST", "/v1/chat/completions", headers, body)  # create the client and a connection
    cpu0 = time.process_time()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    cpu = time.process_time() - cpu0
    assert fwd.aclose is not None
    await fwd.aclose()
    return count, cpu


def run_client_only(duration: int) -> None:
    import uvloop

    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    port = free_port()
    upstream = subprocess.Popen(
        server_cmd("granian-rsgi", "bench.upstream_client:rsgi_upstream", port), cwd=ROOT, env=env
    )
    try:
        wait_port(port)
        print("| client (in-process, 64 concurrent loops, uvloop) | req/s | client CPU µs/req |")
        print("|---|---|---|")
        for client in ("aiohttp", "semrouter"):
            n, cpu = uvloop.run(client_only(client, f"http://127.0.0.1:{port}", duration))
            print(f"| {client} | {n / duration:,.0f} | {cpu * 1e6 / n:.0f} |", flush=True)
    finally:
        upstream.terminate()
        upstream.wait(10)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--only", action="append", choices=[*CONFIGS, "direct"])
    ap.add_argument("--client-only", action="store_true", help="measure the clients alone, in-process")
    ap.add_argument("--write", action="store_true", help="write the upstream section of docs/benchmarks.md")
    args = ap.parse_args()
    if args.client_only:
        run_client_only(args.duration)
        return
    names = args.only or ["direct", *CONFIGS]

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(f"wrk.method = 'POST'\nwrk.body = '{REQUEST_BODY}'\n")
        f.write("wrk.headers['Content-Type'] = 'application/json'\n")
        script = f.name
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    up_port = free_port()
    upstream = subprocess.Popen(server_cmd("uvicorn", "bench.upstream_client:upstream_app", up_port), cwd=ROOT, env=env)
    rows = []
    try:
        wait_port(up_port)
        for name in names:
            if name == "direct":
                server, client, port, proc = "uvicorn", "-", up_port, upstream
            else:
                server, client = CONFIGS[name]
                port = free_port()
                app = "bench.upstream_client:" + ("rsgi_proxy" if server.endswith("rsgi") else "proxy_app")
                if server == "vllm-router":
                    if shutil.which("vllm-router") is None:
                        continue
                    app = f"http://127.0.0.1:{up_port}"
                penv = {**env, "BENCH_UPSTREAM": f"http://127.0.0.1:{up_port}", "BENCH_CLIENT": client}
                proc = subprocess.Popen(server_cmd(server, app, port), cwd=ROOT, env=penv)
            try:
                wait_port(port, 60)
                run_wrk(port, args.warmup, script)
                cpu0 = tree_cpu_seconds(proc.pid)
                res = run_wrk(port, args.duration, script)
                cpu = tree_cpu_seconds(proc.pid) - cpu0
            finally:
                if proc is not upstream:
                    proc.terminate()
                    proc.wait(10)
            label = {"direct": "no proxy (upstream direct)", "vllm-router": "vllm-router (Rust)"}.get(
                name, f"{server} + {client} client"
            )
            rows.append((label, res, cpu * 1e6 / max(res["requests"], 1)))
            print(f"{label}: {res} cpu_us/req={rows[-1][2]:.0f}", file=sys.stderr, flush=True)
    finally:
        upstream.terminate()
        upstream.wait(10)
        os.unlink(script)

    sizes = f"POST {len(REQUEST_BODY)} B, response {len(CHAT_RESPONSE)} B"
    print(f"\nwrk -t1 -c64 -d{args.duration}s, {sizes}, {os.cpu_count()} cores\n")
    table = [
        "| proxy | req/s | p50 ms | p99 ms | CPU µs/req (proxy) | non-2xx / socket errors |",
        "|---|---|---|---|---|---|",
    ]
    for label, res, cpu_us in rows:
        lat = f"{res['p50']:.1f} | {res['p99']:.1f}"
        table.append(f"| {label} | {res['rps']:,.0f} | {lat} | {cpu_us:.0f} | {res['bad']} {res['errors']} |")
    print("\n".join(table))
    if args.write:
        sys.path.insert(0, str(ROOT / "bench"))
        from common import machine, write_section

        write_section(
            "upstream",
            "\n".join(
                [
                    "## Upstream client (`bench/upstream_client.py`)",
                    "",
                    f"Machine: {machine()}. A minimal forwarding proxy with each HTTP client, same upstream, "
                    f"`wrk -t1 -c64 -d{args.duration}s`, {sizes}. Command: "
                    f"`python bench/upstream_client.py --duration {args.duration} --write`",
                    "",
                    *table,
                ]
            ),
        )


if __name__ == "__main__":
    main()
