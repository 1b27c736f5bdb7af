"""Production-stack compatibility: semrouter above an unmodified vLLM router.

client → semrouter (standalone proxy, or Envoy + semrouter ext_proc) → ``vllm-router`` (the Rust
router from PyPI) → two fake workers serving different models. semrouter's rewritten request is a
plain OpenAI request naming the model it chose, and vllm-router, in inference-gateway mode
(``--enable-igw``, workers registered with the model they serve), sends it to that model's worker.
Without ``--enable-igw`` vllm-router ignores the model name and round-robins over all its workers, so
one vllm-router in its plain mode serves one model only.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gateway import DEPLOY, VllmRouter, builtin_config, start_gateway
from servers import Server, http_json

pytestmark = pytest.mark.skipif(shutil.which("vllm-router") is None, reason="vllm-router not installed (test extra)")

MATH = "What is the integral of x^2 from 0 to 3?"
OTHER = "Suggest a name for my new pet goldfish."


def chat(model: str, text: str) -> dict[str, Any]:
    return {"model": model, "messages": [{"role": "user", "content": text}], "max_tokens": 8}


def production_stack(
    start_worker: Callable[..., Server], servers: list[Server], tmp_path: Path
) -> tuple[Server, Server, VllmRouter]:
    small = start_worker("qwen3-8b")
    large = start_worker("qwen3-32b")
    vr = VllmRouter(log=tmp_path / "vllm-router.log").start()
    servers.append(vr)
    vr.add_worker(small.url, "qwen3-8b")
    vr.add_worker(large.url, "qwen3-32b")
    return small, large, vr


def check_routes(url: str, small: Server, large: Server) -> None:
    """Math reaches the qwen3-32b worker rewritten (reasoning on, math prompt); the rest the qwen3-8b one."""
    for text, model, worker, other, thinking in (
        (MATH, "qwen3-32b", large, small, True),
        (OTHER, "qwen3-8b", small, large, False),
    ):
        small.clear()
        large.clear()
        for _ in range(2):  # twice: a round-robin router that ignored the model would alternate workers
            status, headers, body = http_json("POST", url + "/v1/chat/completions", chat("auto", text))
            assert status == 200, body
            assert headers["x-vsr-selected-model"] == model
            assert headers["x-fake-worker-model"] == model
        received = [r["body"] for r in worker.requests()]
        assert len(received) == 2 and other.requests() == []
        for body in received:
            assert body["model"] == model
            assert body["chat_template_kwargs"] == {"enable_thinking": thinking}
            assert body["messages"][0]["role"] == "system"


def test_semrouter_proxy_above_vllm_router(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], servers: list[Server], tmp_path: Path
) -> None:
    small, large, vr = production_stack(start_worker, servers, tmp_path)
    router = start_router(builtin_config(vr.url, vr.url))  # both models live behind the one vllm-router
    check_routes(router.url, small, large)


def test_envoy_and_semrouter_extproc_above_vllm_router(
    start_worker: Callable[..., Server], servers: list[Server], tmp_path: Path
) -> None:
    small, large, vr = production_stack(start_worker, servers, tmp_path)
    _, envoy = start_gateway(
        servers,
        tmp_path,
        builtin_config(vr.url, vr.url),
        {"production-stack": vr.port},
        envoy_config=DEPLOY / "envoy-production-stack.yaml",
    )
    check_routes(envoy.url, small, large)
