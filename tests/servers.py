"""Real servers on loopback for tests: fake workers and the router as separate processes."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from semrouter.ports import free_port


def http_json(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, dict[str, str], Any]:
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    req = urllib.request.Request(
        url, data=data, method=method, headers={"content-type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            return r.status, {k.lower(): v for k, v in r.headers.items()}, json.loads(raw) if raw else None
    except urllib.error.HTTPError as e:
        raw = e.read()
        return e.code, {k.lower(): v for k, v in e.headers.items()}, json.loads(raw) if raw else None


class Server:
    """A subprocess serving HTTP on ``port``; ready once ``/health`` answers 200."""

    def __init__(self, args: list[str], port: int, env: dict[str, str] | None = None, log: Path | None = None) -> None:
        self.args = args
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, **(env or {})}
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, wait: bool = True) -> Server:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "semrouter", *self.args],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopping it stops every process it spawned
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                log = self.log.read_text() if self.log and self.log.exists() else ""
                raise RuntimeError(f"server {self.args} exited with {self.proc.returncode}\n{log}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"server {self.args} not ready on port {self.port}")

    def wait_started(self, timeout: float = 60) -> Server:
        """Wait for ``/ready`` (a router's models loaded and warmed, the state a load balancer sends traffic
        in). :meth:`wait_ready` waits only for ``/health``: the router serves from its first second, while
        loading models holds its GIL in stretches (spaCy's deserialization), and a test whose bound is the
        serving router's ``/health`` time must not start before that is over."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/ready", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"server {self.args} not started (/ready) on port {self.port}")

    def stop(self, sig: int = signal.SIGTERM, grace_s: float = 10) -> None:
        """Send ``sig`` to the process group, SIGKILL what is left after ``grace_s``."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace_s)
        with contextlib.suppress(ProcessLookupError):  # no orphan worker may outlive the test
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def requests(self) -> list[dict[str, Any]]:
        """What a fake worker received (its /debug/requests list)."""
        return http_json("GET", self.url + "/debug/requests")[2]["requests"]  # type: ignore[no-any-return]

    def clear(self) -> None:
        http_json("DELETE", self.url + "/debug/requests")


def fake_worker(model: str, port: int | None = None, *extra: str, log: Path | None = None) -> Server:
    port = port or free_port()
    return Server(["fake-worker", "--port", str(port), "--model", model, *extra], port, log=log)


def write_config(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def router(
    config_path: Path,
    port: int | None = None,
    env: dict[str, str] | None = None,
    log: Path | None = None,
    engine: str = "granian",
    log_level: str = "warning",
) -> Server:
    port = port or free_port()
    args = ["serve", "--config", str(config_path), "--port", str(port), "--engine", engine, "--log-level", log_level]
    return Server(args, port, env=env, log=log)


_POLLER = r"""
import json, os, sys, time, urllib.request
url, stop = sys.argv[1], sys.argv[2]
try:  # a health checker runs on other cores than the router (a kubelet, a load balancer); here all share two
    os.setpriority(os.PRIO_PROCESS, 0, -10)
except OSError:  # not permitted: measured at normal priority, with the harness's own scheduling in the figures
    pass
times, failures = [], []
while not os.path.exists(stop):
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            r.read()
            if r.status != 200:
                failures.append(str(r.status))
    except OSError as exc:
        failures.append(repr(exc))
    times.append(time.perf_counter() - t0)
    time.sleep(0.02)
print(json.dumps({"times": times, "failures": failures}))
"""


class HealthWatch:
    """Polls ``url`` every 20 ms from a process of its own (a thread of the test would share the test's GIL
    and measure the test's own work), keeping every answer time: ``times``, ``failures``, ``slowest``.

    The poller asks for a higher CPU priority where it may (root): on a 2-core test machine it otherwise
    waits its turn behind the test's senders and the fake workers, which a real health checker on other
    cores does not, and that wait would be counted as the router's."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.stop_file = workdir / f"health-watch-{time.monotonic_ns()}.stop"
        self.times: list[float] = []
        self.failures: list[str] = []
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def slowest(self) -> float:
        return max(self.times)

    def __enter__(self) -> HealthWatch:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _POLLER, self.url, str(self.stop_file)], stdout=subprocess.PIPE
        )
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.proc is not None
        self.stop_file.touch()
        out, _ = self.proc.communicate(timeout=30)
        result = json.loads(out)
        self.times, self.failures = result["times"], result["failures"]


WORKER_SAYS = {"x-vsr-selected-model": "evil", "x-vsr-cache-hit": "true", "x-vsr-other": "1", "x-kept": "yes"}
"""What a fake worker is told to answer with (``x-fake-response-headers``) in the header-hygiene tests."""
CLIENT_FORGES = {
    "x-vsr-selected-model": "client-forged",
    "x-vsr-cache-control": "no-store",
    "x-vsr-forged": "client-forged",
    "x-selected-model": "client-forged",
}
"""Router-owned request headers a client sets in those tests; none may reach a worker."""


def post_forging_router_headers(url: str, body: dict[str, Any]) -> Any:
    """POST ``body`` with ``CLIENT_FORGES`` and a worker cued to answer with ``WORKER_SAYS``: the response
    headers (an ``http.client.HTTPMessage``, which keeps repeated headers)."""
    req = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={
            "content-type": "application/json",
            **CLIENT_FORGES,
            "x-fake-response-headers": json.dumps(WORKER_SAYS),
        },
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        resp.read()
        return resp.headers
