"""The fleet topology on loopback: ``semrouter fleet`` starts Envoy in front of two semrouter replicas that
share one cache server (Milvus Lite 2.5, the C++ server on TCP, or with ``--cache redis`` valkey 8.1 with
the RediSearch module) and one config file, with fake workers
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
from gateway import require_envoy, sample, scrape
from servers import free_port, http_json

MATH = "What is the integral of x^2 from 0 to 3?"
MATH_PROMPT_V2 = "You are a careful mathematician (config version 2)."


def cache_config(store: str, collection: str) -> dict[str, Any]:
    """The shared cache section: Milvus (the launcher's Milvus Lite server) or Redis (its valkey + RediSearch),
    each found through the variable the launcher sets."""
    if store == "redis":
        return {"backend": "redis", "redis": {"url": "${SEMROUTER_REDIS_URL}", "index": collection}}
    return {"backend": "milvus", "milvus": {"uri": "${SEMROUTER_MILVUS_URI}", "collection": collection}}


def fleet_config(
    small: int, large: int, collection: str, math_prompt: str = "You are a mathematician.", store: str = "milvus"
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
            # a few ms per lookup alone; the margin is for a CPU shared with the rest of the test run
            "timeout_s": 2.0,
            **cache_config(store, collection),
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
    def __init__(
        self,
        proc: subprocess.Popen[bytes],
        run_dir: Path,
        configmap: ConfigMapDir,
        ports: dict[str, int],
        mode: str,
        store: str = "milvus",
    ):
        self.proc, self.run_dir, self.configmap, self.ports, self.mode = proc, run_dir, configmap, ports, mode
        self.store = store
        self.state: dict[str, Any] = json.loads((run_dir / "fleet.json").read_text())
        self.url = self.state["url"]

    def members(self, role: str) -> list[dict[str, Any]]:
        return [m for m in self.state["members"] if m["role"] == role]

    @property
    def replicas(self) -> list[dict[str, Any]]:
        return self.members("replica")

    def operator_url(self, replica: dict[str, Any]) -> str:
        """Where a replica serves /metrics and /api/v1/*: the proxy on its own port, ext_proc on its
        --http-port (in fleet.json)."""
        return str(replica["url"] if self.mode == "proxy" else replica["extra"]["http_url"])

    def routed(self) -> list[float]:
        """Requests each replica has routed so far (its own semrouter_requests_total)."""
        return [sample(scrape(self.operator_url(r)), "semrouter_requests_total") for r in self.replicas]

    def send(self, body: dict[str, Any], headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any, int]:
        """One request through Envoy, and the index of the replica that routed it (told by the replicas'
        counters, since in extproc mode Envoy itself calls the worker). Nothing else may be in flight."""
        before = self.routed()
        status, got, answer = http_json("POST", self.url + "/v1/chat/completions", body, headers)
        after: list[float] = []

        def recorded() -> bool:  # a replica records a request once the answer is out
            after[:] = self.routed()
            return sum(after) > sum(before)

        until(recorded, "no replica counted the request")
        (index,) = [i for i, (a, b) in enumerate(zip(after, before, strict=True)) if a > b]
        return status, got, answer, index

    def envoy_stat(self, name: str) -> int:
        (envoy,) = self.members("envoy")
        url = f"http://127.0.0.1:{envoy['extra']['admin']}/stats?filter=^{name}$"
        with urllib.request.urlopen(url, timeout=2) as r:
            text = r.read().decode()
        return int(text.split(":", 1)[1]) if ":" in text else 0

    def cache_stores(self, replica: dict[str, Any]) -> int:
        return int(http_json("GET", self.operator_url(replica) + "/api/v1/cache/stats")[2]["stage"]["stores"])

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


def start_fleet(tmp: Path, mode: str, *worker_args: str, store: str = "milvus") -> Fleet:
    require_envoy()
    if store == "redis":
        pytest.importorskip("redis")
        from redis_server import available

        if (why := available()) is not None:
            pytest.skip(why)
    else:
        pytest.importorskip("milvus_lite")
    ports = {"small": free_port(), "large": free_port(), "envoy": free_port()}
    configmap = ConfigMapDir(tmp / "config")
    configmap.write(fleet_config(ports["small"], ports["large"], collection=collection(mode), store=store))
    run_dir = tmp / "run"
    argv = [sys.executable, "-m", "semrouter", "fleet", "--config", str(configmap.path), "--mode", mode]
    argv += ["--cache", store]
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
    return Fleet(proc, run_dir, configmap, ports, mode, store)


def collection(mode: str) -> str:
    return f"fleet_{mode}_{os.getpid()}"


@pytest.fixture(
    scope="module",
    params=[("proxy", "milvus"), ("extproc", "milvus"), ("proxy", "redis"), ("extproc", "redis")],
    ids=lambda p: "-".join(p),
)
def fleet(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Both modes of the chart: proxy replicas behind Envoy, and Envoy with ext_proc replicas (the chart's
    default), each with both shared stores (``--cache milvus|redis``). The workers take 40 ms per answer
    so that requests are in flight at any moment."""
    mode, store = request.param
    f = start_fleet(tmp_path_factory.mktemp(f"fleet-{mode}-{store}"), mode, "--latency-ms=40", store=store)
    try:
        yield f
    finally:
        f.stop()


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "auto", "messages": [{"role": "user", "content": text}], **extra}


def post(url: str, body: dict[str, Any]) -> tuple[int, str, str]:
    """(status, how semrouter took part, the x-vsr-replica header); for a failure, the error text instead
    of the header (Envoy's own error pages are plain text). How semrouter took part: "routed" (the worker
    got the rewritten body, the client semrouter's headers), "no-headers" (rewritten, but the answer's
    headers phase was lost), "unrouted" (the worker got the client's own body)."""
    req = urllib.request.Request(url, json.dumps(body).encode(), {"content-type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            answer = json.loads(r.read())
            rewritten = answer["echo"]["model"] != body["model"]
            part = "unrouted" if not rewritten else "routed" if "x-vsr-selected-model" in r.headers else "no-headers"
            return r.status, part, r.headers.get("x-vsr-replica", "")
    except urllib.error.HTTPError as e:
        return e.code, "", e.read().decode(errors="replace")[:200]
    except OSError as e:
        return 0, "", repr(e)


def until(condition: Callable[[], bool], what: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def test_fleet_balances_over_both_replicas(fleet: Fleet) -> None:
    routed_by = [0] * len(fleet.replicas)
    for i in range(6):
        status, headers, body, index = fleet.send(chat(f"Name a colour, #{i}"))
        assert status == 200, body
        assert headers["x-vsr-selected-model"] == "qwen3-8b"
        routed_by[index] += 1
    assert all(routed_by), routed_by


def test_an_answer_stored_by_one_replica_is_a_cache_hit_on_the_other(fleet: Fleet) -> None:
    """The answer routed by replica A is in the shared store once A has stored it; from then on every repeat is a
    hit, on replica B (which never saw the question) as on A, and never reaches a worker."""
    question = chat("What does a semantic router do with a request?")
    for replica in fleet.replicas:  # ready means connected: no request got there before its cache did
        stage = http_json("GET", fleet.operator_url(replica) + "/api/v1/cache/stats")[2]["stage"]
        assert "not_ready" not in stage["bypasses"] and "not_ready" not in stage["store_skips"], stage
    stores = [fleet.cache_stores(r) for r in fleet.replicas]
    before = fleet.worker_requests()
    status, headers, first, a = fleet.send(question, {"x-fake-reply": "It picks the model."})
    assert status == 200 and headers["x-vsr-cache-hit"] == "false", first
    # the store runs after A's answer went out: B is asked only once it is in the store
    until(lambda: fleet.cache_stores(fleet.replicas[a]) == stores[a] + 1, "replica A never stored the answer")
    seen = set()
    for _ in range(6):  # Envoy round-robins: B gets one of the next requests
        status, headers, again, index = fleet.send(question)
        assert status == 200 and headers["x-vsr-cache-hit"] == "true", again
        assert again["choices"][0]["message"]["content"] == "It picks the model."
        seen.add(index)
        if index != a:
            break
    assert seen - {a}, "no repeat was routed by the other replica"
    assert fleet.worker_requests() - before == 1  # the hits never reached a worker
    assert [fleet.cache_stores(r) for r in fleet.replicas] == [n + (i == a) for i, n in enumerate(stores)]


def test_a_config_change_reaches_every_replica_without_a_restart(fleet: Fleet) -> None:
    def status(replica: dict[str, Any]) -> dict[str, Any]:
        return http_json("GET", fleet.operator_url(replica) + "/api/v1/status")[2]  # type: ignore[no-any-return]

    def prompts() -> dict[int, set[str]]:
        """The system prompt the worker got, by the replica that routed the request (temperature 1:
        past the cache's limit, so every request is routed anew)."""
        out: dict[int, set[str]] = {}
        for _ in range(4):
            s, _, body, index = fleet.send(chat(MATH, temperature=1.0))
            assert s == 200, body
            out.setdefault(index, set()).add(body["echo"]["system_prompt"])
        return out

    reloads = [status(r)["config"]["reloads_ok"] for r in fleet.replicas]
    assert prompts() == {0: {"You are a mathematician."}, 1: {"You are a mathematician."}}
    fleet.configmap.write(
        fleet_config(fleet.ports["small"], fleet.ports["large"], collection(fleet.mode), MATH_PROMPT_V2, fleet.store)
    )
    for r, n in zip(fleet.replicas, reloads, strict=True):
        until(lambda r=r, n=n: status(r)["config"]["reloads_ok"] == n + 1, f"replica {r['name']} did not reload")
        assert status(r)["config"]["reloads_failed"] == 0
    assert prompts() == {0: {MATH_PROMPT_V2}, 1: {MATH_PROMPT_V2}}
    for r in fleet.replicas:  # the same processes: reloaded, not restarted
        os.kill(r["pid"], 0)


def test_killing_a_replica_under_load(fleet: Fleet) -> None:
    """200 requests from 4 threads; the first replica is SIGKILLed after 40 have been answered.

    proxy: Envoy retries a refused or reset request on the other replica (retry_on connect-failure,reset)
    and stops picking the dead one (health check, outlier detection). At most the requests in flight at
    the kill may fail: the test counts them.

    extproc: Envoy calls the workers itself; a replica only decides. A request whose ext_proc stream was
    on the dead replica, or that was sent to it before Envoy noticed, is passed on unrouted by
    failure_mode_allow (the default route): it is answered, but not routed. Envoy's health checks and
    outlier detection take the dead replica out within about a second, after which every request is
    routed by the survivor. No request fails."""
    victim, survivor = fleet.replicas
    total, threads = 200, 4
    lock = threading.Lock()
    # (request number, status, how semrouter took part, replica, sent after the kill, answered before it)
    results: list[tuple[int, int, str, str, bool, bool]] = []
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
            status, routed, replica = post(
                fleet.url + "/v1/chat/completions", chat(f"Load request {n}", temperature=1.0)
            )
            with lock:
                in_flight -= 1
                results.append((n, status, routed, replica, after_kill, not killed.is_set()))

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
    assert 0 <= in_flight_at_kill <= threads
    failed = [r for r in results if r[1] != 200]
    unrouted = [r for r in results if r[1] == 200 and r[2] == "unrouted"]
    no_headers = [r for r in results if r[1] == 200 and r[2] == "no-headers"]
    print(
        f"\n{fleet.mode}: killed one of 2 replicas under load: {len(failed)} of {total} requests failed, "
        f"{len(unrouted)} answered unrouted, {len(no_headers)} routed but without semrouter's response headers "
        f"({in_flight_at_kill} were in flight at the kill); Envoy retried "
        f"{fleet.envoy_stat('cluster.semrouter.upstream_rq_retry')} streams or requests on the other replica"
    )
    last = sorted(results)[-40:]
    if fleet.mode == "proxy":
        assert len(failed) <= in_flight_at_kill, failed
        assert [r for r in failed if r[4]] == []  # nothing sent after the kill failed
        assert unrouted == [] and no_headers == []
        by = {addr: sum(1 for r in results if r[3] == addr) for addr in {r[3] for r in results}}
        victim_addr, survivor_addr = f"127.0.0.1:{victim['port']}", f"127.0.0.1:{survivor['port']}"
        assert by.get(victim_addr, 0) > 0 and by.get(survivor_addr, 0) > 0
        # the last requests were all answered by the survivor
        assert {r[3] for r in last if r[1] == 200} == {survivor_addr}
    else:
        assert failed == []
        assert [r for r in results if r[5] and r[2] != "routed"] == []  # before the kill: all routed
        # Only the streams the dead replica held are affected; a stream Envoy starts afterwards is retried
        # on the survivor (grpc_service.retry_policy on connect-failure) until the health check and
        # outlier detection have taken the dead one out.
        assert len(unrouted) + len(no_headers) <= in_flight_at_kill, unrouted + no_headers
        assert [r for r in last if r[2] != "routed"] == []  # all routed again, by the survivor
    assert fleet.proc.poll() is None  # the launcher keeps the rest of the fleet running


def test_each_fleet_envoy_gets_its_own_base_id(tmp_path: Path) -> None:
    """Envoy names its shared memory and sockets after --base-id: launchers in one PID namespace, or PIDs
    that repeat across containers, must not collide (the launcher's PID did)."""
    from semrouter.devtools.fleet import envoy_argv

    argvs = [envoy_argv("envoy", tmp_path / "envoy.yaml", 1) for _ in range(5)]
    ids = {argv[argv.index("--base-id") + 1] for argv in argvs}
    assert len(ids) == 5 and str(os.getpid()) not in ids
    assert all("--disable-hot-restart" in argv for argv in argvs)
