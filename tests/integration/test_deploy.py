"""The Helm chart and the plain manifests: Helm's own engine renders them (``helm-python-sdk``, Helm v4 as
a library), every object validates offline against the Kubernetes schemas (``kubernetes-validate
--strict``), Envoy accepts the gateway config (``envoy --mode validate``), and the routing config in the
ConfigMap is a valid semrouter config with the environment the Deployment gives it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from gateway import ROOT, require_envoy

from semrouter.adapters.extproc_headers import METADATA_NAMESPACE, envoy_response_headers

CHART = ROOT / "deploy" / "helm" / "semrouter"
K8S_VERSIONS = ["1.29.0", "1.35.0"]  # the oldest Kubernetes in upstream support when written, and a recent one

# Value sets that together switch every template branch on at least once.
VALUES: dict[str, dict[str, Any]] = {
    "defaults": {},
    "extproc-metrics": {"metrics": {"serviceMonitor": {"enabled": True}}},
    "proxy": {"router": {"mode": "proxy"}, "metrics": {"serviceMonitor": {"enabled": True}}},
    "both": {
        "router": {"mode": "both", "env": [{"name": "SEMROUTER_EXTRA", "value": "1"}]},
        "apiKeys": [{"env": "VLLM_API_KEY", "secretName": "vllm-api-key", "secretKey": "token"}],
        "milvus": {"uri": "http://milvus.data.svc:19530", "tokenSecret": {"name": "milvus-token", "key": "token"}},
        "metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
        "autoscaling": {"enabled": False},
        "podDisruptionBudget": {"enabled": False},
        "config": {
            "models": [
                {"name": "m1", "endpoints": [{"url": "${SEMROUTER_UPSTREAM_URL}", "api_key_env": "VLLM_API_KEY"}]}
            ],
            "decisions": [{"name": "general", "models": [{"model": "m1"}]}],
            "routing": {"default_decision": "general"},
            "cache": {"enabled": True, "backend": "milvus", "milvus": {"uri": "${SEMROUTER_MILVUS_URI}"}},
        },
    },
    "milvus-deploy": {"milvus": {"deploy": True, "persistence": {"size": "5Gi", "storageClassName": "fast"}}},
    "extproc-no-gateway": {
        "gateway": {"enabled": False},
        "autoscaling": {"requestRate": {"enabled": False}},
        "productionStack": {"host": "vllm-router-svc.vllm.svc.cluster.local", "port": 8000},
    },
}


def _require(module: str) -> None:
    """A local run without the tool skips; CI, which installs the test extra, fails."""
    if importlib.util.find_spec(module) is None:
        reason = f"{module} is not installed (pip install -e '.[test]')"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


def render(values: dict[str, Any]) -> dict[str, str]:
    _require("helm_python")
    import helm_python as helm

    with helm.Chart.load(str(CHART)) as chart:
        return dict(chart.render(values, name="semrouter", namespace="llm"))


def objects(values: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for name, text in render(values).items():
        if name.endswith(".yaml"):
            out += [doc for doc in yaml.safe_load_all(text) if doc]
    return out


def find(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]


def render_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("k8s_render", ROOT / "deploy" / "kubernetes" / "render.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_helm_lint_is_clean() -> None:
    _require("helm_python")
    import helm_python as helm

    result = helm.lint(str(CHART))
    assert result["errors"] == []
    # severity 1 is INFO (only "icon is recommended"); 2 and up are warnings and errors
    assert [m for m in result["messages"] if m["severity"] > 1] == []


@pytest.mark.parametrize("case", list(VALUES))
def test_every_rendered_object_validates_against_kubernetes_schemas(case: str) -> None:
    _require("kubernetes_validate")
    import kubernetes_validate

    objs = objects(VALUES[case])
    kinds = {o["kind"] for o in objs}
    assert {"ConfigMap", "Deployment", "Service"} <= kinds
    for obj in objs:
        if obj["kind"] == "ServiceMonitor":
            continue  # a CRD: no schema in the Kubernetes set; checked against its Service below
        for version in K8S_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)  # raises with the offending field


def test_values_select_what_is_rendered() -> None:
    defaults = objects({})
    assert {o["kind"] for o in defaults} == {
        "ConfigMap",
        "Deployment",
        "Service",
        "HorizontalPodAutoscaler",
        "PodDisruptionBudget",
    }
    both = objects(VALUES["both"])
    assert find(both, "ServiceMonitor") and not find(both, "HorizontalPodAutoscaler")
    assert [p["metadata"]["name"] for p in find(both, "PodDisruptionBudget")] == ["semrouter-gateway"]
    bare = objects(VALUES["extproc-no-gateway"])
    assert [d["metadata"]["name"] for d in find(bare, "Deployment")] == ["semrouter-router"]
    with pytest.raises(Exception, match=r"router\.mode"):
        render({"router": {"mode": "sidecar"}})
    with pytest.raises(Exception, match=r"router\.extprocHttpPort"):  # extproc mode, nothing would serve /metrics
        render({"metrics": {"serviceMonitor": {"enabled": True}}, "router": {"extprocHttpPort": 0}})


def test_milvus_deploy_installs_a_standalone_server_the_replicas_share() -> None:
    """milvus.deploy: one Milvus standalone pod (embedded etcd, local storage, all on one volume claim)
    behind milvus-svc :19530, which every router replica's SEMROUTER_MILVUS_URI names."""
    assert not find(objects({}), "StatefulSet") and not find(objects({}), "Service", "milvus-svc")
    objs = objects({"milvus": {**VALUES["milvus-deploy"]["milvus"], "uri": "http://elsewhere:19530"}})
    (sts,) = find(objs, "StatefulSet", "semrouter-milvus")
    (svc,) = find(objs, "Service", "milvus-svc")
    pod = sts["spec"]["template"]
    assert sts["spec"]["replicas"] == 1 and sts["spec"]["serviceName"] == "milvus-svc"
    assert svc["spec"]["selector"] == sts["spec"]["selector"]["matchLabels"] == pod["metadata"]["labels"]
    (c,) = pod["spec"]["containers"]
    assert c["image"].startswith("milvusdb/milvus:v2.5.") and c["args"] == ["milvus", "run", "standalone"]
    env = {e["name"]: e["value"] for e in c["env"]}
    assert env["DEPLOY_MODE"] == "STANDALONE" and env["ETCD_USE_EMBED"] == "true"
    assert env["COMMON_STORAGETYPE"] == "local"  # no MinIO: segments on the data volume
    mounts = {m["name"]: m for m in c["volumeMounts"]}
    (claim,) = sts["spec"]["volumeClaimTemplates"]
    assert mounts[claim["metadata"]["name"]]["mountPath"] == "/var/lib/milvus"
    assert env["ETCD_DATA_DIR"].startswith("/var/lib/milvus/")  # etcd's data persists too
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"
    assert claim["spec"]["storageClassName"] == "fast"
    etcd = mounts["etcd-config"]
    assert etcd["mountPath"] == env["ETCD_CONFIG_PATH"]
    (cm,) = find(objs, "ConfigMap", "semrouter-milvus")
    assert yaml.safe_load(cm["data"][etcd["subPath"]])["listen-client-urls"] == "http://0.0.0.0:2379"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert c[probe]["httpGet"] == {"path": "/healthz", "port": "metrics"}
    assert {p["targetPort"] for p in svc["spec"]["ports"]} <= set(ports)
    grpc = next(p["port"] for p in svc["spec"]["ports"] if p["name"] == "grpc")
    assert ports["grpc"] == grpc == 19530
    router_env = {e["name"]: e.get("value") for e in _container(objs, "semrouter-router", "extproc")["env"]}
    assert router_env["SEMROUTER_MILVUS_URI"] == f"http://milvus-svc:{grpc}"  # not milvus.uri


def _container(objs: list[dict[str, Any]], deployment: str, name: str) -> dict[str, Any]:
    (dep,) = find(objs, "Deployment", deployment)
    (container,) = [c for c in dep["spec"]["template"]["spec"]["containers"] if c["name"] == name]
    return container


@pytest.mark.parametrize("mode", ["extproc", "proxy", "both"])
def test_router_processes_ports_and_probes(mode: str) -> None:
    objs = objects({"router": {"mode": mode}})
    (dep,) = find(objs, "Deployment", "semrouter-router")
    names = [c["name"] for c in dep["spec"]["template"]["spec"]["containers"]]
    assert names == {"extproc": ["extproc"], "proxy": ["proxy"], "both": ["extproc", "proxy"]}[mode]
    (svc,) = find(objs, "Service", "semantic-router-svc")
    ports = {p["name"]: p["port"] for p in svc["spec"]["ports"]}
    if mode != "proxy":
        c = _container(objs, "semrouter-router", "extproc")
        assert c["args"][:2] == ["extproc", "--config=/etc/semrouter/router.yaml"]
        assert "--host=0.0.0.0" in c["args"]  # the config's default 127.0.0.1 is unreachable in a pod
        assert c["readinessProbe"]["grpc"] == {"port": 50051, "service": "envoy.service.ext_proc.v3.ExternalProcessor"}
        assert c["livenessProbe"]["grpc"]["port"] == 50051
        assert "--http-port=8080" in c["args"]  # the operator port: /metrics of the ext_proc process
        assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"grpc": 50051, "extproc-http": 8080}
        assert ports["grpc"] == 50051 and ports["extproc-http"] == 8080
    if mode != "extproc":
        c = _container(objs, "semrouter-router", "proxy")
        assert c["args"][:2] == ["serve", "--config=/etc/semrouter/router.yaml"]
        assert c["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert c["livenessProbe"]["httpGet"]["path"] == "/health"
        assert ports["http"] == 8801
    (headless,) = find(objs, "Service", "semantic-router-svc-headless")
    assert headless["spec"]["clusterIP"] == "None"
    assert headless["spec"]["selector"] == svc["spec"]["selector"] == dep["spec"]["selector"]["matchLabels"]


def test_config_is_mounted_as_a_directory_and_hot_reloaded_not_rolled_out() -> None:
    """A subPath mount is never updated by Kubernetes, and a checksum annotation would restart every
    replica on each config change: either would defeat hot reload."""
    objs = objects({"router": {"mode": "both"}})
    (dep,) = find(objs, "Deployment", "semrouter-router")
    pod = dep["spec"]["template"]
    assert not any(k.startswith("checksum/") for k in pod["metadata"].get("annotations", {}))
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == "config"]
    assert volume["configMap"]["name"] == "semrouter-config"
    assert "items" not in volume["configMap"]
    for c in pod["spec"]["containers"]:
        (mount,) = [m for m in c["volumeMounts"] if m["name"] == "config"]
        assert mount == {"name": "config", "mountPath": "/etc/semrouter", "readOnly": True}
    (cm,) = find(objs, "ConfigMap", "semrouter-config")
    cfg = yaml.safe_load(cm["data"]["router.yaml"])
    assert cfg["reload"]["enabled"] is True
    # ...while Envoy, which cannot reload a static config, is rolled when its config changes
    (gw,) = find(objs, "Deployment", "semrouter-gateway")
    assert "checksum/envoy-config" in gw["spec"]["template"]["metadata"]["annotations"]
    changed = objects({"router": {"mode": "both"}, "gateway": {"messageTimeout": "7s"}})
    (gw2,) = find(changed, "Deployment", "semrouter-gateway")
    assert gw2["spec"]["template"]["metadata"]["annotations"] != gw["spec"]["template"]["metadata"]["annotations"]


@pytest.mark.parametrize("case", ["defaults", "both", "extproc-no-gateway", "milvus-deploy"])
def test_configmap_holds_a_valid_config_for_the_deployment_environment(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every ${VAR} of the config, and every api_key_env, is set by the Deployment: the config loads with
    exactly the environment a pod gets (secrets stand in as placeholders)."""
    from semrouter.config.loader import parse_config

    objs = objects(VALUES[case])
    (cm,) = find(objs, "ConfigMap", "semrouter-config")
    container = _container(objs, "semrouter-router", "extproc")
    for name in [k for k in os.environ if k.startswith(("SEMROUTER_", "VLLM_"))]:
        monkeypatch.delenv(name)
    for env in container["env"]:
        monkeypatch.setenv(env["name"], env.get("value", "secret-from-" + str(env.get("valueFrom"))))
    cfg = parse_config(cm["data"]["router.yaml"], "router.yaml")
    assert cfg.cache.enabled and cfg.cache.backend == "milvus"  # replicas share the cache, nothing else
    upstream = {c: "http://vllm-router-svc/" for c in ("defaults", "both", "milvus-deploy")}.get(
        case, "http://vllm-router-svc.vllm.svc.cluster.local:8000/"
    )
    assert {str(ep.url) for m in cfg.models for ep in m.endpoints} == {upstream}
    milvus_uri = VALUES[case].get("milvus", {}).get("uri", "http://milvus-svc:19530")
    assert cfg.cache.milvus.uri == milvus_uri
    if case == "both":
        env = {e["name"]: e for e in container["env"]}
        assert env["VLLM_API_KEY"]["valueFrom"]["secretKeyRef"] == {"name": "vllm-api-key", "key": "token"}
        assert cfg.cache.milvus.token_env == "SEMROUTER_MILVUS_TOKEN"
        assert env["SEMROUTER_MILVUS_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "milvus-token", "key": "token"}
        assert env["SEMROUTER_EXTRA"] == {"name": "SEMROUTER_EXTRA", "value": "1"}


def test_autoscaling_on_cpu_and_request_rate_and_disruption_budget() -> None:
    objs = objects({})
    (hpa,) = find(objs, "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "semrouter-router"
    metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
    assert metrics["Resource"]["resource"]["name"] == "cpu"
    assert metrics["Pods"]["pods"]["metric"]["name"] == "semrouter_requests_per_second"
    (dep,) = find(objs, "Deployment", "semrouter-router")
    assert "replicas" not in dep["spec"]  # the HPA owns the replica count
    (pdb,) = find(objs, "PodDisruptionBudget", "semrouter-router")
    assert pdb["spec"]["selector"]["matchLabels"] == dep["spec"]["selector"]["matchLabels"]
    fixed = objects({"autoscaling": {"enabled": False}, "router": {"replicas": 3}})
    (dep,) = find(fixed, "Deployment", "semrouter-router")
    assert dep["spec"]["replicas"] == 3


@pytest.mark.parametrize(
    ("case", "scraped"),
    [("extproc-metrics", {"extproc-http"}), ("proxy", {"http"}), ("both", {"extproc-http", "http"})],
)
def test_service_monitor_scrapes_every_router_process(case: str, scraped: set[str]) -> None:
    """Each process of a router pod counts its own requests: the ServiceMonitor scrapes the ext_proc
    process's operator port and the proxy's port, through one Service, down to a container port."""
    objs = objects(VALUES[case])
    (sm,) = find(objs, "ServiceMonitor")
    selector = sm["spec"]["selector"]["matchLabels"]
    matched = [s for s in find(objs, "Service") if selector.items() <= s["metadata"]["labels"].items()]
    assert [s["metadata"]["name"] for s in matched] == ["semantic-router-svc"]  # not the headless one too
    assert {e["port"] for e in sm["spec"]["endpoints"]} == scraped
    assert {e["path"] for e in sm["spec"]["endpoints"]} == {"/metrics"}
    service_ports = {p["name"]: p for p in matched[0]["spec"]["ports"]}
    (dep,) = find(objs, "Deployment", "semrouter-router")
    container_ports = {p["name"] for c in dep["spec"]["template"]["spec"]["containers"] for p in c["ports"]}
    for name in scraped:
        assert service_ports[name]["targetPort"] in container_ports


@pytest.mark.parametrize("mode", ["extproc", "proxy", "both"])
def test_router_container_args_are_accepted_by_the_cli(mode: str) -> None:
    """The chart's command lines parse with semrouter's own CLI, and name the ports the pod declares."""
    from semrouter.cli import build_parser

    objs = objects({"router": {"mode": mode}})
    (dep,) = find(objs, "Deployment", "semrouter-router")
    for c in dep["spec"]["template"]["spec"]["containers"]:
        args = build_parser().parse_args(c["args"])
        declared = {p["containerPort"] for p in c["ports"]}
        assert args.port in declared
        if args.command == "extproc":
            assert args.http_port in declared


def test_gateway_runs_as_envoys_own_user_and_has_a_disruption_budget() -> None:
    """The official image's envoy user is uid/gid 101 (envoyproxy/envoy docs/root/start/docker.rst). The
    pod runs as that user from the start: the chart's `command: [envoy]` skips the image's entrypoint,
    which is what would otherwise drop root."""
    objs = objects({})
    (gw,) = find(objs, "Deployment", "semrouter-gateway")
    pod = gw["spec"]["template"]["spec"]
    assert pod["securityContext"] == {"runAsNonRoot": True, "runAsUser": 101, "runAsGroup": 101}
    (envoy,) = pod["containers"]
    assert envoy["command"] == ["envoy"]
    assert envoy["securityContext"]["allowPrivilegeEscalation"] is False
    assert envoy["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert all(p["containerPort"] > 1024 for p in envoy["ports"])  # no root needed to bind them
    (pdb,) = find(objs, "PodDisruptionBudget", "semrouter-gateway")
    assert pdb["spec"]["selector"]["matchLabels"] == gw["spec"]["selector"]["matchLabels"]
    assert pdb["spec"]["maxUnavailable"] == 1 < gw["spec"]["replicas"]
    router_pdb = find(objs, "PodDisruptionBudget", "semrouter-router")[0]
    assert router_pdb["spec"]["selector"]["matchLabels"] != pdb["spec"]["selector"]["matchLabels"]
    assert not find(objects({"gateway": {"enabled": False}}), "PodDisruptionBudget", "semrouter-gateway")


def _gateway_config(values: dict[str, Any]) -> dict[str, Any]:
    (cm,) = find(objects(values), "ConfigMap", "semrouter-gateway")
    return dict(yaml.safe_load(cm["data"]["envoy.yaml"]))


@pytest.mark.parametrize("mode", ["extproc", "proxy"])
def test_gateway_envoy_config_validates(mode: str, tmp_path: Path) -> None:
    binary = require_envoy()
    path = tmp_path / "envoy.yaml"
    path.write_text(yaml.safe_dump(_gateway_config({"router": {"mode": mode}})))
    run = subprocess.run(
        [binary, "--mode", "validate", "-c", str(path), "--disable-hot-restart"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "OK" in run.stdout + run.stderr


def test_gateway_wires_ext_proc_to_the_router_and_routes_to_the_production_stack() -> None:
    cfg = _gateway_config({"productionStack": {"host": "router.vllm", "port": 8000}, "gateway": {"port": 9000}})
    listener = next(li for li in cfg["static_resources"]["listeners"] if li["name"] == "openai")
    assert listener["address"]["socket_address"]["port_value"] == 9000
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    ext_proc = hcm["http_filters"][0]["typed_config"]
    assert ext_proc["failure_mode_allow"] is True
    assert ext_proc["grpc_service"]["envoy_grpc"]["cluster_name"] == "semrouter"
    vhost = hcm["route_config"]["virtual_hosts"][0]
    api, rest = vhost["routes"]  # the OpenAI APIs through semrouter; every other path without a gRPC stream
    assert api["route"]["cluster"] == rest["route"]["cluster"] == "production-stack"
    assert "/v1/(chat/completions" in api["match"]["safe_regex"]["regex"] and "typed_per_filter_config" not in api
    assert rest["match"] == {"prefix": "/"}
    assert rest["typed_per_filter_config"]["envoy.filters.http.ext_proc"]["disabled"] is True
    # the x-vsr-* headers of answers semrouter does not see arrive through its dynamic metadata
    assert {k: vhost[k] for k in envoy_response_headers()} == envoy_response_headers()
    assert ext_proc["metadata_options"]["receiving_namespaces"]["untyped"] == [METADATA_NAMESPACE]
    clusters = {c["name"]: c for c in cfg["static_resources"]["clusters"]}
    assert set(clusters) == {"semrouter", "production-stack"}

    def address(name: str) -> tuple[str, int]:
        sa = clusters[name]["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]
        return sa["socket_address"]["address"], sa["socket_address"]["port_value"]

    assert address("production-stack") == ("router.vllm", 8000)
    assert address("semrouter") == ("semantic-router-svc-headless", 50051)  # every pod, not one ClusterIP
    assert clusters["semrouter"]["health_checks"][0]["grpc_health_check"]
    assert clusters["semrouter"]["outlier_detection"]
    # a stream that cannot start on a dead pod is tried on another one (tests/integration/test_multi_replica.py)
    retry = ext_proc["grpc_service"]["retry_policy"]
    assert set(retry["retry_on"].split(",")) == {"connect-failure", "refused-stream"}
    assert retry["retry_host_predicate"][0]["name"] == "envoy.retry_host_predicates.previous_hosts"
    assert clusters["semrouter"]["circuit_breakers"]["thresholds"][0]["max_retries"] >= 100
    closed = _gateway_config({"gateway": {"failureModeAllow": False}})
    hcm = closed["static_resources"]["listeners"][1]["filter_chains"][0]["filters"][0]["typed_config"]
    assert hcm["http_filters"][0]["typed_config"]["failure_mode_allow"] is False


def test_proxy_mode_gateway_retries_on_another_replica() -> None:
    cfg = _gateway_config({"router": {"mode": "proxy"}})
    listener = next(li for li in cfg["static_resources"]["listeners"] if li["name"] == "openai")
    hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
    assert [f["name"] for f in hcm["http_filters"]] == ["envoy.filters.http.router"]
    assert "response_headers_to_remove" not in hcm["route_config"]["virtual_hosts"][0]  # the proxy's own stay
    (route,) = hcm["route_config"]["virtual_hosts"][0]["routes"]
    assert route["route"]["cluster"] == "semrouter-proxy"
    assert set(route["route"]["retry_policy"]["retry_on"].split(",")) >= {"connect-failure", "reset"}
    (cluster,) = cfg["static_resources"]["clusters"]
    assert cluster["health_checks"][0]["http_health_check"]["path"] == "/ready"
    assert cluster["outlier_detection"]


def test_plain_manifests_are_rendered_from_the_current_chart() -> None:
    """deploy/kubernetes/*.yaml must be re-rendered after every chart change: python deploy/kubernetes/render.py"""
    _require("helm_python")
    script = render_script()
    for name, values in script.VARIANTS.items():
        path = ROOT / "deploy" / "kubernetes" / name
        assert path.read_text() == script.render(values), f"{name} is stale: run python deploy/kubernetes/render.py"
        docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
        assert len(docs) == len(objects(values))


def test_plain_manifests_are_not_labelled_as_helm_managed() -> None:
    """kubectl applies them: a managed-by Helm label would make `helm install` over them, or tools that
    trust the label, take kubectl's objects for a Helm release. Everything else of the chart stays."""
    _require("kubernetes_validate")
    import kubernetes_validate

    for name, values in render_script().VARIANTS.items():
        text = (ROOT / "deploy" / "kubernetes" / name).read_text()
        assert "managed-by" not in text
        docs = [d for d in yaml.safe_load_all(text) if d]
        for doc, chart_obj in zip(docs, sorted(objects(values), key=_identity), strict=True):
            chart_obj["metadata"]["labels"].pop("app.kubernetes.io/managed-by")
            assert doc == chart_obj
            for version in K8S_VERSIONS:
                kubernetes_validate.validate(doc, version, strict=True)


def _identity(obj: dict[str, Any]) -> tuple[int, str, str]:
    order = render_script()._KIND_ORDER
    kind = obj["kind"]
    return (order.index(kind) if kind in order else len(order)), kind, obj["metadata"]["name"]


def test_chart_and_local_fleet_gateways_fail_over_ext_proc_streams_alike(monkeypatch: pytest.MonkeyPatch) -> None:
    """`semrouter fleet --mode extproc`, where replica failover is tested on loopback, and the chart's
    gateway give the ext_proc stream the same retry policy and failure mode."""
    from semrouter.config.loader import load_config
    from semrouter.devtools.fleet import envoy_config

    monkeypatch.setenv("SEMROUTER_MILVUS_URI", "http://127.0.0.1:19530")
    local = envoy_config(
        "extproc",
        load_config(ROOT / "deploy" / "local" / "router.yaml"),
        [1, 2],
        host="127.0.0.1",
        port=8080,
        admin=9901,
    )

    def ext_proc(cfg: dict[str, Any]) -> dict[str, Any]:
        listener = next(li for li in cfg["static_resources"]["listeners"] if li["name"] == "openai")
        hcm = listener["filter_chains"][0]["filters"][0]["typed_config"]
        return dict(hcm["http_filters"][0]["typed_config"])

    chart, fleet = ext_proc(_gateway_config({})), ext_proc(local)
    assert chart["failure_mode_allow"] is fleet["failure_mode_allow"] is True
    for key in ("retry_on", "retry_host_predicate", "host_selection_retry_max_attempts"):
        assert chart["grpc_service"]["retry_policy"][key] == fleet["grpc_service"]["retry_policy"][key]
    (replicas,) = [c for c in local["static_resources"]["clusters"] if c["name"] == "semrouter"]
    assert len(replicas["load_assignment"]["endpoints"][0]["lb_endpoints"]) == 2
    assert replicas["health_checks"][0]["grpc_health_check"] and replicas["outlier_detection"]


# -- the container image --------------------------------------------------------------------------

DOCKERFILE = ROOT / "deploy" / "kubernetes" / "Dockerfile"


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped), stage by stage."""
    stages: list[list[tuple[str, str]]] = []
    logical = ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        logical += line.rstrip("\\").strip() + " "
        if line.endswith("\\"):
            continue
        keyword, _, rest = logical.strip().partition(" ")
        if keyword.upper() == "FROM":
            stages.append([])
        stages[-1].append((keyword.upper(), rest.strip()))
        logical = ""
    return stages


def test_dockerfile_builds_the_image_the_chart_runs() -> None:
    """No Docker engine here: the Dockerfile is checked against the chart instead (user, ports,
    entrypoint, HOME) and against the repository (what it copies, the extra it installs)."""
    import tomllib

    *_, final = dockerfile_stages()
    instructions: dict[str, list[str]] = {}
    for keyword, rest in final:
        instructions.setdefault(keyword, []).append(rest)
    assert instructions["FROM"] == ["python:3.11-slim"]
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    pod = values["router"]["podSecurityContext"]
    assert instructions["USER"] == [f"{pod['runAsUser']}:{pod['runAsGroup']}"]  # numeric: runAsNonRoot can check it
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] != 0
    (run,) = instructions["RUN"]
    assert f"--uid {pod['runAsUser']}" in run and f"--gid {pod['runAsGroup']}" in run
    env = " ".join(instructions["ENV"])
    assert "HOME=/tmp" in env  # the chart mounts /tmp; the root filesystem is read-only
    assert json.loads(instructions["ENTRYPOINT"][0]) == ["semrouter"]
    exposed = {int(p) for p in instructions["EXPOSE"][0].split()}
    assert {values["router"][k] for k in ("grpcPort", "extprocHttpPort", "httpPort")} == exposed
    for mode in ("extproc", "proxy", "both"):
        (dep,) = find(objects({"router": {"mode": mode}}), "Deployment", "semrouter-router")
        pod_spec = dep["spec"]["template"]["spec"]
        assert pod_spec["securityContext"] == pod
        for c in pod_spec["containers"]:
            assert "command" not in c  # the image's entrypoint runs the chart's args
            assert c["image"] == f"{values['image']['repository']}:0.1.0"
            assert any(m["mountPath"] == "/tmp" for m in c["volumeMounts"])
    # what it copies exists, and the extra it installs is the package's (pymilvus for the shared cache)
    (build, _final) = dockerfile_stages()
    for keyword, rest in build:
        if keyword == "COPY":
            *sources, _dest = rest.split()
            assert all((ROOT / s).exists() for s in sources), rest
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert '"${wheel}[milvus]"' in run and any(d.startswith("pymilvus") for d in extras["milvus"])
    assert "semrouter/" in (DOCKERFILE.parent / "Dockerfile.dockerignore").read_text()


def test_the_package_the_image_installs_carries_its_models(tmp_path: Path) -> None:
    """The wheel the Dockerfile builds holds the model weights: installed alone (no source tree, an
    empty HOME), the built-in config routes a request with the embedding model, the domain head and the
    guards."""
    import shutil
    import sys

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "semrouter", src / "semrouter", ignore=shutil.ignore_patterns("__pycache__"))
    wheels = tmp_path / "wheels"
    pip = [sys.executable, "-m", "pip"]
    build = subprocess.run(
        [*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(wheels), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    (wheel,) = wheels.glob("semrouter-*.whl")
    site = tmp_path / "site"
    install = subprocess.run(
        [*pip, "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stderr[-2000:]
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site), "HOME": str(home), "HF_HUB_OFFLINE": "1"}
    item = json.dumps({"id": "q", "text": "What is the integral of x^2 from 0 to 3?"})
    routed = subprocess.run(
        [sys.executable, "-c", "import semrouter, sys; print(semrouter.__file__, file=sys.stderr)"],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=60,
    )
    assert routed.stderr.strip().startswith(str(site)), routed.stderr  # the wheel's copy, not the source tree
    routed = subprocess.run(
        [sys.executable, "-m", "semrouter", "route", "-i", "-", "-o", "-", "--no-progress"],
        input=item + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=120,
    )
    assert routed.returncode == 0, routed.stderr[-2000:]
    (line,) = routed.stdout.splitlines()
    out = json.loads(line)["route"]
    assert (out["decision"], out["model"]) == ("math", "qwen3-32b"), out
    assert out["signals"]["domain"]["matched"] and out["signals"]["jailbreak"]["confidence"] >= 0
    # nothing was downloaded under HOME: onnxruntime writes a small device-id file there, nothing more
    written = [f for f in home.rglob("*") if f.is_file()]
    assert all(".onnxruntime" in f.parts and f.stat().st_size < 64 * 1024 for f in written), written
