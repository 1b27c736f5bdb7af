"""The parsing the evaluations rely on: answer letters, Prometheus histograms, targets, datasets, configs."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from semrouter.eval.common import EvalError, command_line, load_eval_config, load_rows
from semrouter.eval.load import _quantile, make_target, parse_prometheus, parse_target, settings_from, stage_breakdown
from semrouter.eval.reasoning import parse_letter, prompt_of


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("Answer: B", "B"),
        ("The answer is (C).", "C"),
        ("the answer is D", "D"),
        ("B", "B"),
        ("(A) because the pH is 7", "A"),
        ("**C**", "C"),
        ("Let me see. I think A is wrong. Answer: B. On reflection, Answer: D", "D"),  # the last statement wins
        ("<think>Answer: A looks tempting</think>Answer: C", "C"),  # reasoning text is not the answer
        ("Answer\uff1aB", "B"),  # full-width colon
        ("I am not sure.", None),  # no answer statement; a pronoun is not a letter
        ("A good question. Answer: C", "C"),  # nor an article
        ("B) 7", "B"),
        ("D\nbecause ...", "D"),
        ("Answer: E", None),  # out of range for 4 choices
        ("", None),
        (None, None),
    ],
)
def test_parse_letter(text: str | None, letter: str | None) -> None:
    assert parse_letter(text, 4) == letter


def test_parse_letter_with_ten_choices_ignores_pronouns() -> None:
    assert parse_letter("I think so. A good guess is (B)? Answer: J", 10) == "J"
    assert parse_letter("I am not sure.", 10) is None


def test_prompt_lists_lettered_choices() -> None:
    p = prompt_of("2 + 2?", ["3", "4"])
    assert "A. 3\nB. 4" in p and p.startswith("2 + 2?")


METRICS_BEFORE = """
# HELP semrouter_stage_duration_seconds time per stage
# TYPE semrouter_stage_duration_seconds histogram
semrouter_stage_duration_seconds_bucket{stage="signals",le="0.001"} 0
semrouter_stage_duration_seconds_bucket{stage="signals",le="0.005"} 0
semrouter_stage_duration_seconds_bucket{stage="signals",le="+Inf"} 0
semrouter_stage_duration_seconds_sum{stage="signals"} 0
semrouter_stage_duration_seconds_count{stage="signals"} 0
semrouter_requests_total{code="200"} 5
"""
# 100 requests in the run: 60 under 1 ms, 40 between 1 and 5 ms, 0.2 s in total
METRICS_AFTER = """
semrouter_stage_duration_seconds_bucket{stage="signals",le="0.001"} 60
semrouter_stage_duration_seconds_bucket{stage="signals",le="0.005"} 100
semrouter_stage_duration_seconds_bucket{stage="signals",le="+Inf"} 100
semrouter_stage_duration_seconds_sum{stage="signals"} 0.2
semrouter_stage_duration_seconds_count{stage="signals"} 100
semrouter_requests_total{code="200"} 105
"""


def test_stage_breakdown_from_prometheus_histograms() -> None:
    before, after = parse_prometheus(METRICS_BEFORE), parse_prometheus(METRICS_AFTER)
    assert after[("semrouter_requests_total", (("code", "200"),))] == 105
    stages = stage_breakdown(before, after)
    s = stages["semrouter_stage_duration_seconds"]["signals"]
    assert s["count"] == 100
    assert s["mean_ms"] == pytest.approx(2.0)  # 0.2 s / 100
    # p50: rank 50 falls in the first bucket (0..1 ms), 50/60 of the way -> 0.8333 ms
    assert s["p50_ms"] == pytest.approx(1000 * 0.001 * 50 / 60, rel=1e-3)
    # p99: rank 99 in the second bucket (1..5 ms): 1 + 4 * (99 - 60) / 40 = 4.9 ms
    assert s["p99_ms"] == pytest.approx(4.9)


def test_quantile_edge_cases() -> None:
    assert _quantile(0.5, []) is None
    assert _quantile(0.5, [(1.0, 0.0), (float("inf"), 0.0)]) is None
    assert _quantile(0.99, [(1.0, 1.0), (float("inf"), 10.0)]) == 1.0  # in +Inf: the highest finite bound


def test_parse_target_forms() -> None:
    t = parse_target("auto=http://127.0.0.1:8801#auto", 0)
    assert (t.name, t.url, t.base, t.model) == (
        "auto",
        "http://127.0.0.1:8801/v1/chat/completions",
        "http://127.0.0.1:8801",
        "auto",
    )
    t = parse_target("http://h:1/v1/completions", 2)
    assert (t.name, t.url, t.model) == ("target3", "http://h:1/v1/completions", None)
    assert make_target("x", "http://h:1/v1", None).url == "http://h:1/v1/chat/completions"
    with pytest.raises(EvalError):
        parse_target("direct=localhost:8000", 0)


def _load_args(**kw: object) -> argparse.Namespace:
    base = dict(
        target=[], spec=None, prompts=None, concurrency=None, rate=None, arrival=None, duration=None,
        requests=None, warmup=None, stream=None, model=None, max_tokens=None, header=[], timeout=None,
        max_inflight=None, no_metrics=False, json=False,
    )  # fmt: skip
    base.update(kw)
    return argparse.Namespace(**base)


def test_spec_file_with_command_line_overrides(tmp_path: Path) -> None:
    (tmp_path / "prompts.jsonl").write_text(
        '"hello"\n{"text": "hi"}\n{"messages": [{"role": "user", "content": "x"}], "model": "m9"}\n'
    )
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        "concurrency: 4\nduration: 3\nprompts: prompts.jsonl\n"
        "targets:\n  - {name: direct, url: 'http://127.0.0.1:9', model: m1}\n  - http://127.0.0.1:10\n"
    )
    s, targets = settings_from(_load_args(spec=str(spec), concurrency=8, header=["X-Tier: gold"]))
    assert s.concurrency == 8 and s.duration == 3 and s.headers == {"X-Tier": "gold"}
    assert [t.name for t in targets] == ["direct", "target2"] and targets[0].model == "m1"
    assert len(s.prompts) == 3 and s.prompts[2]["model"] == "m9"
    spec.write_text("concurency: 4\ntargets: [http://127.0.0.1:9]\n")
    with pytest.raises(EvalError, match="unknown keys"):
        settings_from(_load_args(spec=str(spec)))
    with pytest.raises(EvalError, match="no target"):
        settings_from(_load_args())


def test_load_rows_jsonl_and_json_array(tmp_path: Path) -> None:
    jl = tmp_path / "a.jsonl"
    jl.write_text('{"text": "a"}\n\n{"text": "b"}\n')
    assert [r.line for r in load_rows(jl)] == [1, 3]
    arr = tmp_path / "b.json"
    arr.write_text('[{"text": "a", "true_label": "x"}, {"text": "b", "true_label": "y"}]')
    assert [r.data["true_label"] for r in load_rows(arr)] == ["x", "y"]
    assert len(load_rows(arr, limit=1)) == 1
    jl.write_text('{"text": "a"}\n{oops\n')
    with pytest.raises(EvalError, match=r"a\.jsonl:2: invalid JSON"):
        load_rows(jl)


def test_eval_config_enables_what_it_needs_and_says_so(tmp_path: Path) -> None:
    cfg = tmp_path / "r.yaml"
    base = (
        "models: [{name: m, endpoints: [{url: 'http://127.0.0.1:9'}]}]\n"
        "decisions: [{name: d, models: [{model: m}]}]\nrouting: {default_decision: d}\n"
    )
    cfg.write_text(base)
    config, source, notes = load_eval_config(str(cfg), {"guards.jailbreak": {"enabled": True}})
    assert config.guards.jailbreak.enabled and source == str(cfg)
    assert notes == ["`guards.jailbreak` is not enabled in r.yaml; enabled for this evaluation ({'enabled': True})."]
    cfg.write_text(
        base + "guards: {jailbreak: {enabled: true, threshold: 0.7}}\ncache: {enabled: true, backend: memory}\n"
    )
    config, _, notes = load_eval_config(str(cfg), {"guards.jailbreak": {"enabled": True}})
    assert notes == [] and config.guards.jailbreak.threshold == 0.7  # already on: left exactly as configured
    config, _, notes = load_eval_config(str(cfg), {"cache": {"enabled": True}}, {"cache.threshold": 0.8})
    assert config.cache.threshold == 0.8
    assert notes == ["`cache.threshold` set to 0.8 for this evaluation (r.yaml: 'unset')."]


def test_shipped_multiple_choice_set_parses_and_covers_every_category() -> None:
    """data/reasoning/mmlu_mc.jsonl (scripts/build_reasoning_data.py) is what `semrouter eval reasoning` runs
    on against a real backend: every line must be a valid question, and every MMLU-Pro category present."""
    from semrouter.eval.reasoning import _question

    path = Path(__file__).resolve().parents[2] / "data" / "reasoning" / "mmlu_mc.jsonl"
    questions = [_question(str(path), row) for row in load_rows(path)]
    per_cat: dict[str, int] = {}
    for q in questions:
        per_cat[q["category"]] = per_cat.get(q["category"], 0) + 1
    assert len(per_cat) == 14 and min(per_cat.values()) >= 20
    assert len({q["question"] for q in questions}) == len(questions)
    assert {q["answer"] for q in questions} == set("ABCD")


@pytest.mark.parametrize(
    ("argv0", "program"),
    [
        (str(Path("semrouter", "cli.py").resolve()), "semrouter"),  # python -m semrouter.cli
        (str(Path("semrouter", "__main__.py").resolve()), "semrouter"),  # python -m semrouter
        ("/usr/local/bin/semrouter", "semrouter"),  # the console script
        (str(Path("scripts", "tool.py").resolve()), str(Path("scripts", "tool.py"))),  # any other program
    ],
)
def test_command_line_names_no_machine_path(monkeypatch: pytest.MonkeyPatch, argv0: str, program: str) -> None:
    """Reports quote the command that made them; an absolute ``argv[0]`` (``python -m``) must not leak into them."""
    data = str(Path("tests", "data", "oos", "cache_pairs.jsonl").resolve())
    monkeypatch.setattr("sys.argv", [argv0, "eval", "cache", "-d", data, "--json"])
    assert command_line() == f"{program} eval cache -d {Path('tests', 'data', 'oos', 'cache_pairs.jsonl')} --json"
