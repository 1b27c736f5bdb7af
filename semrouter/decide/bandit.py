"""Thompson sampling over one decision's candidate models, from outcome feedback (issue 19, point 3).

One :class:`Bandit` per decision (the :class:`~semrouter.decide.feedback.Learning` hub keeps them across
config reloads). What it does:

- one Beta(successes, failures) posterior per model, starting from a prior mean (the candidate's
  configured score, or the learned selector's base rate for the model's outcome column) worth
  ``prior_strength`` pseudo-outcomes, so a model starts where the config or the offline model put it
  rather than at a coin flip;
- ``choose`` samples each candidate's posterior, adds a per-request ``offset`` (the learned selector's
  P(good | this prompt) minus its base rate: that is what makes it contextual, the bandit learning each
  model's offset from the offline prediction), subtracts ``cost_weight`` x relative price, and picks the
  best;
- **exploration bound**: a pick that differs from the greedy one (best posterior mean) is an
  exploration; at most ``max_explore`` of the decision's recent picks may be explorations (an
  exponential average over ~20 picks), so sampling noise never sends more than that share of traffic
  where the evidence disfavours;
- **forgetting**: each outcome recorded for the decision first moves every arm a step ``1 - decay``
  back towards its prior (mean and strength). A model that starts failing loses its share within a
  handful of failures; one that stops getting traffic drifts back to its prior and so is tried again,
  which is how a healed model wins its share back (``tests/unit/test_bandit.py`` bounds both);
- ``to_dict`` / ``from_dict``: plain JSON state, for a restart.

Why forgetting pulls towards the prior and not just shrinks the counts: shrinking keeps a failed
model's mean near zero, so it would never be sampled again and a recovery could not be seen.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Arm:
    successes: float
    failures: float
    prior: float  # the prior mean forgetting pulls back to

    @property
    def mean(self) -> float:
        return self.successes / (self.successes + self.failures)


def _clip(p: float) -> float:
    return min(max(p, 0.01), 0.99)


@dataclass
class Bandit:
    """Thompson sampling for one decision, with a bounded exploration share and forgetting."""

    max_explore: float = 0.1
    decay: float = 0.97
    prior_strength: float = 2.0
    seed: int | None = None
    arms: dict[str, Arm] = field(default_factory=dict)
    explore_rate: float = 0.0
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.configure(self.max_explore, self.decay, self.prior_strength)
        self._rng = random.Random(self.seed)

    def configure(self, max_explore: float, decay: float, prior_strength: float) -> None:
        """New settings (a config reload) for the same evidence."""
        if not 0 <= max_explore <= 1:
            raise ValueError("max_explore must be in [0, 1]")
        if not 0 < decay <= 1:
            raise ValueError("decay must be in (0, 1]")
        if prior_strength <= 0:
            raise ValueError("prior_strength must be > 0")
        self.max_explore, self.decay, self.prior_strength = max_explore, decay, prior_strength

    def _arm(self, model: str, prior: float) -> Arm:
        arm = self.arms.get(model)
        if arm is None:
            p = _clip(prior)
            arm = self.arms[model] = Arm(p * self.prior_strength, (1 - p) * self.prior_strength, p)
        return arm

    def set_priors(self, priors: dict[str, float], keep: set[str] | None = None) -> None:
        """The candidates' prior means (a reload may change scores); arms of models in no longer a
        candidate (``keep``) are dropped, so a removed model's history does not linger."""
        with self._lock:
            if keep is not None:
                for gone in set(self.arms) - keep:
                    del self.arms[gone]
            for model, p in priors.items():
                self._arm(model, p).prior = _clip(p)

    def choose(
        self,
        candidates: dict[str, float],
        priors: dict[str, float],
        cost_weight: float = 0.0,
        offsets: dict[str, float] | None = None,
    ) -> tuple[str, dict[str, float], bool]:
        """(model, sampled utility per model, explored) for ``candidates`` given as model -> price
        relative to the dearest; ``priors`` seed arms seen for the first time."""
        if not candidates:
            raise ValueError("no candidates")
        off = offsets or {}
        with self._lock:
            arms = {m: self._arm(m, priors.get(m, 0.5)) for m in candidates}
            greedy = max(candidates, key=lambda m: arms[m].mean + off.get(m, 0.0) - cost_weight * candidates[m])
            betav = self._rng.betavariate
            sampled = {
                m: betav(a.successes, a.failures) + off.get(m, 0.0) - cost_weight * candidates[m]
                for m, a in arms.items()
            }
            pick = max(candidates, key=sampled.__getitem__)
            rate = self.explore_rate
            if pick != greedy and rate >= self.max_explore:
                pick = greedy  # the exploration budget of this decision is spent for now
            explored = pick != greedy
            self.explore_rate = 0.95 * rate + 0.05 * explored
            return pick, sampled, explored

    def update(self, model: str, reward: float | None, weight: float = 1.0) -> None:
        """Record one outcome for ``model``: ``reward`` in [0, 1] (1 = good), worth ``weight`` outcomes.

        ``None`` is an outcome "as expected" (an answer that came back complete): it counts as the arm's
        prior mean. Counted as a full success instead, every healthy model's mean would climb to ~1 and
        the configured quality difference between them would be lost; this way a healthy model stays at
        its prior, errors take it below and explicit praise above."""
        if reward is not None and not 0 <= reward <= 1:
            raise ValueError("reward must be in [0, 1]")
        if weight <= 0:
            return
        with self._lock:
            self._update(model, reward, weight)

    def _update(self, model: str, reward: float | None, weight: float) -> None:
        # the same arithmetic as the shared store's MERGE script (semrouter.decide.shared): keep them in step
        d, ps = self.decay, self.prior_strength
        for arm in self.arms.values():  # forget: a step back towards the prior
            arm.successes = d * arm.successes + (1 - d) * arm.prior * ps
            arm.failures = d * arm.failures + (1 - d) * (1 - arm.prior) * ps
        arm = self._arm(model, 0.5)
        r = arm.prior if reward is None else reward
        arm.successes += weight * r
        arm.failures += weight * (1 - r)

    def adopt(self, merged: dict[str, tuple[float, float]], replay: list[tuple[str, float | None, float]]) -> None:
        """Take the fleet's merged evidence (successes, failures per model) from the shared store, then
        replay the outcomes recorded here since (not in the store yet). Models not merged keep theirs; a
        non-positive count (a corrupt store entry) is ignored for that model."""
        with self._lock:
            for model, (s, f) in merged.items():
                arm = self.arms.get(model)
                if arm is not None and s > 0 and f > 0:
                    arm.successes, arm.failures = s, f
            for model, reward, weight in replay:
                if weight > 0:
                    self._update(model, reward, weight)

    def snapshot(self) -> dict[str, tuple[float, float, float]]:
        """model -> (prior, successes, failures), what a merge with the shared store sends."""
        with self._lock:
            return {m: (a.prior, a.successes, a.failures) for m, a in self.arms.items()}

    def means(self) -> dict[str, float]:
        with self._lock:
            return {m: a.mean for m, a in self.arms.items()}

    def to_dict(self) -> dict[str, Any]:
        with self._lock:
            return {
                "max_explore": self.max_explore,
                "decay": self.decay,
                "prior_strength": self.prior_strength,
                "arms": {m: [a.successes, a.failures, a.prior] for m, a in self.arms.items()},
                "explore_rate": self.explore_rate,
            }

    @classmethod
    def from_dict(cls, state: dict[str, Any], seed: int | None = None) -> Bandit:
        """The bandit ``to_dict`` wrote; a malformed state raises ValueError (or KeyError/TypeError)."""
        b = cls(
            max_explore=float(state["max_explore"]),
            decay=float(state["decay"]),
            prior_strength=float(state["prior_strength"]),
            seed=seed,
        )
        for m, (s, f, p) in state.get("arms", {}).items():
            arm = Arm(float(s), float(f), _clip(float(p)))
            if not (arm.successes > 0 and arm.failures > 0):
                raise ValueError(f"arm {m!r}: counts must be positive")
            b.arms[str(m)] = arm
        b.explore_rate = float(state.get("explore_rate", 0.0))
        return b
