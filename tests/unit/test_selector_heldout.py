"""Issue 19's accuracy gate for the shipped learned selector, on outcomes it never saw.

``data/routing/mmlu_heldout.jsonl`` is the 20% of ``../shared/data/routing/mmlu_outcomes.jsonl`` that
``semrouter train selector --split prompt`` holds out (by a hash of the prompt): nothing in it trained
the selector or chose its family and settings (those were chosen by cross-validation on the rest).
RouteLLM's metrics: APGR (area under the performance-gap-recovered curve; random 0.5) and CPT(50%) (the
strong share needed to recover half the gap; random 50%).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from semrouter.eval.routing import evaluate

HELDOUT = Path(__file__).parents[2] / "data" / "routing" / "mmlu_heldout.jsonl"


@pytest.mark.slow  # embeds 2,088 prompts: ~10-60 s on two cores
def test_shipped_selector_routes_held_out_mmlu_outcomes_well() -> None:
    m, scores = evaluate(str(HELDOUT), progress=False)
    assert m["n"] > 2000 and len(scores) == m["n"]
    assert m["apgr"] >= 0.65, m["apgr"]
    assert m["cpt50"] is not None and m["cpt50"] <= 0.30, m["cpt50"]
