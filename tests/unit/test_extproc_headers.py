"""The x-vsr-* headers Envoy copies from semrouter's dynamic metadata (``extproc.response_phase: auto``).

When nothing reads an answer, semrouter skips its headers phase behind Envoy, and the routing answer's
metadata is the only way its ``x-vsr-*`` headers reach the client: a header missing from the list, or from
an Envoy config, would silently never arrive. These tests hold the list, the code and the configs together.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from envoy.service.ext_proc.v3 import external_processor_pb2 as pb

from semrouter.adapters import extproc
from semrouter.adapters.extproc_headers import (
    API_PATH_REGEX,
    METADATA_NAMESPACE,
    RESPONSE_HEADERS,
    envoy_response_headers,
)

ROOT = Path(__file__).resolve().parents[2]
STATIC = ["deploy/envoy/envoy.yaml", "deploy/envoy/envoy-production-stack.yaml"]
TEMPLATED = ["deploy/kubernetes/semrouter.yaml", "deploy/helm/semrouter/templates/gateway-configmap.yaml"]

# x-vsr-* names in the code that are not on a forwarded answer's routing headers, and why
NOT_FORWARDED = {
    "x-vsr-cache-control": "a request header (the client's cache directive)",
    "x-vsr-cache-similarity": "cache hits only: semrouter answers those itself",
    "x-vsr-cache-verifier": "cache hits only",
    "x-vsr-cache-followed-from": "cache hits only",
    "x-vsr-limit": "429 answers, made by semrouter",
    "x-vsr-cascade": "the HTTP proxy's cascade (the proxy calls the workers)",
    "x-vsr-cascade-path": "the HTTP proxy's cascade",
    "x-vsr-fallback-from": "the HTTP proxy's fallback (behind Envoy, Envoy retries)",
    "x-vsr-destination-endpoint": "the HTTP proxy's endpoint choice (behind Envoy, Envoy picks)",
    "x-vsr-replica": "set by the fleet's Envoy itself",
}


def _vhost(cfg: dict[str, Any]) -> dict[str, Any]:
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return dict(hcm["route_config"]["virtual_hosts"][0])


def test_every_header_the_code_sets_is_listed_or_never_on_a_forwarded_answer() -> None:
    names: set[str] = set()
    for path in (ROOT / "semrouter").rglob("*.py"):
        names |= set(re.findall(r"[\"'](x-vsr-[a-z0-9-]+)[\"']", path.read_text()))
    unknown = names - set(RESPONSE_HEADERS) - set(NOT_FORWARDED)
    assert not unknown, f"add {sorted(unknown)} to RESPONSE_HEADERS (and the Envoy configs) or to NOT_FORWARDED"
    assert not set(RESPONSE_HEADERS) & set(NOT_FORWARDED)


@pytest.mark.parametrize("name", STATIC)
def test_shipped_envoy_configs_copy_exactly_the_listed_headers(name: str) -> None:
    cfg = yaml.safe_load((ROOT / name).read_text())
    vhost = _vhost(cfg)
    want = envoy_response_headers()
    assert vhost["response_headers_to_remove"] == want["response_headers_to_remove"]
    assert vhost["response_headers_to_add"] == want["response_headers_to_add"]
    text = (ROOT / name).read_text()
    assert f"receiving_namespaces: {{untyped: [{METADATA_NAMESPACE}]}}" in text


@pytest.mark.parametrize("name", TEMPLATED)
def test_templated_envoy_configs_copy_every_listed_header(name: str) -> None:
    text = (ROOT / name).read_text()
    for header in RESPONSE_HEADERS:
        assert f'value: "%DYNAMIC_METADATA({METADATA_NAMESPACE}:{header})%"' in text, header
    assert f"receiving_namespaces: {{untyped: [{METADATA_NAMESPACE}]}}" in text


def test_the_fleet_gateway_copies_them_too() -> None:
    from semrouter.config.schema import RouterConfig
    from semrouter.devtools.fleet import envoy_config

    cfg = RouterConfig.model_validate(
        {
            "models": [{"name": "m", "endpoints": [{"url": "http://127.0.0.1:9"}]}],
            "decisions": [{"name": "d", "models": [{"model": "m"}]}],
        }
    )
    out = envoy_config("extproc", cfg, [50051], host="127.0.0.1", port=8080, admin=9901)
    assert {k: _vhost(out)[k] for k in envoy_response_headers()} == envoy_response_headers()
    proxy = envoy_config("proxy", cfg, [8801], host="127.0.0.1", port=8080, admin=9901)
    assert "response_headers_to_add" not in _vhost(proxy)
    # ext_proc only where semrouter serves: the API routes, not a models listing or a health probe
    routes = _vhost(out)["routes"]
    assert routes[-2]["match"] == {"safe_regex": {"regex": API_PATH_REGEX}}
    assert routes[-1]["match"] == {"prefix": "/"}
    assert routes[-1]["typed_per_filter_config"]["envoy.filters.http.ext_proc"]["disabled"] is True
    assert not any("typed_per_filter_config" in r for r in routes[:-1])

    # a renamed request id header goes back under its name
    renamed = cfg.model_copy(update={"server": cfg.server.model_copy(update={"request_id_header": "x-correlation-id"})})
    added = [
        h["header"]["key"]
        for h in _vhost(envoy_config("extproc", renamed, [50051], host="127.0.0.1", port=8080, admin=9901))[
            "response_headers_to_add"
        ]
    ]
    assert "x-correlation-id" in added and "x-request-id" not in added
    assert len(added) == len(RESPONSE_HEADERS)


def test_the_api_route_regex_is_the_paths_semrouter_serves() -> None:
    from semrouter.adapters.intake import API_PATHS, DIALECTS

    served = set(API_PATHS) | set(DIALECTS)
    assert all(re.fullmatch(API_PATH_REGEX, p) for p in served)
    alternatives = API_PATH_REGEX.split("(", 1)[1].rstrip(")").split("|")
    assert {"/v1/" + a for a in alternatives} == served
    for name in STATIC + TEMPLATED:  # the shipped configs route the same paths through ext_proc
        assert f'safe_regex: {{regex: "{API_PATH_REGEX}"}}' in (ROOT / name).read_text(), name


def test_the_metadata_bytes_are_the_struct_envoy_reads() -> None:
    headers = {"x-vsr-selected-model": "qwen3-8b", "x-request-id": "r-1", "x-vsr-pii-types": ""}
    msg = pb.ProcessingResponse.FromString(extproc._metadata(headers))
    assert dict(msg.dynamic_metadata.fields[METADATA_NAMESPACE].struct_value) == headers
    again = pb.ProcessingResponse.FromString(extproc._metadata(headers))  # from the memo: the same bytes
    assert again == msg
