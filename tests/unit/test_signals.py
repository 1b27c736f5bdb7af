"""Each signal, rule evaluation, decision choice and model selection, on the real embedding model."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from semrouter.config import parse_config
from semrouter.context import ApiKind, RequestContext
from semrouter.decide.rules import AllOf, AnyOf, Condition, Not
from semrouter.signals.registry import build_signal
from semrouter.signals.request import estimate_tokens
from semrouter.signals.result import SignalResult
from semrouter.stages import build_pipeline

BASE = """
models:
  - name: small
    family: qwen3
    pricing: {prompt_per_1m: 0.1, completion_per_1m: 0.1}
    endpoints: [{url: "http://127.0.0.1:9"}]
  - name: big
    family: deepseek
    pricing: {prompt_per_1m: 1.0, completion_per_1m: 1.0}
    endpoints: [{url: "http://127.0.0.1:9"}]
"""


def config(signals: list[dict[str, Any]], decisions: str = "") -> Any:
    import yaml

    text = (
        BASE
        + yaml.safe_dump({"signals": signals})
        + (decisions or "decisions:\n  - name: default\n    models: [{model: small}]\n")
    )
    return parse_config(text)


def ctx(text: str, cfg: Any = None, headers: dict[str, str] | None = None, **body: Any) -> RequestContext:
    cfg = cfg or config([])
    payload = {"model": "auto", "messages": [{"role": "user", "content": text}], **body}
    c = RequestContext(ApiKind.CHAT, orjson.dumps(payload), headers or {}, cfg)
    c.body = payload
    return c


async def evaluate(signal: dict[str, Any], text: str, **kw: Any) -> SignalResult:
    cfg = config([signal])
    return await build_signal(cfg.signals[0]).evaluate(ctx(text, cfg, **kw))


@pytest.mark.parametrize(
    ("spec", "text", "matched"),
    [
        ({"keywords": ["integral"]}, "Compute the integral of x", True),
        ({"keywords": ["integral"]}, "Compute the integrals of x", False),  # word boundary
        ({"keywords": ["integral"], "word_boundary": False}, "Compute the integrals of x", True),
        ({"keywords": ["Integral"], "case_sensitive": True}, "compute the integral", False),
        ({"keywords": ["c++"]}, "Is c++ faster than rust?", True),  # boundary next to symbols
        ({"keywords": ["integral", "derivative"], "operator": "and"}, "integral only", False),
        ({"keywords": ["integral", "derivative"], "operator": "and"}, "derivative of an integral", True),
        ({"keywords": ["password", "secret"], "operator": "nor"}, "hello there", True),
        ({"keywords": ["password", "secret"], "operator": "nor"}, "my password is", False),
        ({"keywords": [r"\bCVE-\d{4}-\d+"], "regex": True}, "patch CVE-2024-3094 now", True),
    ],
)
async def test_keyword(spec, text, matched):
    r = await evaluate({"name": "k", "type": "keyword", **spec}, text)
    assert r.matched is matched


def test_keyword_bad_regex_is_a_config_error():
    from semrouter.config import ConfigError

    with pytest.raises(ConfigError, match="not a valid regex"):
        config([{"name": "k", "type": "keyword", "keywords": ["(unclosed"], "regex": True}])


async def test_similarity_threshold_and_aggregation():
    spec = {
        "name": "code",
        "type": "similarity",
        "examples": ["Write a Python function", "Fix this bug in my JavaScript code"],
        "threshold": 0.5,
    }
    hit = await evaluate(spec, "Write a python function that sorts a list")
    miss = await evaluate(spec, "What is the capital of Peru?")
    assert hit.matched and hit.detail["closest"] == "Write a Python function" and hit.confidence > 0.5
    assert not miss.matched and miss.confidence < 0.3
    mean = await evaluate({**spec, "aggregate": "mean"}, "Write a python function that sorts a list")
    assert mean.confidence < hit.confidence


async def test_domain_category_and_fallback():
    r = await evaluate({"name": "domain", "type": "domain"}, "Solve for x: 3x + 7 = 22")
    assert r.matched and r.value == "math" and r.confidence > 0.5
    assert r.detail["top"][0][0] == "math"
    # just above its own probability: the category falls back to "other", the confidence stays
    strict = {"name": "domain", "type": "domain", "threshold": min(1.0, r.confidence + 1e-6)}
    low = await evaluate(strict, "Solve for x: 3x + 7 = 22")
    assert low.value == "other" and low.confidence == pytest.approx(r.confidence)


async def test_complexity():
    spec = {
        "name": "complexity",
        "type": "complexity",
        "hard_examples": [
            "Prove this theorem rigorously",
            "Derive the formula step by step and prove it is correct",
            "Design a distributed system that tolerates network partitions",
        ],
        "easy_examples": ["What is 2 + 2?", "What color is the sky?", "Say hello"],
    }
    hard = await evaluate(spec, "Derive the quadratic formula step by step")
    easy = await evaluate(spec, "What is 3 + 5?")
    assert hard.matched and hard.value == "hard" and hard.confidence > 0.9
    assert not easy.matched and easy.value == "easy" and easy.confidence > 0.9
    greeting = await evaluate({**spec, "margin": 0.2}, "Hi there!")
    assert greeting.value == "easy"


async def test_context_length_bands():
    spec = {"name": "long", "type": "context_length", "min_tokens": 100, "max_tokens": 1000}
    assert not (await evaluate(spec, "short")).matched
    assert (await evaluate(spec, "word " * 200)).matched
    assert not (await evaluate(spec, "word " * 2000)).matched
    assert estimate_tokens("abcd" * 100) == 100
    assert estimate_tokens("漢字" * 50) == 100  # about one token per CJK character


async def test_header_and_metadata():
    tier = {"name": "premium", "type": "header", "header": "X-Tier", "one_of": ["gold", "platinum"]}
    assert (await evaluate(tier, "x", headers={"x-tier": "gold"})).matched
    assert not (await evaluate(tier, "x", headers={"x-tier": "free"})).matched
    assert not (await evaluate(tier, "x")).matched
    meta = {"name": "team", "type": "metadata", "field": "metadata.team", "pattern": "^ml-"}
    assert (await evaluate(meta, "x", metadata={"team": "ml-infra"})).matched
    assert not (await evaluate(meta, "x", metadata={"team": "web"})).matched
    user = {"name": "vip", "type": "metadata", "field": "user", "equals": "alice"}
    assert (await evaluate(user, "x", user="alice")).matched


def test_rule_trees():
    res = {
        "a": SignalResult(True, 0.9),
        "b": SignalResult(True, 0.6, "math"),
        "c": SignalResult(False, 0.0),
    }
    assert Condition(signal="b", equals="math").evaluate(res) == (True, 0.6)
    assert Condition(signal="b", one_of=["law"]).evaluate(res) == (False, 0.0)
    assert Condition(signal="a", min_confidence=0.95).evaluate(res) == (False, 0.0)
    assert Condition(signal="missing").evaluate(res) == (False, 0.0)
    both = AllOf.model_validate({"all": [{"signal": "a"}, {"signal": "b"}]})
    assert both.evaluate(res) == (True, 0.6)  # the weakest part
    either = AnyOf.model_validate({"any": [{"signal": "c"}, {"signal": "a"}, {"signal": "b"}]})
    assert either.evaluate(res) == (True, 0.9)  # the strongest matching part
    neither = Not.model_validate({"not": {"signal": "c"}})
    assert neither.evaluate(res) == (True, 1.0)
    nested = AllOf.model_validate({"all": [{"any": [{"signal": "c"}, {"signal": "b"}]}, {"not": {"signal": "a"}}]})
    assert nested.evaluate(res)[0] is False
    assert nested.signals() == {"a", "b", "c"}


DECISIONS = """
decisions:
  - name: default
    models: [{model: small}]
  - name: math
    priority: 10
    rules: {signal: domain, equals: math}
    models: [{model: small, score: 0.6}, {model: big, score: 0.9}]
    use_reasoning: true
  - name: urgent
    priority: 20
    rules: {all: [{signal: domain, equals: math}, {signal: urgent}]}
    models: [{model: small}]
  - name: cheap_math
    priority: 10
    rules: {signal: domain, one_of: [math, physics], min_confidence: 0.99}
    models: [{model: small}]
"""


async def test_decisions_priority_and_default():
    cfg = config(
        [{"name": "domain", "type": "domain"}, {"name": "urgent", "type": "keyword", "keywords": ["urgent"]}],
        DECISIONS,
    )
    pipe = build_pipeline(cfg)
    c = ctx("Solve for x: 3x + 7 = 22", cfg)
    await pipe.run_request(c)
    assert (c.decision.name, c.model, c.category, c.reasoning) == ("math", "big", "math", True)
    c = ctx("urgent: solve for x: 3x + 7 = 22", cfg)
    await pipe.run_request(c)
    assert c.decision.name == "urgent"  # higher priority wins
    c = ctx("Who painted the Mona Lisa?", cfg)
    await pipe.run_request(c)
    assert c.decision.name == "default" and c.model == "small"


def test_unknown_signal_in_rules_is_a_config_error():
    from semrouter.config import ConfigError

    with pytest.raises(ConfigError, match="unknown signal 'nope'"):
        config([], "decisions:\n  - name: default\n    models: [{model: small}]\n    rules: {signal: nope}\n")


async def test_cost_aware_selection():
    decisions = """
decisions:
  - name: default
    models: [{model: small, score: 0.7}, {model: big, score: 0.9}]
    selection: {algorithm: cost_aware, cost_weight: %s}
"""
    for weight, want in (("0.1", "big"), ("0.5", "small")):
        cfg = config([], decisions % weight)
        c = ctx("x", cfg)
        await build_pipeline(cfg).run_request(c)
        assert c.model == want, (weight, c.selection_scores)
    static = config(
        [], "decisions:\n  - name: default\n    models: [{model: small, score: 0.7}, {model: big, score: 0.9}]\n"
    )
    c = ctx("x", static)
    await build_pipeline(static).run_request(c)
    assert c.model == "big"


async def test_embedding_computed_once_and_shared():
    from semrouter.embed.service import EmbeddingService

    cfg = config(
        [
            {"name": "domain", "type": "domain"},
            {"name": "sim", "type": "similarity", "examples": ["hello"]},
            {"name": "cx", "type": "complexity", "hard_examples": ["prove it"], "easy_examples": ["hi"]},
        ]
    )
    pipe = build_pipeline(cfg)
    svc = EmbeddingService.default()
    before = svc.stats.items
    c = ctx("A perfectly unique sentence about embeddings 1234", cfg)
    await pipe.run_request(c)
    assert set(c.signals) == {"domain", "sim", "cx"}
    assert svc.stats.items - before == 1
