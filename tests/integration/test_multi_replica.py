"""The fleet topology on loopback: ``semrouter fleet`` starts Envoy in front of two semrouter replicas that
share one Milvus server (Milvus Lite 2.5, the C++ server on TCP) and one config file, with fake workers
behind. The config file is laid out like a Kubernetes ConfigMap volume (``router.yaml`` → ``..data/``
→ a versioned directory), and a change is made the way the kubelet makes it: an atomic swap of ``..data``.

What a fleet must show: replicas share the semantic cache (an answer stored by one is a hit on the other),
a config change reaches every replica without a restart, and killing a replica under load loses no
request beyond those it was answering at that moment (Envoy retries the rest on the other replica).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from gateway import require_envoy
from servers import free_port, http_json

MATH = "What is the integral of x^2 from 0 to 3?"
MATH_PROMPT_V2 = "You are a careful mathematician (config version 2)."


def fleet_config(
    small: int, large: int, collection: str, math_prompt: str = "You are a mathematician."
) -> dict[str, Any]:
    return {
        "models": [
            {"name": "qwen3-8b", "family": "qwen3", "endpoints": [{"url": f"http://127.0.0.1:{small}"}]},
            {"name": "qwen3-32b", "family": "qwen3", "endpoints": [{"url": f"http://127.0.0.1:{large}"}]},
        ],
        "signals": [{"name": "domain", "type": "domain", "threshold": 0.3}],
        "decisions": [
            {
                "name": "math",
                "rules": {"signal": "domain", "equals": "math"},
                "models": [{"model": "qwen3-32b"}],
                "use_reasoning": True,
                "system_prompt": {"text": math_prompt},
            },
            {"name": "general", "models": [{"model": "qwen3-8b"}]},
        ],
        "routing": {"default_decision": "general"},
        "pool": {"health_check": {"interval_s": 0.5, "timeout_s": 1}},
        "cache": {
            "enabled": True,
            "backend": "milvus",
            # a few ms per lookup alone; the margin is for a CPU shared with the rest of the test run
            "timeout_s": 2.0,
            "milvus": {"uri": "${SEMROUTER_MILVUS_URI}", "collection": collection},
        },
        "reload": {"enabled": True, "interval_s": 0.2},
    }


class ConfigMapDir:
    """A directory laid out as Kubernetes mounts a ConfigMap: ``router.yaml`` → ``..data/router.yaml``,
    ``..data`` → ``..<version>``; an update writes a new version and swaps ``..data`` atomically."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.version = 0
        root.mkdir(parents=True)
        (root / "router.yaml").symlink_to("..data/router.yaml")

    @property
    def path(self) -> Path:
        return self.root / "router.yaml"

    def write(self, config: dict[str, Any]) -> None:
        self.version += 1
        version = self.root / f"..v{self.version}"
        version.mkdir()
        (version / "router.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
        tmp = self.root / "..data_tmp"
        tmp.symlink_to(version.name)
        os.replace(tmp, self.root / "..data")  # rename(2): readers see the old or the new, never neither


class Fleet:
    def __init__(self, proc: subprocess.Popen[bytes], run_dir: Path, configmap: ConfigMapDir, ports: dict[str, int]):
        self.proc, self.run_dir, self.configmap, self.ports = proc, run_dir, configmap, ports
        self.state: dict[str, Any] = json.loads((run_dir / "fleet.json").read_text())
        self.url = self.state["url"]

    def members(self, role: str) -> list[dict[str, Any]]:
        return [m for m in self.state["members"] if m["role"] == role]

    @property
    def replicas(self) -> list[dict[str, Any]]:
        return self.members("replica")

    def worker_requests(self) -> int:
        return sum(len(http_json("GET", w["url"] + "/debug/requests")[2]["requests"]) for w in self.members("worker"))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(30)
        for member in self.state["members"]:  # whatever the launcher could not stop
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(member["pgid"], signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def start_fleet(tmp: Path, mode: str, *worker_args: str) -> Fleet:
    require_envoy()
    pytest.importorskip("milvus_lite")
    ports = {"small": free_port(), "large": free_port(), "envoy": free_port()}
    configmap = ConfigMapDir(tmp / "config")
    configmap.write(fleet_config(ports["small"], ports["large"], collection=f"fleet_{mode}_{os.getpid()}"))
    run_dir = tmp / "run"
    argv = [sys.executable, "-m", "semrouter", "fleet", "--config", str(configmap.path), "--mode", mode]
    argv += ["--replicas", "2", "--port", str(ports["envoy"]), "--run-dir", str(run_dir), "--fake-workers"]
    argv += [f"--worker-arg={a}" for a in worker_args]
    log = open(tmp / "fleet.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 180
    while not (run_dir / "fleet.json").exists():
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"fleet did not start:\n{(tmp / 'fleet.log').read_text()[-4000:]}")
        time.sleep(0.2)
    return Fleet(proc, run_dir, configmap, ports)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Proxy replicas; the workers take 40 ms per answer so that requests are in flight at any moment."""
    f = start_fleet(tmp_path_factory.mktemp("fleet"), "proxy", "--latency-ms=40")
    try:
        yield f
    finally:
        f.stop()


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}], **extra}


def post(url: str, body: dict[str, Any]) -> tuple[int, str]:
    """(status, replica that answered); for a failure, the error text instead of the replica (Envoy's
    own error pages are plain text)."""
    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            r.read()
            return r.status, r.headers.get("x-vsr-replica", "")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")[:200]
    except OSError as e:
        return 0, repr(e)


def until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_fleet_balances_over_both_replicas(fleet: Fleet) -> None:
    answered_by = set()
    for i in range(6):
        status, headers, body = http_json("POST", fleet.url + "/v1/chat/completions", chat(f"Name a colour, #{i}"))
        assert status == 200, body
        assert headers["x-vsr-selected-model"] == "qwen3-8b"
        answered_by.add(headers["x-vsr-replica"])
    assert answered_by == {f"127.0.0.1:{r['port']}" for r in fleet.replicas}


def test_an_answer_stored_by_one_replica_is_a_cache_hit_on_the_other(fleet: Fleet) -> None:
    a, b = (r["url"] for r in fleet.replicas)
    question = chat("What does a semantic router do with a request?")
    before = fleet.worker_requests()
    status, headers, first = http_json(
        "POST", a + "/v1/chat/completions", question, {"x-fake-reply": "It picks the model."}
    )
    assert status == 200 and headers["x-vsr-cache-hit"] == "false"
    # replica B never saw this question; the store on A finishes after A's answer went out
    misses = 0

    def hit_on_b() -> bool:
        nonlocal misses
        status, headers, again = http_json("POST", b + "/v1/chat/completions", question)
        assert status == 200, again
        if headers["x-vsr-cache-hit"] == "true":
            assert again["choices"][0]["message"]["content"] == "It picks the model."
            return True
        misses += 1
        return False

    until(hit_on_b, "replica B never answered from the cache replica A filled")
    assert fleet.worker_requests() - before == 1 + misses  # the hit never reached a worker
    # ...and through the gateway, whichever replica takes it
    status, headers, again = http_json("POST", fleet.url + "/v1/chat/completions", question)
    assert status == 200 and headers["x-vsr-cache-hit"] == "true"
    assert again["choices"][0]["message"]["content"] == first["choices"][0]["message"]["content"]


def test_a_config_change_reaches_every_replica_without_a_restart(fleet: Fleet) -> None:
    def status(url: str) -> dict[str, Any]:
        return http_json("GET", url + "/api/v1/status")[2]  # type: ignore[no-any-return]

    def system_prompt(url: str) -> str | None:
        s, _, body = http_json("POST", url + "/v1/chat/completions", chat(MATH, temperature=1.0))
        assert s == 200, body
        return body["echo"]["system_prompt"]  # type: ignore[no-any-return]

    urls = [r["url"] for r in fleet.replicas]
    reloads = {u: status(u)["config"]["reloads_ok"] for u in urls}
    assert {system_prompt(u) for u in urls} == {"You are a mathematician."}
    fleet.configmap.write(
        fleet_config(fleet.ports["small"], fleet.ports["large"], f"fleet_proxy_{os.getpid()}", MATH_PROMPT_V2)
    )
    for u in urls:
        until(lambda u=u: system_prompt(u) == MATH_PROMPT_V2, f"replica {u} kept the old config")
        assert status(u)["config"]["reloads_ok"] == reloads[u] + 1
        assert status(u)["config"]["reloads_failed"] == 0
    assert all(r["pid"] for r in fleet.replicas)
    for r in fleet.replicas:  # the same processes: reloaded, not restarted
        os.kill(r["pid"], 0)


def test_killing_a_replica_under_load_loses_only_its_in_flight_requests(fleet: Fleet) -> None:
    """200 requests from 4 threads; the first replica is SIGKILLed after 40 have been answered. Envoy
    retries a refused or reset request on the other replica (retry_on connect-failure,reset) and stops
    picking the dead one (health check, outlier detection). At most the requests in flight at the kill
    may fail: the test counts them."""
    victim, survivor = fleet.replicas
    total, threads = 200, 4
    lock = threading.Lock()
    results: list[tuple[int, int, str, bool]] = []  # (request number, status, replica, sent after the kill)
    in_flight, in_flight_at_kill = 0, -1
    next_request = iter(range(total))
    killed = threading.Event()

    def client() -> None:
        nonlocal in_flight
        while True:
            with lock:
                n = next(next_request, None)
                if n is None:
                    return
                in_flight += 1
                after_kill = killed.is_set()
            # temperature above the cache's limit: every request goes to a worker through a replica
            status, replica = post(fleet.url + "/v1/chat/completions", chat(f"Load request {n}", temperature=1.0))
            with lock:
                in_flight -= 1
                results.append((n, status, replica, after_kill))

    def killer() -> None:
        nonlocal in_flight_at_kill
        until(lambda: len(results) >= 40, "no progress before the kill", timeout=60)
        with lock:
            in_flight_at_kill = in_flight
            os.killpg(victim["pgid"], signal.SIGKILL)
            killed.set()

    workers = [threading.Thread(target=client) for _ in range(threads)] + [threading.Thread(target=killer)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(120)
    assert killed.is_set() and len(results) == total
    failed = [r for r in results if r[1] != 200]
    print(
        f"\nkilled one of 2 replicas under load: {len(failed)} of {total} requests failed "
        f"({in_flight_at_kill} were in flight at the kill)"
    )
    assert 0 <= in_flight_at_kill <= threads
    assert len(failed) <= in_flight_at_kill, failed
    assert [r for r in failed if r[3]] == []  # nothing sent after the kill failed
    by = {addr: sum(1 for r in results if r[2] == addr) for addr in {r[2] for r in results}}
    victim_addr, survivor_addr = f"127.0.0.1:{victim['port']}", f"127.0.0.1:{survivor['port']}"
    assert by.get(victim_addr, 0) > 0 and by.get(survivor_addr, 0) > 0
    # the last requests were all answered by the survivor
    last = sorted(results)[-40:]
    assert {r[2] for r in last if r[1] == 200} == {survivor_addr}
    assert fleet.proc.poll() is None  # the launcher keeps the rest of the fleet running
