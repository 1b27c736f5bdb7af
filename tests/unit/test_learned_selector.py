"""The learned selector: its model file, how candidates map to outcome columns, the quality-vs-price knob,
and the choice it makes through ``semrouter route`` (dry run) with the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from semrouter.cli import main
from semrouter.config.loader import parse_config
from semrouter.config.schema import SelectionConfig
from semrouter.decide.learned import (
    SELECTOR_PATH,
    LearnedSelector,
    SelectorModel,
    assign_columns,
    load_selector_model,
    shape_features,
)

CONFIG = """
routing: {{virtual_models: [auto], default_decision: pick}}
models:
  - {{name: small, pricing: {{prompt_per_1m: 0.1, completion_per_1m: 0.1}}, endpoints: [{{url: "http://127.0.0.1:9"}}]}}
  - {{name: big, pricing: {{prompt_per_1m: 1.0, completion_per_1m: 1.0}}, endpoints: [{{url: "http://127.0.0.1:9"}}]}}
decisions:
  - name: pick
    models: [{{model: big}}, {{model: small}}]
    selection: {{algorithm: learned, cost_weight: {cw}}}
"""

PROMPTS = [
    "hi, what's the capital of France?",
    "Which of these is a mammal?\nA. shark\nB. dolphin\nC. trout\nD. eel\nAnswer:",
    "Let G be a finite group of order 2p where p is an odd prime. How many Sylow p-subgroups can G have?\n"
    "A. 0\nB. 1\nC. 2\nD. p\nAnswer:",
    "A 54-year-old man presents with crushing chest pain radiating to the left arm, ST elevation in II, III and "
    "aVF. Which artery is most likely occluded?\nA. LAD\nB. RCA\nC. LCx\nD. left main\nAnswer:",
    "Under the rule against perpetuities, is a devise 'to A for life, then to A's children who reach 25' valid?\n"
    "A. yes\nB. no, remote vesting\nC. only as to A\nD. it depends on the state\nAnswer:",
    "Statement 1 | Every integral domain with unity is a field. Statement 2 | Z_7 is a field.\n"
    "A. True, True\nB. False, False\nC. True, False\nD. False, True\nAnswer:",
    "what colour is the sky on a clear day",
    "If a 3 kg cart moving at 4 m/s collides elastically with a 1 kg cart at rest, what is the speed of the "
    "3 kg cart afterwards?\nA. 1 m/s\nB. 2 m/s\nC. 3 m/s\nD. 4 m/s\nAnswer:",
]


def _tiny(kind: str) -> SelectorModel:
    rng = np.random.default_rng(0)
    d, extra, m = 384, 20, 2
    params: dict[str, np.ndarray] = {
        "linear": {"w": rng.normal(0, 0.1, (d + extra, m)), "b": np.zeros(m)},
        "mlp": {
            "w1": rng.normal(0, 0.1, (d + extra, 8)),
            "b1": np.zeros(8),
            "w2": rng.normal(0, 0.1, (8, m)),
            "b2": np.zeros(m),
        },
        "knn": {
            "keys": rng.normal(0, 1, (50, d)),
            "values": rng.random((50, m)).round(),
            "k": np.int64(5),
            "prior": np.full(m, 0.5),
            "counts": np.ones(50),
            "strength": np.float32(2),
            "sharpness": np.float32(10),
        },
    }[kind]  # type: ignore[assignment]
    return SelectorModel(
        kind=kind,
        columns=("weak", "strong"),
        params={k: np.asarray(v, dtype=np.float32) if k != "k" else v for k, v in params.items()},
        mean=np.zeros(extra, np.float32),
        std=np.ones(extra, np.float32),
        domain_w=rng.normal(0, 0.1, (d, 14)).astype(np.float32),
        domain_b=np.zeros(14, np.float32),
        domain_t=1.0,
    )


@pytest.mark.parametrize("kind", ["linear", "mlp", "knn"])
def test_model_round_trips_through_npz(kind: str, tmp_path: Path) -> None:
    model = _tiny(kind)
    model.save(tmp_path / "s.npz")
    back = SelectorModel.load(tmp_path / "s.npz")
    emb = np.random.default_rng(1).normal(0, 1, (3, 384)).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    texts = ["a", "b?", "c\nA. x\nB. y"]
    p = back.proba_batch(emb, texts)
    assert p.shape == (3, 2) and np.all((p > 0) & (p < 1))
    np.testing.assert_allclose(p, model.proba_batch(emb, texts), atol=5e-3 if kind == "knn" else 1e-6)


def test_bad_model_file_shapes_are_refused() -> None:
    m = _tiny("linear")
    with pytest.raises(ValueError, match="2 columns"):
        SelectorModel(
            m.kind, ("a", "b"), {"w": m.params["w"], "b": np.zeros(3)}, m.mean, m.std, m.domain_w, m.domain_b, 1.0
        )
    with pytest.raises(ValueError, match="unknown selector kind"):
        SelectorModel("forest", ("a",), {}, m.mean, m.std, m.domain_w, m.domain_b, 1.0)


def test_shape_features_are_bounded_on_huge_input() -> None:
    f = shape_features("Which?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:")
    assert f[4] == 4 and f[5] == 1
    big = shape_features("7" * 5_000_000)
    assert big[2] == 1.0 and np.isfinite(big).all()


def _config(cw: float = 0.0) -> object:
    return parse_config(CONFIG.format(cw=cw), "test.yaml")


def test_cheapest_candidate_reads_weak_and_dearest_strong_unless_tiers_say_otherwise() -> None:
    config = _config()
    decision = config.decisions[0]  # type: ignore[attr-defined]
    model = load_selector_model()
    cols, rel = assign_columns(decision, config, model, {})  # type: ignore[arg-type]
    assert cols == {"small": "weak", "big": "strong"}
    assert rel == {"small": pytest.approx(0.1), "big": pytest.approx(1.0)}
    cols, _ = assign_columns(decision, config, model, {"small": "strong"})  # type: ignore[arg-type]
    assert cols["small"] == "strong"
    with pytest.raises(ValueError, match="not one of"):
        assign_columns(decision, config, model, {"small": "medium"})  # type: ignore[arg-type]


def test_the_cost_weight_trades_quality_against_price() -> None:
    config = _config()
    decision = config.decisions[0]  # type: ignore[attr-defined]
    proba = {"weak": 0.6, "strong": 0.8}  # a 0.2 gain for 0.9 of the dearest price

    def pick(cw: float) -> str:
        selector = LearnedSelector(SelectionConfig(algorithm="learned", cost_weight=cw))
        return selector.choose(decision, config, proba)[0]  # type: ignore[arg-type]

    assert pick(0.0) == "big"
    assert pick(0.2) == "big"  # 0.8 - 0.2 > 0.6 - 0.02
    assert pick(0.25) == "small"  # 0.8 - 0.25 < 0.6 - 0.025


def test_shipped_model_has_its_provenance() -> None:
    model = load_selector_model()
    assert SELECTOR_PATH.is_file() and model.columns == ("weak", "strong")
    meta = model.metadata
    # held out by a hash of the prompt (data/routing/mmlu_heldout.jsonl): every subject is seen in training
    assert meta["rows"]["heldout"] > 1000 and meta["split"] == "hash of the prompt"
    assert meta["kind"] == model.kind and meta["kind"] in meta["families"]


def _route(tmp_path: Path, cw: float) -> list[str]:
    cfg = tmp_path / f"c{cw}.yaml"
    cfg.write_text(CONFIG.format(cw=cw))
    inp = tmp_path / "in.jsonl"
    inp.write_text("".join(json.dumps({"id": i, "text": t}) + "\n" for i, t in enumerate(PROMPTS)))
    out = tmp_path / f"out{cw}.jsonl"
    assert main(["route", "--config", str(cfg), "--input", str(inp), "--output", str(out), "--no-progress"]) == 0
    return [json.loads(line)["route"]["model"] for line in out.read_text().splitlines()]


def test_route_dry_run_sends_high_scores_to_the_strong_model_and_the_knob_moves_the_split(tmp_path: Path) -> None:
    from semrouter.embed.service import EmbeddingService

    model = load_selector_model()
    emb = EmbeddingService.default().embed_many(PROMPTS)
    gain = model.strong_scores_from(emb, PROMPTS)  # P(strong good) - P(weak good) per prompt
    assert gain.max() - gain.min() > 0.02, "the shipped selector should tell these prompts apart"
    # a cost weight between two prompts' gains (price gap 0.9 of the dearest) splits them
    hi, lo = int(gain.argmax()), int(gain.argmin())
    cw = float((gain[hi] + gain[lo]) / 2 / 0.9)
    routed = _route(tmp_path, max(cw, 0.0))
    assert routed[hi] == "big" and routed[lo] == "small"
    # the split follows the knob: every prompt with gain above 0.9*cw goes to the strong model
    assert routed == ["big" if g > 0.9 * max(cw, 0.0) else "small" for g in gain]
    shares = [sum(m == "big" for m in _route(tmp_path, w)) for w in (0.0, max(cw, 0.0), 5.0)]
    assert shares[0] >= shares[1] >= shares[2] and shares[0] > shares[2]
    assert shares[2] == 0  # nothing is worth five times the price gap


def test_a_tier_the_selector_does_not_know_is_refused_at_start() -> None:
    from semrouter.stages.selection import SelectionStage

    config = parse_config(
        CONFIG.format(cw=0.1).replace("algorithm: learned", "algorithm: learned, tiers: {big: best}"), "t.yaml"
    )
    with pytest.raises(ValueError, match=r"selection\.tiers names \['best'\]"):
        SelectionStage(config)
