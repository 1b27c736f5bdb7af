"""Thompson sampling over a decision's candidate models, from outcome feedback (issue 19, point 3).

Self-contained and not wired yet: the feedback endpoint and the implicit outcomes (upstream errors,
``finish_reason``, re-asks) that would call :meth:`Bandit.update` live in the adapters, which were being
restructured when this was written. What it does on its own:

- one Beta(successes, failures) posterior per (decision, model), starting from a prior that can carry the
  learned selector's P(answers well) (``prior_mean`` x ``prior_strength`` pseudo-counts), so a new model
  starts where the offline model put it rather than at a coin flip;
- ``choose`` samples each candidate's posterior, subtracts ``cost_weight`` x relative price (the learned
  selector's knob), and picks the best;
- **exploration bound**: a pick that differs from the greedy one (best posterior mean) is an
  exploration; at most ``max_explore`` of a decision's recent picks may be explorations (an exponential
  average), so sampling noise never sends more than that share of traffic somewhere the evidence
  disfavours;
- **forgetting**: each update first decays that decision's counts towards the prior by ``decay``, so a
  model that starts failing loses its share within tens of requests, and one that heals wins it back;
- ``to_dict`` / ``from_dict``: plain JSON state, for a restart or a store the replicas share.
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

    @property
    def mean(self) -> float:
        return self.successes / (self.successes + self.failures)


@dataclass
class Bandit:
    """Per-decision Thompson sampling with a bounded exploration share and forgetting."""

    cost_weight: float = 0.0
    max_explore: float = 0.1
    decay: float = 0.97
    prior_strength: float = 2.0
    seed: int | None = None
    arms: dict[str, dict[str, Arm]] = field(default_factory=dict)
    explore_rate: dict[str, float] = field(default_factory=dict)
    _rng: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 0 <= self.max_explore <= 1:
            raise ValueError("max_explore must be in [0, 1]")
        if not 0 < self.decay <= 1:
            raise ValueError("decay must be in (0, 1]")
        if self.prior_strength <= 0:
            raise ValueError("prior_strength must be > 0")
        self._rng = random.Random(self.seed)

    def _arm(self, decision: str, model: str, prior_mean: float = 0.5) -> Arm:
        arms = self.arms.setdefault(decision, {})
        if model not in arms:
            p = min(max(prior_mean, 0.01), 0.99)
            arms[model] = Arm(p * self.prior_strength, (1 - p) * self.prior_strength)
        return arms[model]

    def choose(
        self,
        decision: str,
        candidates: dict[str, float],
        prior: dict[str, float] | None = None,
    ) -> tuple[str, dict[str, float]]:
        """(model, sampled utility per model) for candidates given as model -> price relative to the dearest."""
        if not candidates:
            raise ValueError("no candidates")
        with self._lock:
            arms = {m: self._arm(decision, m, (prior or {}).get(m, 0.5)) for m in candidates}
            greedy = max(candidates, key=lambda m: arms[m].mean - self.cost_weight * candidates[m])
            sampled = {
                m: self._rng.betavariate(a.successes, a.failures) - self.cost_weight * candidates[m]
                for m, a in arms.items()
            }
            pick = max(candidates, key=lambda m: sampled[m])
            rate = self.explore_rate.get(decision, 0.0)
            if pick != greedy and rate >= self.max_explore:
                pick = greedy  # the exploration budget of this decision is spent for now
            self.explore_rate[decision] = 0.95 * rate + 0.05 * (pick != greedy)
            return pick, sampled

    def update(self, decision: str, model: str, good: bool) -> None:
        """Record one outcome (rating, label or implicit signal) for ``model`` under ``decision``."""
        with self._lock:
            arms = self.arms.setdefault(decision, {})
            for arm in arms.values():  # forget old evidence towards the prior's strength
                total = arm.successes + arm.failures
                if total > self.prior_strength:
                    keep = self.decay + (1 - self.decay) * self.prior_strength / total
                    arm.successes *= keep
                    arm.failures *= keep
            arm = self._arm(decision, model)
            if good:
                arm.successes += 1
            else:
                arm.failures += 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "cost_weight": self.cost_weight,
            "max_explore": self.max_explore,
            "decay": self.decay,
            "prior_strength": self.prior_strength,
            "arms": {d: {m: [a.successes, a.failures] for m, a in arms.items()} for d, arms in self.arms.items()},
            "explore_rate": dict(self.explore_rate),
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any], seed: int | None = None) -> Bandit:
        b = cls(
            cost_weight=float(state["cost_weight"]),
            max_explore=float(state["max_explore"]),
            decay=float(state["decay"]),
            prior_strength=float(state["prior_strength"]),
            seed=seed,
        )
        for d, arms in state.get("arms", {}).items():
            b.arms[d] = {m: Arm(float(s), float(f)) for m, (s, f) in arms.items()}
        b.explore_rate = {d: float(v) for d, v in state.get("explore_rate", {}).items()}
        return b
