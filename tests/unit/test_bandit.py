"""The feedback bandit moves traffic away from a failing model within a bounded number of requests, back
when it heals, never explores more than its bound, and survives a round trip through JSON."""

from __future__ import annotations

import json
import random

import pytest

from semrouter.decide.bandit import Bandit

PRICES = {"a": 1.0, "b": 1.0}  # equal prices: only quality decides


def _run(bandit: Bandit, n: int, good_rate: dict[str, float], rng: random.Random) -> list[str]:
    picks = []
    for _ in range(n):
        model, _ = bandit.choose("d", PRICES)
        bandit.update("d", model, rng.random() < good_rate[model])
        picks.append(model)
    return picks


def test_traffic_leaves_a_failing_model_and_returns_when_it_heals() -> None:
    rng = random.Random(1)
    bandit = Bandit(seed=3, max_explore=0.1, decay=0.97)
    healthy = {"a": 0.9, "b": 0.85}
    _run(bandit, 300, healthy, rng)
    # "a" starts failing: within 60 requests its share of the next 100 is small
    broken = {"a": 0.05, "b": 0.85}
    _run(bandit, 60, broken, rng)
    share_a = _run(bandit, 100, broken, rng).count("a") / 100
    assert share_a <= 0.1
    # "a" heals (and is now better than "b"): exploration finds out, and it wins most traffic back
    better = {"a": 0.95, "b": 0.6}
    _run(bandit, 200, better, rng)
    assert _run(bandit, 100, better, rng).count("a") / 100 >= 0.85


def test_exploration_never_exceeds_its_bound() -> None:
    rng = random.Random(2)
    bandit = Bandit(seed=5, max_explore=0.05, decay=1.0, prior_strength=2.0)
    _run(bandit, 400, {"a": 0.9, "b": 0.3}, rng)
    picks = _run(bandit, 400, {"a": 0.9, "b": 0.3}, rng)
    assert picks.count("b") / len(picks) <= 0.08  # the bound (0.05) plus the averaging's slack


def test_price_weighs_against_quality() -> None:
    bandit = Bandit(seed=0, cost_weight=0.5, max_explore=0.0)
    for _ in range(50):
        bandit.update("d", "cheap", True)
        bandit.update("d", "dear", True)
    model, _ = bandit.choose("d", {"cheap": 0.1, "dear": 1.0})
    assert model == "cheap"


def test_state_round_trips_through_json() -> None:
    bandit = Bandit(seed=0)
    bandit.update("d", "a", True)
    bandit.update("d", "b", False)
    state = json.loads(json.dumps(bandit.to_dict()))
    back = Bandit.from_dict(state, seed=0)
    assert back.to_dict() == bandit.to_dict()
    assert back.arms["d"]["a"].mean > back.arms["d"]["b"].mean


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="max_explore"):
        Bandit(max_explore=1.5)
    with pytest.raises(ValueError, match="decay"):
        Bandit(decay=0)
    with pytest.raises(ValueError, match="no candidates"):
        Bandit().choose("d", {})
