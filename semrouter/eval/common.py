"""What every evaluation shares: reading a dataset, loading the config it runs under, routing the items
through the real pipeline with a progress bar, and printing or writing the result."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from semrouter.paths import shown_path

if TYPE_CHECKING:
    from semrouter.config.schema import RouterConfig
    from semrouter.eval.report import Report


class EvalError(ValueError):
    """The dataset or the options are unusable; the message names the file and line."""


@dataclass(slots=True)
class Row:
    line: int  # 1-based line (JSONL) or array index + 1 (JSON array), for error messages
    data: dict[str, Any]


def load_rows(path: str | Path, limit: int | None = None) -> list[Row]:
    """Rows of a JSONL file, or of a JSON array (so ``dev_eval.json``-style files work as they are)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise EvalError(f"{p}: cannot read: {exc.strerror}") from None
    rows: list[Row] = []
    if text.lstrip().startswith("["):
        try:
            items = json.loads(text)
        except json.JSONDecodeError as exc:
            raise EvalError(f"{p}: invalid JSON: {exc}") from None
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict):
                raise EvalError(f"{p}: item {i}: expected a JSON object")
            rows.append(Row(i, item))
    else:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
            except json.JSONDecodeError as exc:
                raise EvalError(f"{p}:{n}: invalid JSON: {exc.msg}") from None
            if not isinstance(item, dict):
                raise EvalError(f"{p}:{n}: expected a JSON object")
            rows.append(Row(n, item))
    if not rows:
        raise EvalError(f"{p}: no rows")
    return rows[:limit] if limit else rows


def field(path: str | Path, row: Row, names: Sequence[str], kind: type | tuple[type, ...] = str) -> Any:
    """The first of ``names`` the row has (aliases: ``category`` / ``true_label``), type-checked."""
    for name in names:
        if name in row.data:
            value = row.data[name]
            if not isinstance(value, kind):
                raise EvalError(f"{path}:{row.line}: '{name}' has the wrong type ({type(value).__name__})")
            return value
    raise EvalError(f"{path}:{row.line}: missing '{names[0]}'")


def section(raw: dict[str, Any], dotted: str) -> dict[str, Any]:
    """The mapping at ``dotted`` (``guards.pii``) in a raw config, created empty where missing."""
    node = raw
    for key in dotted.split("."):
        child = node.get(key)
        if not isinstance(child, dict):
            child = {}
            node[key] = child
        node = child
    return node


def load_eval_config(
    path: str | None, enable: dict[str, Any] | None = None, force: dict[str, Any] | None = None
) -> tuple[RouterConfig, str, list[str]]:
    """(config, its path, notes): the user's config (or the built-in one) with what the evaluation needs.

    ``enable`` maps dotted sections (``guards.jailbreak``) to settings merged in when the section is not
    already enabled; ``force`` maps dotted keys (``cache.backend``) to values always set. Every change is
    returned as a note, because a report about a detector the user's config never runs must say so.
    """
    import yaml

    from semrouter.config.loader import DEFAULT_CONFIG, load_config, parse_config

    source = str(path or DEFAULT_CONFIG)
    config = load_config(source)  # errors point at the user's own lines before anything is changed
    notes: list[str] = []
    if not enable and not force:
        return config, source, notes
    raw = yaml.safe_load(Path(source).read_text(encoding="utf-8"))
    name = Path(source).name
    changed = False

    for dotted, settings in (enable or {}).items():
        node = section(raw, dotted)
        if not node.get("enabled"):
            node.update(settings)
            changed = True
            notes.append(f"`{dotted}` is not enabled in {name}; enabled for this evaluation ({settings}).")
    for dotted, value in (force or {}).items():
        parent, _, key = dotted.rpartition(".")
        node = section(raw, parent) if parent else raw
        if node.get(key) != value:
            old = node.get(key, "unset")
            node[key] = value
            changed = True
            notes.append(f"`{dotted}` set to {value!r} for this evaluation ({name}: {old!r}).")
    if changed:
        config = parse_config(yaml.safe_dump(raw, sort_keys=False), source)
    return config, source, notes


def progress(total: int, desc: str, enabled: bool) -> Any:
    """A tqdm bar on stderr (stdout may carry ``--json``)."""
    from tqdm import tqdm  # type: ignore[import-untyped, unused-ignore]

    return tqdm(total=total, desc=desc, unit="item", file=sys.stderr, disable=not enabled, leave=False)


async def route_items(
    config: RouterConfig, items: Sequence[dict[str, Any]], *, desc: str, show_progress: bool
) -> list[dict[str, Any]]:
    """The dry-run ``route`` object of every item, in order: the real pipeline, no upstream call.

    One throwaway request first, so model loading does not land in the first item's latency.
    """
    from semrouter.dryrun import route_request
    from semrouter.errors import RouterError
    from semrouter.stages import build_pipeline

    pipeline = build_pipeline(config)
    await route_request(config, pipeline, {"text": "warm-up"})
    out = []
    with progress(len(items), desc, show_progress) as bar:
        for i, item in enumerate(items):
            try:
                out.append(await route_request(config, pipeline, item))
            except RouterError as exc:
                raise EvalError(f"item {i + 1}: {exc.message}") from None
            bar.update(1)
    return out


def emit(
    args: argparse.Namespace,
    metrics: dict[str, Any],
    summary: Callable[[dict[str, Any]], str],
    render: Callable[[Report, dict[str, Any]], None],
    title: str,
) -> int:
    """Write the report (if asked), then print the JSON or the human summary on stdout."""
    metrics = shown_paths(metrics)
    if args.report:
        from semrouter.eval.report import Report, ReportError

        try:
            report = Report(args.report, title)
            render(report, metrics)
            path = report.write(metrics)
        except ReportError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        print(f"report: {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(metrics, indent=2, default=str))
    else:
        print(summary(metrics))
    return 0


def notes_markdown(metrics: dict[str, Any]) -> str:
    lines = [f"- {n}" for n in metrics.get("notes", [])]
    return "\n".join(lines)


def header_markdown(metrics: dict[str, Any]) -> str:
    """The lines every report starts with: which data, which config, what was changed."""
    out = [
        f"Data: `{metrics['data']}` ({metrics['n']} rows). Config: `{metrics['config']}`.",
        f"Command: `{metrics['command_line']}`",
    ]
    notes = notes_markdown(metrics)
    if notes:
        out += ["", notes]
    return "\n".join(out)


def shown_paths(metrics: dict[str, Any]) -> dict[str, Any]:
    """``metrics`` with its ``data`` and ``config`` named by :func:`shown_path`."""
    return {**metrics, **{k: shown_path(str(metrics[k])) for k in ("data", "config") if metrics.get(k)}}


def command_line() -> str:
    """The command as a reader would type it: ``semrouter ...`` however it was started (the console script,
    ``python -m semrouter`` or ``python -m semrouter.cli``, whose ``argv[0]`` is an absolute path on this
    machine), with paths shown relative to the repository."""
    program = sys.argv[0]
    program = "semrouter" if Path(program).name in ("semrouter", "__main__.py", "cli.py") else shown_path(program)
    return " ".join([program, *map(shown_path, sys.argv[1:])])
