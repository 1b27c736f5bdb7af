"""Session-stable routing through the real router and fake workers: a conversation keeps its model across
turns while the signals alone would move it, switches when the decision has no candidate in common, and a
safety block still wins over the pin. Driven through the real ``openai`` SDK, as a chat app would.
"""

from __future__ import annotations

import time
import urllib.request
from collections.abc import Callable
from typing import Any

import openai
import pytest
from openai import OpenAI
from servers import Server, http_json


def config(small: Server, large: Server, coder: Server, **extra: Any) -> dict[str, Any]:
    """math → [large, small]; code → [coder] only; everything else → [small, large] (static: the first)."""
    return {
        "models": [
            {"name": "small", "endpoints": [{"url": small.url}]},
            {"name": "large", "endpoints": [{"url": large.url}]},
            {"name": "coder", "endpoints": [{"url": coder.url}]},
        ],
        "pool": {"health_check": {"interval_s": 0.5, "timeout_s": 1}},
        "routing": {"default_decision": "general"},
        "signals": [
            {"name": "math", "type": "keyword", "keywords": ["integral", "derivative"]},
            {"name": "code", "type": "keyword", "keywords": ["python"]},
        ],
        "decisions": [
            {"name": "math", "rules": {"signal": "math"}, "models": [{"model": "large"}, {"model": "small"}]},
            {"name": "code", "rules": {"signal": "code"}, "models": [{"model": "coder"}]},
            {"name": "general", "models": [{"model": "small"}, {"model": "large"}]},
        ],
        "sessions": {"enabled": True},
        "reload": {"enabled": False},
        **extra,
    }


class Conversation:
    """A chat app's history: every turn sends the whole conversation so far."""

    def __init__(self, client: OpenAI, **headers: str) -> None:
        self.client = client
        self.messages: list[dict[str, Any]] = [{"role": "system", "content": "You are helpful."}]
        self.headers = headers

    def say(self, text: str) -> tuple[str, dict[str, str]]:
        self.messages.append({"role": "user", "content": text})
        raw = self.client.chat.completions.with_raw_response.create(
            model="auto",
            messages=self.messages,  # type: ignore[arg-type]
            extra_headers=self.headers,
        )
        answer = raw.parse()
        self.messages.append({"role": "assistant", "content": answer.choices[0].message.content or ""})
        return answer.model, dict(raw.headers)


@pytest.fixture
def models(start_worker: Callable[..., Server]) -> tuple[Server, Server, Server]:
    return start_worker("small"), start_worker("large"), start_worker("coder")


def test_a_conversation_keeps_its_model_until_the_decision_demands_another(
    models: tuple[Server, Server, Server], start_router: Callable[..., Server]
) -> None:
    r = start_router(config(*models))
    client = OpenAI(base_url=r.url + "/v1", api_key="unused", max_retries=0)
    chat = Conversation(client)
    model, h = chat.say("What is the integral of x^2 from 0 to 3?")
    assert model == "large" and h["x-vsr-selected-decision"] == "math" and h["x-vsr-session-pinned"] == "false"
    # on its own this turn goes to the general decision's first pick, small ...
    alone = http_json(
        "POST",
        r.url + "/v1/chat/completions",
        {"model": "auto", "messages": [{"role": "user", "content": "Thanks! Can you say that again in plain words?"}]},
    )
    assert alone[1]["x-vsr-selected-model"] == "small"
    # ... but in the conversation it stays on large, a candidate of general too
    model, h = chat.say("Thanks! Can you say that again in plain words?")
    assert model == "large" and h["x-vsr-selected-decision"] == "general" and h["x-vsr-session-pinned"] == "true"
    model, h = chat.say("And one more time, shorter.")
    assert model == "large" and h["x-vsr-session-pinned"] == "true"
    # the code decision has no candidate in common with the pin: it switches, and the new model is pinned
    model, h = chat.say("Now write it as a python function.")
    assert model == "coder" and h["x-vsr-session-switched-from"] == "large" and h["x-vsr-session-pinned"] == "false"
    model, h = chat.say("Thanks, that is all.")
    assert model == "small"  # coder is no candidate of general: the decision demands small again
    assert h["x-vsr-session-switched-from"] == "coder"
    # the turn alone above opened a conversation of its own: two new ones
    want = [
        f'semrouter_session_turns_total{{result="{k}"}} {n}.0' for k, n in (("new", 2), ("held", 2), ("switched", 2))
    ]
    deadline = time.monotonic() + 5  # a request is counted once its answer is out
    while True:
        with urllib.request.urlopen(r.url + "/metrics", timeout=5) as resp:
            metrics = resp.read().decode()
        if all(w in metrics for w in want) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [w for w in want if w not in metrics] == []


def test_the_session_header_names_the_conversation(
    models: tuple[Server, Server, Server], start_router: Callable[..., Server]
) -> None:
    r = start_router(config(*models))
    client = OpenAI(base_url=r.url + "/v1", api_key="unused", max_retries=0)
    one = Conversation(client, **{"x-session-id": "s-1"})
    assert one.say("Compute the derivative of sin x.")[0] == "large"
    # a fresh history with the same session id is the same conversation: it stays on large
    again = Conversation(client, **{"x-session-id": "s-1"})
    assert again.say("hello there")[0] == "large"
    other = Conversation(client, **{"x-session-id": "s-2"})
    assert other.say("hello there")[0] == "small"


def test_a_safety_block_wins_over_the_pin(
    models: tuple[Server, Server, Server], start_router: Callable[..., Server]
) -> None:
    large = models[1]
    r = start_router(config(*models, guards={"pii": {"enabled": True, "action": "block"}}))
    client = OpenAI(base_url=r.url + "/v1", api_key="unused", max_retries=0)
    chat = Conversation(client)
    assert chat.say("What is the integral of x^3?")[0] == "large"
    sent = len(large.requests())
    with pytest.raises(openai.BadRequestError) as blocked:
        chat.say("Please email maria.gonzalez@corpmail.io about card 4990 6958 4830 4011, thanks.")
    assert blocked.value.code == "pii_detected"
    assert len(large.requests()) == sent  # never forwarded to the pinned model
    chat.messages.pop()  # the app drops the refused turn; the conversation goes on, still pinned
    assert chat.say("OK, then just explain the answer again.")[0] == "large"
