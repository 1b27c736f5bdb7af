"""``semrouter fleet``: the Kubernetes topology on one machine, without Kubernetes.

    Envoy :8080 ──► semrouter replica 1 ─┐
          (LB,  └─► semrouter replica 2 ─┼─► Milvus or Redis (the shared semantic cache, --cache)
         retries)      ...               └─► the workers of the config (fake ones with --fake-workers)

Every replica runs the same config file (an edit reaches all of them through hot reload, as a
ConfigMap update does in the cluster) and shares nothing else but Milvus, so any replica can answer
any request, and a repeat of a question answered by one replica is a cache hit on another.

Two modes, as in the Helm chart:

* ``proxy`` (default): the replicas are ``semrouter serve``; Envoy balances requests over them,
  health-checks ``/ready`` and retries a request that a replica refused or dropped
  (``retry_on: connect-failure,refused-stream,reset``) on another replica, and ejects a replica that
  keeps failing. Killing a replica loses nothing but the requests whose answer had already started.
* ``extproc``: the replicas are ``semrouter extproc`` (each with its operator HTTP port, listed in
  fleet.json); Envoy's ext_proc cluster has one host per replica, health-checked over gRPC, and Envoy
  itself calls the workers (one cluster per model, routed on ``x-selected-model``). A stream that
  cannot start on a dead replica is retried on another (``grpc_service.retry_policy``); a stream cut
  by a dying replica is not: with ``failure_mode_allow`` that request goes on (unrouted if it was
  still being decided, without semrouter's response headers if it was already routed), so nothing
  fails. docs/deploy.md, "Losing a replica", says what is lost in each mode.

The launcher writes ``fleet.json`` in its run directory (every process with its port and process
group) and stops everything on SIGTERM/SIGINT. It does not restart a replica that dies (in a cluster
the Deployment does).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import yaml

from semrouter.adapters.extproc_headers import API_PATH_REGEX, METADATA_NAMESPACE, envoy_response_headers
from semrouter.config.loader import load_config
from semrouter.config.schema import RouterConfig
from semrouter.ports import free_port

Mode = Literal["proxy", "extproc"]
ENVOY_VERSION = "1.40.0"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass
class Member:
    """One process of the fleet, as written to fleet.json."""

    role: str  # replica | worker | milvus | redis | envoy
    name: str
    port: int
    pid: int
    pgid: int
    url: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def find_envoy(explicit: str | None = None) -> str:
    """--envoy, else SEMROUTER_ENVOY_BIN, else ``envoy`` on PATH, else where deploy/envoy/install-envoy.sh
    puts it (the same search as the tests)."""
    for candidate in (explicit, os.environ.get("SEMROUTER_ENVOY_BIN"), shutil.which("envoy")):
        if candidate:
            return candidate
    default = Path.home() / ".cache" / "semrouter" / f"envoy-{ENVOY_VERSION}" / "envoy"
    if default.exists():
        return str(default)
    raise SystemExit("no Envoy binary: run deploy/envoy/install-envoy.sh, or pass --envoy / set SEMROUTER_ENVOY_BIN")


# -- the Envoy config ------------------------------------------------------------------------------


def _router_filter() -> dict[str, Any]:
    return {
        "name": "envoy.filters.http.router",
        "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router"},
    }


def _hosts(addresses: list[tuple[str, int]]) -> list[dict[str, Any]]:
    return [{"endpoint": {"address": {"socket_address": {"address": h, "port_value": p}}}} for h, p in addresses]


def _replica_cluster(name: str, ports: list[int], mode: Mode) -> dict[str, Any]:
    """One host per replica, actively health-checked (fast: this is a loopback demo) and ejected on
    consecutive failures, so a dead replica stops getting traffic within about a second."""
    cluster: dict[str, Any] = {
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "lb_policy": "ROUND_ROBIN",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{"lb_endpoints": _hosts([("127.0.0.1", p) for p in ports])}],
        },
        "health_checks": [
            {
                "timeout": "1s",
                "interval": "0.5s",
                "no_traffic_interval": "0.5s",
                "unhealthy_threshold": 2,
                "healthy_threshold": 1,
                **(
                    {"http_health_check": {"path": "/ready"}}
                    if mode == "proxy"
                    else {"grpc_health_check": {"service_name": "envoy.service.ext_proc.v3.ExternalProcessor"}}
                ),
            }
        ],
        # Envoy allows 3 concurrent retries per cluster by default: a replica that dies with more requests
        # in flight needs one retry each, at once.
        "circuit_breakers": {"thresholds": [{"max_retries": 1000}]},
        "outlier_detection": {
            "consecutive_5xx": 5,
            "consecutive_gateway_failure": 2,
            "interval": "1s",
            "base_ejection_time": "10s",
            "max_ejection_percent": 50,
        },
    }
    if mode == "extproc":
        cluster["typed_extension_protocol_options"] = {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}},
            }
        }
    return cluster


def _other_host() -> dict[str, Any]:
    """Retry on another replica than the ones already tried."""
    return {
        "retry_host_predicate": [
            {
                "name": "envoy.retry_host_predicates.previous_hosts",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                },
            }
        ],
        "host_selection_retry_max_attempts": 3,
    }


def _model_clusters(config: RouterConfig) -> list[dict[str, Any]]:
    """extproc mode: Envoy calls the workers itself, one cluster per model (as deploy/envoy/envoy.yaml)."""
    clusters = []
    for model in config.models:
        addresses = []
        for ep in model.endpoints:
            parts = urlsplit(str(ep.url))
            addresses.append((parts.hostname or "127.0.0.1", parts.port or (443 if parts.scheme == "https" else 80)))
        clusters.append(
            {
                "name": model.name,
                "type": "STRICT_DNS",
                "connect_timeout": "2s",
                "load_assignment": {"cluster_name": model.name, "endpoints": [{"lb_endpoints": _hosts(addresses)}]},
            }
        )
    return clusters


def envoy_config(
    mode: Mode, config: RouterConfig, replica_ports: list[int], *, host: str, port: int, admin: int
) -> dict[str, Any]:
    """The gateway's config for the replicas on ``replica_ports``."""
    retry = {
        # the replica refused the connection, or dropped it before answering: another replica can answer
        "retry_on": "connect-failure,refused-stream,reset",
        "num_retries": 2,
        **_other_host(),
    }
    # Which replica answered (for people and tests; Envoy knows, semrouter does not).
    replica_header = [{"header": {"key": "x-vsr-replica", "value": "%UPSTREAM_REMOTE_ADDRESS%"}}]
    filters: list[dict[str, Any]] = []
    vhost: dict[str, Any] = {}  # extproc: the x-vsr-* headers of answers semrouter does not see
    if mode == "proxy":
        routes = [
            {
                "match": {"prefix": "/"},
                "route": {"cluster": "semrouter", "timeout": "0s", "idle_timeout": "120s", "retry_policy": retry},
                "response_headers_to_add": replica_header,
            }
        ]
        clusters = [_replica_cluster("semrouter", replica_ports, mode)]
    else:
        decision = config.decision(config.routing.default_decision)
        default_model = decision.models[0].model if decision else config.models[0].name
        header = config.extproc.routing_header
        routes = [
            {
                "match": {"prefix": "/", "headers": [{"name": header, "string_match": {"exact": m.name}}]},
                "route": {"cluster": m.name, "timeout": "0s", "idle_timeout": "120s"},
            }
            for m in config.models
        ]
        # the APIs semrouter serves, until it names a model (or when it is down): the default model; every
        # other path (models listing, health) too, without asking semrouter (no gRPC stream for it)
        routes.append(
            {"match": {"safe_regex": {"regex": API_PATH_REGEX}}, "route": {"cluster": default_model, "timeout": "0s"}}
        )
        routes.append(
            {
                "match": {"prefix": "/"},
                "route": {"cluster": default_model, "timeout": "0s"},
                "typed_per_filter_config": {
                    "envoy.filters.http.ext_proc": {
                        "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExtProcPerRoute",
                        "disabled": True,
                    }
                },
            }
        )
        filters.append(
            {
                "name": "envoy.filters.http.ext_proc",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.filters.http.ext_proc.v3.ExternalProcessor",
                    # A stream that could not start (the replica is dead, or going) is retried on another
                    # replica; a stream cut after semrouter answered a phase cannot be (failure_mode_allow).
                    "grpc_service": {
                        "envoy_grpc": {"cluster_name": "semrouter"},
                        "timeout": "30s",
                        "retry_policy": {
                            "retry_on": "connect-failure,refused-stream",
                            "num_retries": 2,
                            "retry_back_off": {"base_interval": "0.01s", "max_interval": "0.1s"},
                            **_other_host(),
                        },
                    },
                    "failure_mode_allow": True,
                    "message_timeout": "5s",
                    "allow_mode_override": True,
                    "metadata_options": {"receiving_namespaces": {"untyped": [METADATA_NAMESPACE]}},
                    "processing_mode": {
                        "request_header_mode": "SEND",
                        "request_body_mode": "BUFFERED",
                        "response_header_mode": "SEND",
                        "response_body_mode": "STREAMED",
                        "request_trailer_mode": "SKIP",
                        "response_trailer_mode": "SKIP",
                    },
                },
            }
        )
        clusters = [_replica_cluster("semrouter", replica_ports, mode), *_model_clusters(config)]
        vhost = envoy_response_headers(config.server.request_id_header)
    hcm: dict[str, Any] = {
        "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3."
        "HttpConnectionManager",
        "stat_prefix": "openai",
        "stream_idle_timeout": "300s",
        "request_timeout": "60s",
        "route_config": {
            "name": "fleet",
            "virtual_hosts": [{"name": "fleet", "domains": ["*"], "routes": routes, **vhost}],
        },
        "http_filters": [*filters, _router_filter()],
    }
    if mode == "extproc":  # only semrouter may choose the route
        hcm["early_header_mutation_extensions"] = [
            {
                "name": "envoy.http.early_header_mutation.header_mutation",
                "typed_config": {
                    "@type": "type.googleapis.com/envoy.extensions.http.early_header_mutation.header_mutation.v3."
                    "HeaderMutation",
                    "mutations": [{"remove": config.extproc.routing_header}],
                },
            }
        ]
    return {
        "admin": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": admin}}},
        "overload_manager": {
            "resource_monitors": [
                {
                    "name": "envoy.resource_monitors.global_downstream_max_connections",
                    "typed_config": {
                        "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3."
                        "DownstreamConnectionsConfig",
                        "max_active_downstream_connections": 50000,
                    },
                }
            ]
        },
        "static_resources": {
            "listeners": [
                {
                    "name": "openai",
                    "address": {"socket_address": {"address": host, "port_value": port}},
                    "per_connection_buffer_limit_bytes": config.server.max_body_bytes,
                    "filter_chains": [
                        {"filters": [{"name": "envoy.filters.network.http_connection_manager", "typed_config": hcm}]}
                    ],
                }
            ],
            "clusters": clusters,
        },
    }


def envoy_argv(binary: str, config: Path, concurrency: int) -> list[str]:
    """Envoy's command line. The base id is random, as in tests/gateway.py: Envoy names its shared memory
    and domain sockets after it, and a PID can repeat across containers or PID namespaces on one host,
    so two fleets (or a fleet and a test's Envoy) could otherwise collide."""
    argv = [binary, "-c", str(config), "--disable-hot-restart", "--concurrency", str(concurrency)]
    return [*argv, "--base-id", str(random.randrange(1, 2**30)), "--log-level", "warn"]


# -- the launcher -------------------------------------------------------------------------------------


def _wait(check: Any, what: str, proc: subprocess.Popen[bytes], log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:] if log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode}:\n{tail}")
        with contextlib.suppress(Exception):
            if check():
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} did not become ready in {timeout:g}s (log: {log})")
        time.sleep(0.1)


def _http_ok(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=1) as r:
        return bool(r.status == 200)


def _grpc_serving(port: int) -> bool:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=""), timeout=1)
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


def _port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1):
        return True


class FleetLauncher:
    """Starts Milvus, the fake workers (optional), the replicas and Envoy, in that order, each waited for."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.mode: Mode = args.mode
        # absolute, not resolved: the path must keep going through a ConfigMap-style ..data symlink
        self.config_path = Path(args.config).absolute()
        self.run_dir = (
            Path(args.run_dir).resolve() if args.run_dir else Path(tempfile.mkdtemp(prefix="semrouter-fleet-"))
        )
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.members: list[Member] = []
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.env = dict(os.environ)

    def _spawn(
        self,
        role: str,
        name: str,
        port: int,
        argv: list[str],
        url: str = "",
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.Popen[bytes]:
        log = self.run_dir / f"{name}.log"
        with open(log, "ab") as out:
            # Its own process group: stopping (or killing) a member stops every process it spawned, such as
            # granian's worker processes.
            proc = subprocess.Popen(
                argv, env=env or self.env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.procs[name] = proc
        self.members.append(Member(role, name, port, proc.pid, proc.pid, url))
        return proc

    def start_milvus(self) -> None:
        if self.args.milvus_uri:
            self.env["SEMROUTER_MILVUS_URI"] = self.args.milvus_uri
            return
        # milvus-lite 2.5.x ships the C++ Milvus binary; its Server class knows the command line. It is
        # started like every other member (own process group, stopped by signal), not through Server.start,
        # whose process outlives a launcher that is killed.
        server_class: Any = importlib.import_module("milvus_lite.server").Server
        port = self.args.milvus_port or free_port()
        data = self.run_dir / "milvus"
        data.mkdir(exist_ok=True)
        server = server_class(str(data / "cache.db"), f"127.0.0.1:{port}")
        lib = str(Path(server.milvus_bin).parent)
        env = {**self.env, "LD_LIBRARY_PATH": lib + os.pathsep + self.env.get("LD_LIBRARY_PATH", "")}
        uri = f"http://127.0.0.1:{port}"
        proc = self._spawn("milvus", "milvus", port, [str(a) for a in server.args], uri, env=env, cwd=data)
        _wait(lambda: _port_open(port), "milvus", proc, self.run_dir / "milvus.log", 60)
        self.env["SEMROUTER_MILVUS_URI"] = uri

    def start_redis(self) -> None:
        """``--cache redis``: a Redis-protocol server with vector search (valkey + RediSearch from the
        installed wheels, see :func:`semrouter.cache.redis.local_server_argv`), or ``--redis-url``'s."""
        if self.args.redis_url:
            self.env["SEMROUTER_REDIS_URL"] = self.args.redis_url
            return
        from semrouter.cache.redis import local_server_argv

        port = self.args.redis_port or free_port()
        data = self.run_dir / "redis"
        data.mkdir(exist_ok=True)
        url = f"redis://127.0.0.1:{port}/0"
        proc = self._spawn("redis", "redis", port, local_server_argv(port, data), url, cwd=data)
        _wait(lambda: _port_open(port), "redis", proc, self.run_dir / "redis.log", 30)
        self.env["SEMROUTER_REDIS_URL"] = url

    def start_fake_workers(self, config: RouterConfig) -> None:
        """A fake worker on every loopback endpoint of the config, answering as that endpoint's model."""
        started: set[int] = set()
        for model in config.models:
            for ep in model.endpoints:
                parts = urlsplit(str(ep.url))
                if parts.hostname not in LOOPBACK or parts.port is None or parts.port in started:
                    continue
                started.add(parts.port)
                name = f"worker-{model.name}-{parts.port}"
                argv = [sys.executable, "-m", "semrouter", "fake-worker", "--port", str(parts.port)]
                argv += ["--model", ep.served_model or model.name, *self.args.worker_arg]
                proc = self._spawn("worker", name, parts.port, argv, f"http://127.0.0.1:{parts.port}")
                _wait(
                    lambda p=parts.port: _http_ok(f"http://127.0.0.1:{p}/health"),
                    name,
                    proc,
                    self.run_dir / f"{name}.log",
                    30,
                )

    def start_replicas(self) -> list[int]:
        ports = []
        pending = []
        for i in range(self.args.replicas):
            port = free_port()
            name = f"replica-{i + 1}"
            extra: dict[str, Any] = {}
            if self.mode == "proxy":
                argv = ["serve", "--config", str(self.config_path), "--port", str(port)]
                argv += ["--engine", self.args.engine, "--workers", "1"]
                url = f"http://127.0.0.1:{port}"
            else:  # with its operator HTTP port: /metrics, /api/v1/status, the dashboard of each replica
                http = free_port()
                argv = ["extproc", "--config", str(self.config_path), "--port", str(port), "--http-port", str(http)]
                url = f"127.0.0.1:{port}"
                extra["http_url"] = f"http://127.0.0.1:{http}"
            argv += ["--host", "127.0.0.1", "--log-level", self.args.log_level]
            proc = self._spawn("replica", name, port, [sys.executable, "-m", "semrouter", *argv], url)
            self.members[-1].extra = extra
            pending.append((name, port, proc))
            ports.append(port)
        for name, port, proc in pending:  # started together, waited for together: model loads overlap
            # what Envoy's health check asks too: start-up done (model warm, cache connected)
            check = (
                (lambda p=port: _http_ok(f"http://127.0.0.1:{p}/ready"))
                if self.mode == "proxy"
                else (lambda p=port: _grpc_serving(p))
            )
            _wait(check, name, proc, self.run_dir / f"{name}.log", 120)
        return ports

    def start_envoy(self, config: RouterConfig, replica_ports: list[int]) -> None:
        binary = find_envoy(self.args.envoy)
        admin = self.args.admin_port or free_port()
        cfg = envoy_config(self.mode, config, replica_ports, host=self.args.host, port=self.args.port, admin=admin)
        path = self.run_dir / "envoy.yaml"
        path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        argv = envoy_argv(binary, path, self.args.envoy_concurrency)
        proc = self._spawn("envoy", "envoy", self.args.port, argv, f"http://{self.args.host}:{self.args.port}")
        self.members[-1].extra = {"admin": admin, "config": str(path)}
        _wait(lambda: _http_ok(f"http://127.0.0.1:{admin}/ready"), "envoy", proc, self.run_dir / "envoy.log", 30)

    def write_state(self) -> Path:
        state = {
            "mode": self.mode,
            "config": str(self.config_path),
            "url": f"http://{self.args.host}:{self.args.port}",
            "members": [asdict(m) for m in self.members],
        }
        path = self.run_dir / "fleet.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(path)  # readers never see half a file
        return path

    def start(self) -> None:
        if self.args.cache == "redis":
            self.start_redis()
        else:
            self.start_milvus()
        os.environ.update(self.env)  # the config below reads ${SEMROUTER_MILVUS_URI} like the replicas do
        config = load_config(self.config_path)
        if config.cache.enabled and config.cache.backend not in (self.args.cache, "memory"):
            raise SystemExit(
                f"the config's cache.backend is {config.cache.backend} but the fleet was started with "
                f"--cache {self.args.cache}: the replicas would not share the store it started"
            )
        if self.args.fake_workers:
            self.start_fake_workers(config)
        ports = self.start_replicas()
        self.start_envoy(config, ports)

    def watch(self, reported: set[str]) -> None:
        """Say once when a member died (a killed replica is not restarted: Envoy routes around it)."""
        for name, proc in self.procs.items():
            if proc.poll() is not None and name not in reported:
                reported.add(name)
                print(f"{name} exited with {proc.returncode}", flush=True)

    def stop(self) -> None:
        procs = list(reversed(self.procs.values()))  # Envoy first, workers last
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            with contextlib.suppress(ProcessLookupError):  # no orphan (granian worker) may outlive its member
                os.killpg(proc.pid, signal.SIGKILL)


def add_parser(sub: Any) -> None:
    p = sub.add_parser(
        "fleet",
        help="run Envoy in front of several semrouter replicas sharing one cache store (the cluster topology, locally)",
        description="Envoy in front of N semrouter replicas that share the config file and a Milvus or Redis server.",
    )
    p.add_argument("--config", "-c", required=True, help="the config every replica runs (hot-reloaded by each)")
    p.add_argument("--replicas", "-n", type=int, default=2)
    p.add_argument("--mode", choices=["proxy", "extproc"], default="proxy", help="what the replicas run (see docs)")
    p.add_argument("--port", type=int, default=8080, help="Envoy's listener (the fleet's address)")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--admin-port", type=int, help="Envoy's admin port (default: a free one)")
    p.add_argument("--milvus-uri", help="use this Milvus server instead of starting Milvus Lite")
    p.add_argument("--milvus-port", type=int, help="port of the Milvus Lite server started (default: a free one)")
    p.add_argument(
        "--cache",
        choices=["milvus", "redis"],
        default="milvus",
        help="the shared cache store to start: Milvus Lite's server (SEMROUTER_MILVUS_URI) or a Redis-protocol "
        "server with vector search (SEMROUTER_REDIS_URL); the config's cache.backend must match",
    )
    p.add_argument("--redis-url", help="with --cache redis: use this server instead of starting one")
    p.add_argument("--redis-port", type=int, help="port of the Redis server started (default: a free one)")
    p.add_argument("--fake-workers", action="store_true", help="start a fake worker on each loopback endpoint")
    p.add_argument(
        "--worker-arg",
        action="append",
        default=[],
        help="extra argument for each fake worker, e.g. --worker-arg=--latency-ms=50 (repeatable)",
    )
    p.add_argument("--engine", choices=["granian", "uvicorn"], default="granian", help="proxy replicas' HTTP server")
    p.add_argument("--envoy", help="Envoy binary (default: SEMROUTER_ENVOY_BIN, PATH, install-envoy.sh's place)")
    p.add_argument("--envoy-concurrency", type=int, default=1, help="Envoy worker threads")
    p.add_argument("--run-dir", help="logs, Envoy config and fleet.json (default: a new temporary directory)")
    p.add_argument("--log-level", default="warning")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.replicas < 1:
        raise SystemExit("--replicas must be at least 1")
    launcher = FleetLauncher(args)
    stop = False

    def on_signal(signum: int, frame: Any) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        launcher.start()
        state = launcher.write_state()
        replicas = [m for m in launcher.members if m.role == "replica"]
        print(
            f"semrouter fleet ({launcher.mode}): {len(replicas)} replicas behind Envoy on http://{args.host}:{args.port}"
        )
        for m in launcher.members:
            print(f"  {m.role:8} {m.name:24} {m.url or m.port}  pid {m.pid}")
        print(f"  state: {state}   logs: {launcher.run_dir}")
        print("Edit the config file: every replica reloads it. Ctrl-C stops the fleet.", flush=True)
        reported: set[str] = set()
        while not stop:
            time.sleep(0.2)
            launcher.watch(reported)
    finally:
        launcher.stop()
    return 0
