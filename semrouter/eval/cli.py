"""The ``eval`` and ``bench`` command groups: argument definitions only.

Why a separate module: ``semrouter --help`` builds every parser, so this file imports nothing but
argparse; each command's module (and the models, numpy, matplotlib behind it) is imported when that
command runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any


def _runner(module: str) -> Any:
    def run(args: argparse.Namespace) -> int:
        from semrouter.eval.common import EvalError

        try:
            return int(importlib.import_module(f"semrouter.eval.{module}").run(args))
        except EvalError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


def _common(p: argparse.ArgumentParser, data_help: str) -> None:
    p.add_argument("--data", "-d", required=True, help=data_help)
    p.add_argument("--config", "-c", help="router config (default: the built-in semrouter/configs/default.yaml)")
    p.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout")
    p.add_argument("--report", metavar="DIR", help="write report.md, metrics.json and PNG plots into DIR")
    p.add_argument("--limit", type=int, help="only the first N rows")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def add_eval_parser(sub: Any) -> None:
    e = sub.add_parser("eval", help="evaluate routing, guards, cache and reasoning on your own data")
    esub = e.add_subparsers(dest="eval_command", required=True)

    c = esub.add_parser("classify", help="category accuracy, per-class precision/recall/F1, confusion matrix")
    _common(c, 'JSONL of {"text", "category"} (or a JSON array; "true_label" accepted)')
    c.set_defaults(func=_runner("classify"))

    j = esub.add_parser("jailbreak", help="jailbreak guard: ROC/AUC, recall and false-positive rate at the threshold")
    _common(j, 'JSONL of {"text", "label": "jailbreak"|"benign"} (optional "source" for a breakdown)')
    j.set_defaults(func=_runner("jailbreak"))

    p = esub.add_parser("pii", help="PII guard: prompt-level recall/FPR and per-type recall")
    _common(p, 'JSONL of {"text", "entities": [{"type", "value"}]} (empty list for benign prompts)')
    p.set_defaults(func=_runner("pii"))

    k = esub.add_parser("cache", help="semantic cache: paraphrase hit rate and near-miss false-hit rate")
    _common(k, 'JSONL of {"kind": "paraphrase"|"near_miss", "original", "variants": [...]}')
    k.add_argument("--threshold", type=float, help="similarity threshold (default: the config's cache.threshold)")
    k.set_defaults(func=_runner("cache"))

    ro = esub.add_parser(
        "routing", help="learned selector: APGR, CPT(50%%), CPT(80%%) and the accuracy-vs-strong-share curve"
    )
    ro.add_argument("--data", "-d", required=True, help='JSONL of {"prompt", "weak_correct", "strong_correct"}')
    ro.add_argument("--selector", help="selector .npz from `semrouter train selector` (default: the shipped one)")
    ro.add_argument("--scores", help='score this router instead: JSONL of {"strong_score"}, one per data line')
    ro.add_argument("--scores-out", help='write {"strong_score"} per input line, in order, to this file')
    ro.add_argument("--points", type=int, default=10, help="thresholds at this many quantiles (RouteLLM: 10)")
    ro.add_argument("--embedding-cache", help=".npz cache of embeddings by text SHA-1 (re-runs skip embedding)")
    ro.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout")
    ro.add_argument("--report", metavar="DIR", help="write report.md, metrics.json and routing_curve.png into DIR")
    ro.add_argument("--limit", type=int, help="only the first N rows")
    ro.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    ro.set_defaults(func=_runner("routing"))

    r = esub.add_parser(
        "reasoning", help="when to reason: accuracy, tokens and latency with reasoning off, on, and routed"
    )
    r.add_argument("--backend", "-b", required=True, help="OpenAI-compatible base URL (e.g. http://127.0.0.1:8000)")
    r.add_argument(
        "--data",
        "-d",
        required=True,
        help='JSONL of {"question", "choices": [...], "answer": "B", "category"} (optional "headers")',
    )
    r.add_argument("--router-config", "--config", "-c", dest="config", help="router config for the routed mode")
    r.add_argument("--model", help="model the fixed modes ask for (default: the default decision's first model)")
    r.add_argument("--family", help="reasoning dialect of --model (default: its family in the config)")
    r.add_argument("--served-model", help="send this model name in every request (the backend serves one model)")
    r.add_argument("--modes", default="off,on,routed", help="comma-separated subset of off,on,routed")
    r.add_argument("--effort", default="medium", choices=["low", "medium", "high"], help="effort for 'on'")
    r.add_argument("--concurrency", type=int, default=4)
    r.add_argument("--max-tokens", type=int, default=4096)
    r.add_argument("--temperature", type=float, default=0.0)
    r.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    r.add_argument("--api-key-env", help="environment variable holding the backend's API key")
    r.add_argument("--json", action="store_true", help="print the metrics as JSON on stdout")
    r.add_argument("--report", metavar="DIR", help="write report.md, metrics.json and PNG plots into DIR")
    r.add_argument("--limit", type=int, help="only the first N questions")
    r.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    r.set_defaults(func=_runner("reasoning"))


def add_calibrate_parser(sub: Any) -> None:
    c = sub.add_parser(
        "calibrate",
        help="choose a judgment's threshold on labelled data for a target FPR, precision or recall",
        description="Route every labelled row once, sweep the threshold over the scores, pick the one that meets "
        "--target, and write the config with it (--output) and the curve it chose from (--report).",
    )
    c.add_argument("judgment", choices=["jailbreak", "harmful", "pii", "domain"], help="whose threshold to choose")
    c.add_argument(
        "--data",
        "-d",
        required=True,
        help='JSONL: {"text", "label": "jailbreak"|"benign"} for jailbreak, "harmful"|"benign" for harmful; '
        'for pii the `eval pii` format ({"text", "entities": [...]}) or {"text", "label": "pii"|"benign"}; '
        '{"text", "category"} for domain',
    )
    c.add_argument("--target", "-t", required=True, help="fpr=X (at most), precision=X or recall=X (at least)")
    c.add_argument("--config", "-c", help="the config to start from (default: the built-in one)")
    c.add_argument("--output", "-o", help="write the calibrated config here ('-': stdout); comments are not kept")
    c.add_argument("--signal", help="domain: which domain signal (default: the first)")
    c.add_argument("--json", action="store_true", help="print the result (with the curve) as JSON on stdout")
    c.add_argument("--report", metavar="DIR", help="write report.md, metrics.json and curve.png into DIR")
    c.add_argument("--limit", type=int, help="only the first N rows")
    c.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    c.set_defaults(func=_runner("calibrate"))


def add_bench_parser(sub: Any) -> None:
    b = sub.add_parser("bench", help="benchmarks: load generation against one or more targets")
    bsub = b.add_subparsers(dest="bench_command", required=True)
    lo = bsub.add_parser(
        "load",
        help="asyncio load generator: RPS, latency percentiles, TTFT, errors; several targets with ratios",
        description="Drive OpenAI-compatible targets with the same load, one after the other, and compare them. "
        "A target is [NAME=]URL[#MODEL]: the URL is a base (…/v1/chat/completions is added) and #MODEL "
        "overrides --model for that target (e.g. 'direct=http://127.0.0.1:8000#qwen3-8b').",
    )
    lo.add_argument("--target", "-t", action="append", default=[], help="[NAME=]URL[#MODEL]; repeat for several")
    lo.add_argument("--spec", help="YAML file with the targets and settings (command-line options win)")
    lo.add_argument("--prompts", help="JSONL of texts ({'text'} or a string) or whole request bodies ({'messages'})")
    lo.add_argument("--concurrency", type=int, help="closed loop: this many requests in flight (default 16)")
    lo.add_argument("--rate", type=float, help="open loop: start this many requests per second")
    lo.add_argument("--arrival", choices=["uniform", "poisson"], help="open-loop arrivals (default uniform)")
    lo.add_argument("--duration", type=float, help="seconds per target (default 10 unless --requests)")
    lo.add_argument("--requests", type=int, help="requests per target (instead of a duration)")
    lo.add_argument("--warmup", type=float, help="seconds of unmeasured load per target first (default 1)")
    lo.add_argument("--stream", action="store_true", default=None, help="stream the answers (TTFT is reported)")
    lo.add_argument("--model", help="model field of the requests (default auto)")
    lo.add_argument("--max-tokens", type=int, help="max_tokens of each request (default 16)")
    lo.add_argument("--header", action="append", default=[], help="extra request header 'Name: value'")
    lo.add_argument("--timeout", type=float, help="seconds per request (default 60)")
    lo.add_argument("--max-inflight", type=int, help="open loop: cap on requests in flight (default 4096)")
    lo.add_argument("--no-metrics", action="store_true", help="do not scrape the targets' /metrics")
    lo.add_argument("--json", action="store_true", help="print the results as JSON on stdout")
    lo.set_defaults(func=_runner("load"))
