"""RouteLLM's routing metrics (PGR, APGR, CPT) on hand-built cases whose values are worked out by hand,
and the ``semrouter eval routing`` command end to end."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest

from semrouter.cli import main
from semrouter.eval.routing import apgr, cpt, oracle_accuracy, routing_curve, routing_metrics


def _population() -> tuple[np.ndarray, np.ndarray]:
    """100 prompts: 50 both right, 30 only strong right, 10 only weak right, 10 neither.

    Weak accuracy 0.6, strong 0.8; the oracle reaches 0.6 + min(share, 0.3).
    """
    weak = np.array([1] * 50 + [0] * 30 + [1] * 10 + [0] * 10, dtype=bool)
    strong = np.array([1] * 50 + [1] * 30 + [0] * 10 + [0] * 10, dtype=bool)
    return weak, strong


def test_oracle_ordering_gives_its_known_apgr() -> None:
    weak, strong = _population()
    m = routing_metrics(strong.astype(float) - weak.astype(float), weak, strong)
    assert m["weak_accuracy"] == pytest.approx(0.6) and m["strong_accuracy"] == pytest.approx(0.8)
    # decile thresholds on scores {-1 x10, 0 x60, +1 x30} give the curve (0, .6) (.3, .9) (.9, .9) (1, .8):
    # area 0.3*0.75 + 0.6*0.9 + 0.1*0.85 = 0.85, APGR (0.85 - 0.6) / 0.2 = 1.25
    assert m["apgr"] == pytest.approx(1.25)
    # the continuous oracle: area 0.6 + 0.045 + 0.21 = 0.855, APGR 1.275; PGR 50% at share 0.1
    assert m["oracle_apgr"] == pytest.approx(1.275)
    assert m["oracle_cpt50"] == pytest.approx(0.1)
    assert m["cpt50"] == pytest.approx(0.1)  # (0, .6) -> (.3, .9): accuracy .7 at a third of the way
    assert oracle_accuracy(weak, strong, 0.3) == pytest.approx(0.9)
    assert oracle_accuracy(weak, strong, 1.0) == pytest.approx(0.9)


def test_random_scores_give_about_one_half_and_reversed_far_less() -> None:
    rng = np.random.default_rng(7)
    n = 20_000
    weak = rng.random(n) < 0.65
    strong = np.where(weak, rng.random(n) < 0.9, rng.random(n) < 0.55)
    rnd = routing_metrics(rng.random(n), weak, strong)
    assert rnd["apgr"] == pytest.approx(0.5, abs=0.04)
    assert rnd["cpt50"] == pytest.approx(0.5, abs=0.06)
    assert rnd["cpt80"] == pytest.approx(0.8, abs=0.06)
    good = strong.astype(float) - weak.astype(float) + rng.normal(0, 0.5, n)
    bad = -good
    assert routing_metrics(good, weak, strong)["apgr"] > 0.7
    reversed_ = routing_metrics(bad, weak, strong)
    assert reversed_["apgr"] < 0.3
    assert reversed_["cpt50"] is not None and reversed_["cpt50"] > 0.7


def test_curve_runs_from_all_weak_to_all_strong() -> None:
    weak, strong = _population()
    shares, accs = routing_curve(np.arange(100.0), weak, strong, points=4)
    assert shares[0] == 0.0 and shares[-1] == 1.0
    assert accs[0] == pytest.approx(0.6) and accs[-1] == pytest.approx(0.8)
    assert len(shares) == 5 and np.all(np.diff(shares) >= 0)


def test_cpt_and_apgr_on_a_straight_line() -> None:
    shares = np.array([0.0, 0.5, 1.0])
    accs = np.array([0.6, 0.7, 0.8])
    assert apgr(shares, accs, 0.6, 0.8) == pytest.approx(0.5)
    assert cpt(shares, accs, 0.6, 0.8, 0.5) == pytest.approx(0.5)
    assert cpt(shares, accs, 0.6, 0.8, 0.8) == pytest.approx(0.8)
    assert cpt(shares, np.array([0.6, 0.65, 0.7]), 0.6, 0.8, 0.8) is None  # never reaches 80%


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="equally accurate"):
        routing_metrics([0.1, 0.2], [True, False], [False, True])
    with pytest.raises(ValueError, match="one length"):
        routing_metrics([0.1], [True, False, True], [False, True, True])
    with pytest.raises(ValueError, match="finite"):
        routing_curve([float("nan"), 0.2], [True, False], [True, True])


def _write(path: Path, rows: Sequence[Mapping[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_cli_with_precomputed_scores(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    weak, strong = _population()
    rows = [
        {"prompt": f"q{i}", "weak_correct": bool(w), "strong_correct": bool(s), "source": "a" if i % 2 else "b"}
        for i, (w, s) in enumerate(zip(weak, strong, strict=True))
    ]
    data = _write(tmp_path / "d.jsonl", rows)
    scores = _write(
        tmp_path / "s.jsonl", [{"strong_score": float(s) - float(w)} for w, s in zip(weak, strong, strict=True)]
    )
    out = tmp_path / "out.jsonl"
    rc = main(["eval", "routing", "--data", str(data), "--scores", str(scores), "--json", "--scores-out", str(out)])
    assert rc == 0
    m = json.loads(capsys.readouterr().out)
    assert m["apgr"] == pytest.approx(1.25)
    assert set(m["by"]["source"]) == {"a", "b"}
    written = [json.loads(line)["strong_score"] for line in out.read_text().splitlines()]
    assert written == [float(s) - float(w) for w, s in zip(weak, strong, strict=True)]


def test_cli_rejects_a_score_file_of_another_length(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = _write(tmp_path / "d.jsonl", [{"prompt": "a", "weak_correct": True, "strong_correct": False}] * 3)
    scores = _write(tmp_path / "s.jsonl", [{"strong_score": 0.1}])
    assert main(["eval", "routing", "--data", str(data), "--scores", str(scores)]) == 2
    assert "1 score lines for 3 data lines" in capsys.readouterr().err


@pytest.mark.slow  # its PNG plots: on a fresh machine matplotlib first builds its font cache (runs fc-list)
def test_cli_with_the_shipped_selector_writes_a_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    prompts = [
        ("What is 2 + 2?\nA. 3\nB. 4\nC. 5\nD. 6\nAnswer:", True, True),
        ("Compute the Galois group of x^4 - 2 over Q.\nA. Z4\nB. D4\nC. V4\nD. S4\nAnswer:", False, True),
        ("Which planet is known as the red planet?\nA. Venus\nB. Mars\nC. Jupiter\nD. Saturn\nAnswer:", True, True),
        ("For which n is the ring Z_n a field?\nA. n prime\nB. n even\nC. n odd\nD. all n\nAnswer:", False, False),
    ]
    data = _write(tmp_path / "d.jsonl", [{"prompt": p, "weak_correct": w, "strong_correct": s} for p, w, s in prompts])
    out = tmp_path / "scores.jsonl"
    rc = main(
        ["eval", "routing", "--data", str(data), "--report", str(tmp_path / "r"), "--scores-out", str(out), "--json"]
    )
    assert rc == 0
    assert len(out.read_text().splitlines()) == len(prompts)
    assert (tmp_path / "r" / "routing_curve.png").stat().st_size > 1000
    assert "APGR" in (tmp_path / "r" / "report.md").read_text()
    assert "learned selector" in json.loads(capsys.readouterr().out)["scorer"]
