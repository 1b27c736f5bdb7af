"""The cache verifier (semrouter/cache/verify.py): its asset, its features and the stage's use of it.

Quality on questions written elsewhere is gated in ``test_cache_oos.py``; these tests pin the mechanics
(what the features see, that the asset matches them, that cost stays bounded) with hand-picked pairs whose
cosine is passed in, so no embedding model is needed.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from semrouter.cache.match import normalize
from semrouter.cache.verify import FEATURES, Verifier, pair_features


@pytest.fixture(scope="module")
def verifier() -> Verifier:
    return Verifier.default()


def feature(query: str, stored: str, name: str, cosine: float = 0.9) -> float:
    return float(pair_features(query, normalize(stored), cosine)[FEATURES.index(name)])


def test_asset_matches_the_features(verifier: Verifier) -> None:
    assert verifier.w1.shape == (len(FEATURES), verifier.b1.shape[0])
    assert 0.0 < verifier.threshold < 1.0


def test_an_asset_for_other_features_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "v.npz"
    with np.load(Path(__file__).parents[2] / "semrouter" / "cache" / "assets" / "verifier.npz") as data:
        params = {k: data[k] for k in data.files}
    params["features"] = np.array([*FEATURES[:-1], "something_else"])
    np.savez(path, **params)
    with pytest.raises(ValueError, match="other features"):
        Verifier.load(path)


def test_features_see_what_the_families_change() -> None:
    assert feature("how do i turn off dark mode", "how do i turn on dark mode", "antonym") == 1.0
    assert feature("who was the runner-up in 2014", "who was the winner in 2014", "modifier") >= 1.0
    assert feature("what is 80 increased by 15%?", "what is 15% of 80?", "numbers_same_relation_differs") == 1.0
    assert feature("when was Dracula published?", "who wrote Dracula?", "wh_differs") == 1.0
    # typos and folded word forms are not substitutions
    assert feature("who wrote teh hobit", "who wrote the hobbit", "no_content_diff") == 1.0
    assert feature("who is the author of Dracula", "who wrote Dracula", "no_content_diff") == 1.0


def test_scores_order_the_obvious_cases(verifier: Verifier) -> None:
    same = verifier.score(
        "how do i turn on dark mode in outlook", normalize("How do I turn on dark mode in Outlook?"), 0.99
    )
    flipped = verifier.score(
        "How do I turn off dark mode in Outlook?", normalize("How do I turn on dark mode in Outlook?"), 0.94
    )
    number = verifier.score("What is 17 * 24?", normalize("What is 17 * 23?"), 0.90)
    assert same >= verifier.threshold > max(flipped, number)


def test_cost_is_bounded_on_huge_input(verifier: Verifier) -> None:
    """Each side is cut to a bounded number of tokens: a megabyte prompt costs what its head costs (the
    lexical guard it also runs is linear and bounded on its own, see test_cache_match.py)."""
    huge = "alpha beta gamma delta " * 50_000
    t0 = time.perf_counter()
    score = verifier.score(huge + "one", normalize(huge + "two"), 0.99)
    assert time.perf_counter() - t0 < 5.0 and 0.0 <= score <= 1.0
