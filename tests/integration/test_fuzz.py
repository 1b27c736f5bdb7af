"""Issue 15's fuzz campaign: ≥ 2,000 generated bodies and header sets against the proxy (built-in config:
guards, cache, signals on), and the same campaign through Envoy + ext_proc. The router must never answer
5xx, every error must be an OpenAI-style JSON error, and ``/health`` must answer within 100 ms throughout.

Bounded: a fixed count of examples (derandomized, so CI meets the same inputs every run), each request
with a timeout; only loopback is reached.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fuzzing import Case, cases, check, send
from gateway import builtin_config, start_gateway
from hypothesis import HealthCheck, given, settings
from servers import HealthWatch

EXAMPLES = 2000


def campaign(host: str, port: int, health_url: str, examples: int, workdir: Path) -> None:
    sent: list[Case] = []

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=cases())
    def one(case: Case) -> None:
        status, headers, body = send(host, port, case)
        check(case, status, headers, body)
        sent.append(case)

    with HealthWatch(health_url, workdir) as watch:
        one()
    assert len(sent) >= examples * 0.95, len(sent)  # hypothesis may dedupe a few draws
    assert not watch.failures, watch.failures[:5]
    assert len(watch.times) > 20
    assert watch.slowest < 0.1, f"/health took {watch.slowest * 1e3:.0f} ms during the campaign"


def test_fuzz_campaign_against_the_proxy(start_worker, start_router, tmp_path):
    small, large = start_worker("qwen3-8b"), start_worker("qwen3-32b")
    r = start_router(builtin_config(small.url, large.url)).wait_started()
    campaign("127.0.0.1", r.port, r.url + "/health", EXAMPLES, tmp_path)


@pytest.mark.slow
def test_fuzz_campaign_through_envoy_and_extproc(start_worker, servers, tmp_path):
    small, large = start_worker("qwen3-8b"), start_worker("qwen3-32b")
    cfg = builtin_config(small.url, large.url)
    extproc, envoy = start_gateway(servers, tmp_path, cfg, {"qwen3-8b": small.port, "qwen3-32b": large.port})
    assert extproc.http_url is not None
    campaign("127.0.0.1", envoy.port, extproc.http_url + "/health", EXAMPLES, tmp_path)
