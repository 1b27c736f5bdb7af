"""``semrouter eval ...`` end to end on the fixtures in tests/data/eval, with the real pipeline and models.

Expected figures are worked out by hand from the fixtures (see the comments): the texts were chosen so
the built-in config routes them with high confidence, and some labels are deliberately "wrong" so the
metrics have errors to count.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from servers import Server

from semrouter.cli import main

DATA = Path(__file__).parents[1] / "data" / "eval"
ROOT = Path(__file__).parents[2]


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    assert main(["eval", *argv, "--json", "--no-progress"]) == 0
    out: dict[str, Any] = json.loads(capsys.readouterr().out)
    return out


def assert_report(directory: Path, figures: set[str]) -> None:
    """report.md links every figure; each PNG is a valid image; metrics.json is the same JSON."""
    md = (directory / "report.md").read_text()
    json.loads((directory / "metrics.json").read_text())
    pngs = {p.stem for p in directory.glob("*.png")}
    assert figures <= pngs
    for name in pngs:
        assert f"]({name}.png)" in md
        with Image.open(directory / f"{name}.png") as img:
            assert img.format == "PNG" and img.size[0] > 100 and img.size[1] > 100
            img.verify()


def test_classify_by_hand(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    m = run_json(capsys, "classify", "--data", str(DATA / "classify.jsonl"), "--report", str(tmp_path / "r"))
    # lines 1-4 are routed as labelled; line 5 (speed of light, labelled chemistry) goes to physics and
    # line 6 (SWOT, labelled psychology) to business: 4/6.
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["labels"] == ["business", "chemistry", "computer science", "physics", "psychology"]
    assert m["confusion_matrix"] == [[0] * 5, [0, 1, 0, 1, 0], [0, 0, 1, 0, 0], [0] * 5, [1, 0, 0, 0, 2]]
    assert m["per_class"]["psychology"]["recall"] == pytest.approx(2 / 3)
    assert m["per_class"]["chemistry"]["precision"] == 1.0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 0.8) / 5)
    assert [(e["line"], e["predicted"]) for e in m["errors"]] == [(5, "physics"), (6, "business")]
    assert {"accuracy", "macro", "per_class", "confusion_matrix", "latency_ms", "config", "notes"} <= set(m)
    assert_report(tmp_path / "r", {"confusion_matrix", "per_class_f1"})


def test_jailbreak_by_hand(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    m = run_json(capsys, "jailbreak", "--data", str(DATA / "jailbreak.jsonl"), "--report", str(tmp_path / "r"))
    # 3 unmistakable jailbreaks, 5 everyday prompts
    assert (m["n_jailbreak"], m["n_benign"]) == (3, 5)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (3, 0, 0, 5)
    assert m["recall"] == 1.0 and m["false_positive_rate"] == 0.0 and m["auc"] == 1.0
    assert 0 < m["threshold"] < 1
    assert m["roc"]["fpr"][0] == 0.0 and m["roc"]["tpr"][-1] == 1.0
    assert set(m["by_source"]) == {"handmade"}
    assert_report(tmp_path / "r", {"roc", "per_source"})


def test_pii_by_hand(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    m = run_json(capsys, "pii", "--data", str(DATA / "pii.jsonl"), "--report", str(tmp_path / "r"))
    # 4 prompts with PII, all found: a 555-01xx number in a user's own message is personal data whatever
    # its range (issue 16), so it is flagged; 3 benign prompts, one of which holds a support e-mail
    # address the guard flags -> FPR 1/3
    assert (m["n_with_pii"], m["n_benign"]) == (4, 3)
    assert m["recall"] == pytest.approx(1.0)
    assert m["false_positive_rate"] == pytest.approx(1 / 3)
    assert m["per_type"]["PHONE_NUMBER"] == {"labelled": 2, "found": 2, "recall": 1.0}
    assert m["per_type"]["EMAIL_ADDRESS"] == {"labelled": 2, "found": 2, "recall": 1.0}
    assert m["entity_recall"] == pytest.approx(6 / 6)
    assert m["benign_findings"] == {"EMAIL_ADDRESS": 1}
    assert_report(tmp_path / "r", {"per_type_recall", "prompt_level"})


def test_cache_paraphrases_and_near_misses(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    m = run_json(capsys, "cache", "--data", str(DATA / "cache.jsonl"), "--report", str(tmp_path / "r"))
    v = {x["variant"]: x for x in m["variants"]}
    assert m["paraphrase"]["variants"] == 6 and m["near_miss"]["variants"] == 3
    # the same text again always hits; a near miss never does, for the reason the matcher is there for
    assert (
        v["What are the benefits of regular exercise?"]["hit"]
        and v["What are the benefits of regular exercise?"]["similarity"] > 0.99
    )
    # refused by the verifier (the built-in default; the lexical guard is one of its inputs)
    assert v["What is 17 * 24?"]["reason"] == "verifier" and v["What is 17 * 24?"]["similarity"] >= m["threshold"]
    assert v["What is 17 * 24?"]["verifier"] < m["verifier"]["threshold"]
    assert set(m["families"]) == {"unlabelled"} and m["verifier_sweep"]["threshold"]
    assert v["What is the capital of Germany?"]["reason"] == "below_threshold"
    assert m["false_hit_rate"] == 0.0 and m["near_miss"]["hits"] == 0
    assert m["hit_rate"] == pytest.approx(sum(x["hit"] for x in v.values() if x["kind"] == "paraphrase") / 6)
    assert all(x["hit"] == (x["reason"] == "hit") for x in v.values())
    # the sweep agrees with the outcomes at the configured threshold when nothing else interferes
    i = m["sweep"]["threshold"].index(m["threshold"])
    assert m["sweep"]["false_hit_rate"][i] == 0.0 and m["sweep"]["hit_rate"][0] >= m["sweep"]["hit_rate"][-1]
    assert_report(tmp_path / "r", {"hit_rates", "threshold_sweep"})


def test_reasoning_modes_against_fake_worker(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, start_worker: Callable[..., Server]
) -> None:
    worker = start_worker("fake-qwen")
    argv = ["reasoning", "--backend", worker.url, "--data", str(DATA / "reasoning.jsonl")]
    m = run_json(capsys, *argv, "--report", str(tmp_path / "r"))
    # Scripted replies (x-fake-reply): math B ok, chemistry "(A)" wrong, physics "A" ok, psychology A ok,
    # law "I am not sure." unparsed, economics A ok -> 4/6 in every mode (the fake answers the same).
    assert m["accuracy"] == {"off": pytest.approx(4 / 6), "on": pytest.approx(4 / 6), "routed": pytest.approx(4 / 6)}
    # Reply tokens are 4-character pieces: 3 + 5 + 1 + 3 + 4 + 3 = 19; the fake adds 4 reasoning tokens when
    # thinking is on: all 6 questions in "on", the 3 STEM ones (math, chemistry, physics) when routed.
    assert m["completion_tokens"] == {"off": 19, "on": 19 + 6 * 4, "routed": 19 + 3 * 4}
    assert m["per_mode"]["routed"]["reasoning_share"] == 0.5 and m["per_mode"]["off"]["unparsed"] == 1
    assert m["per_category"]["law"]["on"]["accuracy"] == 0.0 and m["per_category"]["math"]["routed"]["accuracy"] == 1.0
    # what the worker received: the qwen3 switch in each mode, and semrouter's own choices when routed
    got = [r["body"] for r in worker.requests()]
    assert len(got) == 18
    assert [b["chat_template_kwargs"]["enable_thinking"] for b in got[:12]] == [False] * 6 + [True] * 6
    routed = {b["messages"][-1]["content"].split("\n")[0]: b for b in got[12:]}
    math = routed["What is the value of pi to two decimal places?"]
    assert math["model"] == "qwen3-32b" and math["chat_template_kwargs"]["enable_thinking"] is True
    assert math["messages"][0]["role"] == "system"
    assert_report(tmp_path / "r", {"accuracy_vs_tokens", "per_mode", "tokens_per_mode", "per_category_accuracy"})


def test_served_model_and_modes_subset(capsys: pytest.CaptureFixture[str], start_worker: Callable[..., Server]) -> None:
    worker = start_worker("fake-qwen")
    m = run_json(
        capsys, "reasoning", "--backend", worker.url, "--data", str(DATA / "reasoning.jsonl"),
        "--modes", "routed", "--served-model", "Qwen/Qwen3-8B", "--limit", "2",
    )  # fmt: skip
    assert m["modes"] == ["routed"] and m["n"] == 2
    assert {r["body"]["model"] for r in worker.requests()} == {"Qwen/Qwen3-8B"}


def test_bad_data_is_a_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hello", "category": "math"}\n{"text": "no label"}\n')
    assert main(["eval", "classify", "--data", str(bad), "--no-progress"]) == 2
    assert f"{bad}:2: missing 'category'" in capsys.readouterr().err


def test_entry_point_prints_json_keys() -> None:
    """Through the installed command (a fresh process): stdout is exactly the metrics JSON."""
    out = subprocess.run(
        [sys.executable, "-m", "semrouter", "eval", "classify", "--data", str(DATA / "classify.jsonl"), "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=True,
    )
    m = json.loads(out.stdout)
    assert {"accuracy", "macro_f1", "per_class", "confusion_matrix"} <= set(m)
    assert "classify" in out.stderr  # the progress bar goes to stderr
