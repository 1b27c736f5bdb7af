"""The cascade's judge, stream window, logprob stripping and config checks (no process, no network)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from semrouter.config.loader import ConfigError, load_config
from semrouter.config.schema import CascadeConfig, RouterConfig
from semrouter.upstream.cascade import (
    SseLogprobStripper,
    StreamWindow,
    agreement,
    cascade_models,
    is_refusal,
    judge,
    read_answer,
)

CFG = CascadeConfig()

# Refusals and non-refusals written for this test in varied registers (not from any data set).
REFUSALS = [
    "I'm sorry, but I can't help with that.",
    "I\u2019m afraid I cannot provide that information.",  # a curly apostrophe
    "Sorry, I can't assist with this request.",
    "I cannot help with creating malware.",
    "As an AI language model, I do not have opinions.",
    "  I am unable to comply with that.",
    "Unfortunately, I don't have access to real-time data.",
]
ANSWERS = [
    "Sorry for the delay in the previous answer: the result is 42.",  # apology, then an answer
    "I can't stress enough how useful binary search is. Here is how it works...",
    "The function cannot be differentiated at x=0 because the left and right limits differ.",
    "Paris is the capital of France.",
    "I'm sorry to hear that your build broke! Try clearing the cache first: rm -rf build/",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_seen(text: str) -> None:
    assert is_refusal(text)
    assert judge(CFG, text, "stop", []) == "refusal"


@pytest.mark.parametrize("text", ANSWERS)
def test_answers_that_only_sound_apologetic_are_not_refusals(text: str) -> None:
    assert not is_refusal(text)
    assert judge(CFG, text, "stop", [-0.1, -0.2]) is None


def test_custom_refusal_patterns_replace_the_builtin_ones() -> None:
    assert is_refusal("Je ne peux pas répondre.", [r"^je ne peux pas"])
    assert not is_refusal("I'm sorry, but I can't help with that.", [r"^je ne peux pas"])


def test_judge_cues_in_order_and_only_when_enabled() -> None:
    assert judge(CFG, "  ", "stop", []) == "empty"
    assert judge(CFG, "", "stop", [], tool_calls=True) is None  # a tool call has no text and is an answer
    assert judge(CFG, "", None, [], complete=False) is None  # a stream window with nothing yet is not empty
    assert judge(CFG, "partial", "length", []) == "truncated"
    assert judge(CFG, "partial", "length", [], capped=True) is None  # the client's own max_tokens
    assert judge(CFG, "ok", "stop", [-2.0, -1.5]) == "low_logprob"
    assert judge(CFG, "ok", "stop", [-0.9, -1.0]) is None  # mean -0.95 is above -1
    assert judge(CFG, "ok", "stop", [float("-inf")]) == "low_logprob"
    only_empty = CascadeConfig(escalate_on=["empty"])
    assert judge(only_empty, "I'm sorry, but I can't help.", "length", [-9.0]) is None


def test_agreement_is_word_overlap() -> None:
    assert agreement("The answer is 4.", "the answer is 4") == 1.0
    assert agreement("B", "C") == 0.0
    assert agreement("", "") == 1.0
    assert 0.3 < agreement("the answer is B", "the answer is C") < 0.7


def test_read_answer_of_a_chat_completion() -> None:
    doc = {
        "choices": [
            {
                "message": {"content": "hi"},
                "finish_reason": "stop",
                "logprobs": {"content": [{"token": "hi", "logprob": -0.5}]},
            }
        ]
    }
    answer = read_answer(doc)
    assert answer is not None and answer.text == "hi" and answer.logprobs == [-0.5] and answer.finish == "stop"
    assert read_answer({"error": {}}) is None
    assert read_answer([1]) is None


def _event(obj: dict[str, Any]) -> bytes:
    return b"data: " + orjson.dumps(obj) + b"\n\n"


def _delta(text: str, lp: float | None = None, finish: str | None = None) -> bytes:
    choice: dict[str, Any] = {"index": 0, "delta": {"content": text}, "finish_reason": finish}
    if lp is not None:
        choice["logprobs"] = {"content": [{"token": text, "logprob": lp}]}
    return _event({"choices": [choice]})


def test_stream_window_reads_events_split_anywhere() -> None:
    data = _delta("Hel", -0.1) + _delta("lo", -0.3) + _delta("", None, "stop") + b"data: [DONE]\n\n"
    w = StreamWindow()
    for i in range(0, len(data), 7):  # 7-byte pieces: events and lines cut in the middle
        w.feed(data[i : i + 7])
    assert w.text == "Hello" and w.tokens == 2 and w.logprobs == [-0.1, -0.3]
    assert w.finish == "stop" and w.done and w.full(CFG)


def test_stream_window_is_full_at_its_token_or_byte_bound() -> None:
    cfg = CascadeConfig(stream_window_tokens=3, stream_window_bytes=256)
    w = StreamWindow()
    for t in ("a", "b"):
        w.feed(_delta(t))
    assert not w.full(cfg)
    w.feed(_delta("c"))
    assert w.full(cfg)
    w2 = StreamWindow()
    w2.feed(b'data: {"choices": [{"index": 0, "delta": {"reasoning_content": "' + b"x" * 300 + b'"}}]}\n\n')
    assert w2.tokens == 0 and w2.full(cfg)  # a long reasoning preamble cannot hold the stream forever


def test_stripper_removes_only_logprobs_and_keeps_other_bytes() -> None:
    data = _delta("Hi", -0.1) + b": keep-alive comment\n\n" + _delta("!") + b"data: [DONE]\n\n"
    s = SseLogprobStripper()
    out = b"".join(s.feed(data[i : i + 5]) for i in range(0, len(data), 5)) + s.finish()
    assert b"logprobs" not in out
    assert b": keep-alive comment\n\n" in out and out.endswith(b"data: [DONE]\n\n")
    assert _delta("!") in out  # an event without logprobs passes byte for byte
    first = orjson.loads(out.split(b"\n\n")[0][6:])
    assert first["choices"][0]["delta"]["content"] == "Hi"


def _config(cascade: dict[str, Any], models: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    models = models or [
        {"name": "big", "endpoints": [{"url": "http://127.0.0.1:1"}], "pricing": {"completion_per_1m": 10}},
        {"name": "tiny", "endpoints": [{"url": "http://127.0.0.1:2"}], "pricing": {"completion_per_1m": 1}},
    ]
    return {
        "models": models,
        "decisions": [{"name": "default", "models": [{"model": "big"}, {"model": "tiny"}], "cascade": cascade}],
    }


def test_candidates_are_tried_cheapest_first() -> None:
    cfg = RouterConfig.model_validate(_config({}))
    assert cascade_models(cfg.decisions[0], cfg) == ["tiny", "big"]
    cfg = RouterConfig.model_validate(_config({"models": ["big", "tiny"]}))
    assert cascade_models(cfg.decisions[0], cfg) == ["big", "tiny"]  # as configured, when listed


@pytest.mark.parametrize(
    ("cascade", "models", "message"),
    [
        ({"models": ["tiny", "nope"]}, None, "unknown model 'nope'"),
        ({"models": ["tiny"]}, None, "at least two different models"),
        ({"refusal_patterns": ["("]}, None, "invalid regex"),
        (
            {},
            [
                {"name": "big", "family": "qwen3", "endpoints": [{"url": "http://127.0.0.1:1"}]},
                {"name": "tiny", "family": "deepseek", "endpoints": [{"url": "http://127.0.0.1:2"}]},
            ],
            "one reasoning family",
        ),
        ({"escalate_on": ["vibes"]}, None, "escalate_on"),
    ],
)
def test_bad_cascade_configs_are_refused_clearly(tmp_path, cascade, models, message) -> None:
    import yaml

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_config(cascade, models)))
    with pytest.raises(ConfigError) as err:
        load_config(path)
    assert message in str(err.value)


def test_extproc_refuses_a_cascade(tmp_path, capsys) -> None:
    import yaml

    from semrouter.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(_config({})))
    assert main(["extproc", "--config", str(path)]) == 2
    assert "needs the HTTP proxy" in capsys.readouterr().err
