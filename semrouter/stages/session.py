"""Session-stable routing: within one conversation the model does not flip between turns.

Signals read only the last user message, so a conversation that starts with a proof and goes on with
"thanks, and can you format that as a table?" would be routed to another model mid-conversation, which
loses the first model's KV cache and changes the voice of the answers. This stage, right after selection,
remembers each conversation's model (:class:`~semrouter.tenancy.sessions.SessionStore`, bounded by LRU and
TTL) and keeps it.

The precise rule, per turn of a routed request (explicit model names are never changed):

* the conversation's id is the first found of ``sessions.key_from``: the session header
  (``pool.session_header``, ``x-session-id``), the request's ``user`` field, or ``history``: a hash of the
  system prompt and the first user message (a conversation's opening, the same in every later turn of
  it). It is scoped by tenant and by the virtual model asked for, so two tenants' ids never meet;
* **no pin** yet (first turn, or expired): the selected model is pinned (``new``);
* the selected model **is** the pinned one: ``kept``;
* the pinned model is **a candidate of this turn's decision** (and the tenant may use it): it is kept
  over the selector's choice (``held``); the turn's decision still applies (its system prompt, reasoning);
* otherwise the decision demands another model (an escalation to a decision with no candidate in common,
  or a model removed by a reload): the new model is used and pinned (``switched``).

Safety wins: the guard policy runs after this stage, so a block (PII, jailbreak, harmful) or a route to
the safety model happens whatever the pin says, and does not move the pin.

Headers: ``x-vsr-session-pinned`` (``true`` when the model came from or matched the pin), and
``x-vsr-session-switched-from`` on a switch. Metrics: ``semrouter_session_turns{result}``.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from semrouter import cpu
from semrouter.config.schema import RouterConfig
from semrouter.context import LocalResponse, RequestContext
from semrouter.pipeline import Stage
from semrouter.tenancy import allowed_models, narrow

PINNED_HEADER = "x-vsr-session-pinned"
SWITCHED_HEADER = "x-vsr-session-switched-from"


def opening(messages: list[Any]) -> bytes:
    """The system prompt(s) and first user message: what every turn of one conversation starts with."""
    head: list[Any] = []
    for m in messages:
        head.append(m)
        if isinstance(m, dict) and m.get("role") == "user":
            break
    return orjson.dumps(head)


def _opening_size(messages: list[Any]) -> int:
    """A cheap bound on the opening's size, to decide whether hashing it may run on the event loop."""
    size = 0
    for m in messages:
        content = m.get("content") if isinstance(m, dict) else None
        size += len(content) if isinstance(content, str) else 1024
        if isinstance(m, dict) and m.get("role") == "user":
            break
    return size


def _digest(scope: bytes, value: bytes) -> str:
    return hashlib.sha256(scope + value).hexdigest()


def _opening_digest(scope: bytes, messages: list[Any]) -> str:
    return _digest(scope, opening(messages))


class SessionStage(Stage):
    name = "session"
    routing_only = True

    def __init__(self, config: RouterConfig) -> None:
        self.cfg = config.sessions
        self.header = config.pool.session_header.lower()

    async def session_key(self, ctx: RequestContext) -> str | None:
        """The first source in ``key_from`` that gives a value, hashed with the tenant and requested model.
        Reading and hashing a source that grows with the request (the conversation's opening, a long
        ``user`` string) is one call on :func:`cpu.run`, so a large one leaves the event loop."""
        for source in self.cfg.key_from:
            scope = f"{ctx.tenant or ''}\0{ctx.requested_model}\0{source}\0".encode()
            if source == "header":
                v = ctx.headers.get(self.header)
                if v:
                    return _digest(scope, v.encode())
            elif source == "user":
                user = ctx.body.get("user")
                if isinstance(user, str) and user:
                    return await cpu.run(len(user), _digest, scope, user.encode())
            else:
                messages = ctx.body.get("messages")
                if isinstance(messages, list) and messages:
                    return await cpu.run(_opening_size(messages), _opening_digest, scope, messages)
        return None

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        access, decision = ctx.tenancy, ctx.decision
        if access is None or decision is None or ctx.model is None:  # a dry run has no tenancy: no pins
            return None
        key = await self.session_key(ctx)
        if key is None:
            return None
        narrow(ctx)  # the tenant's allowed models first: a pin is always one it may use
        store = access.state.sessions
        pin = store.get(key)
        allowed = allowed_models(ctx)
        if pin is None:
            result = "new"
        elif pin.model == ctx.model:
            result = "kept"
        elif (
            any(m.model == pin.model for m in decision.models)
            and (allowed is None or pin.model in allowed)
            and ctx.config.model(pin.model) is not None
        ):
            ctx.model = pin.model
            result = "held"
        else:
            result = "switched"
            ctx.response_headers[SWITCHED_HEADER] = pin.model
        store.put(key, ctx.model, decision.name, self.cfg.ttl_s, self.cfg.max_sessions)
        ctx.response_headers[PINNED_HEADER] = "true" if result in ("kept", "held") else "false"
        ctx.obs["session"] = result
        return None
