"""``semrouter demo``: two fake workers (the two tiers) plus the router on the built-in config, until Ctrl-C."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request

WORKERS = [  # (env var of the built-in config naming the URL, model it pretends to be, latency ms, tokens/s)
    ("SEMROUTER_SMALL_URL", "qwen3-8b", 20, 400),
    ("SEMROUTER_LARGE_URL", "qwen3-32b", 120, 80),
]


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen[bytes] | None = None, step: float = 0.1) -> None:
    """Until ``url`` answers 200, asked every ``step`` seconds; with ``proc``, fail at once if that process
    (the server) has exited."""
    deadline = time.monotonic() + timeout
    while True:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"the server for {url} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as r:
                if r.status == 200:
                    return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not come up in {timeout:.0f} s") from None
            time.sleep(step)


def stop_processes(procs: list[subprocess.Popen[bytes]], grace_s: float = 5) -> None:
    """SIGTERM every process, then SIGKILL those still running after ``grace_s``."""
    for p in procs:
        p.terminate()
    for p in procs:
        try:
            p.wait(grace_s)
        except subprocess.TimeoutExpired:
            p.kill()


def usage(base: str) -> str:
    return f"""
semrouter demo is running: router on {base}

  curl -s {base}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "auto", "messages": [{{"role": "user", "content": "Is a verbal contract binding?"}}]}}' -i

  python - <<'PY'
from openai import OpenAI
client = OpenAI(base_url="{base}/v1", api_key="unused")
r = client.chat.completions.with_raw_response.create(
    model="auto", messages=[{{"role": "user", "content": "What is the derivative of x**3?"}}])
print(r.headers["x-vsr-selected-decision"], r.headers["x-vsr-selected-model"],
      r.headers["x-vsr-selected-reasoning"], r.parse().choices[0].message.content)
for chunk in client.chat.completions.create(model="auto", stream=True,
        messages=[{{"role": "user", "content": "Stream please"}}]):
    print(chunk.choices[0].delta.content or "", end="", flush=True) if chunk.choices else None
print()
PY

Models: {base}/v1/models   Health: {base}/health   Ready: {base}/ready
Press Ctrl-C to stop.
"""


def run_demo(port: int, host: str = "127.0.0.1") -> int:
    env = dict(os.environ)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, (var, model, latency, tps) in enumerate(WORKERS, start=1):
            wport = port + 10 + i
            env[var] = f"http://127.0.0.1:{wport}"
            procs.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "semrouter",
                        "fake-worker",
                        "--port",
                        str(wport),
                        "--model",
                        model,
                        "--latency-ms",
                        str(latency),
                        "--tokens-per-s",
                        str(tps),
                    ]
                )
            )
        for var, *_ in WORKERS:
            wait_http(env[var] + "/health")
        os.environ.update(env)
        from semrouter.config.loader import DEFAULT_CONFIG

        config = DEFAULT_CONFIG
        base = f"http://{host}:{port}"
        print(usage(base), flush=True)
        from semrouter.server import serve_router

        serve_router(str(config), host, port)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop_processes(procs)
