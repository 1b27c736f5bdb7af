"""Parse and validate an OpenAI request, and resolve which model name it asks for.

Validation is deliberately shallow but precise: we check what routing relies on and what would make
a worker fail obscurely, and leave every other field to the worker (vLLM has many extensions).
"""

from __future__ import annotations

from typing import Any

import orjson

from semrouter import cpu
from semrouter.context import ApiKind, LocalResponse, RequestContext
from semrouter.errors import RouterError, invalid_request, model_not_found
from semrouter.pipeline import Stage

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
_INT_FIELDS = ("max_tokens", "max_completion_tokens", "n", "seed", "top_logprobs")
_NUM_FIELDS = ("temperature", "top_p", "presence_penalty", "frequency_penalty")
_REQUIRED = {ApiKind.CHAT: "messages", ApiKind.COMPLETIONS: "prompt", ApiKind.EMBEDDINGS: "input"}
REASONING_FIELDS = ("reasoning_effort", "chat_template_kwargs")


def _type_error(param: str, expected: str, value: Any) -> RouterError:
    got = type(value).__name__ if value is not None else "null"
    return invalid_request(f"'{param}' must be {expected}, got {got}", param=param, code="invalid_type")


def _check_messages(messages: Any) -> None:
    if not isinstance(messages, list):
        raise _type_error("messages", "an array of message objects", messages)
    if not messages:
        raise invalid_request("'messages' must contain at least one message", param="messages", code="invalid_value")
    for i, msg in enumerate(messages):
        param = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise _type_error(param, "an object", msg)
        role = msg.get("role")
        if not isinstance(role, str):
            raise _type_error(f"{param}.role", "a string", role)
        if role not in ROLES:
            raise invalid_request(
                f"'{param}.role' must be one of {sorted(ROLES)}, got '{role}'",
                param=f"{param}.role",
                code="invalid_value",
            )
        content = msg.get("content")
        if content is not None and not isinstance(content, str | list):
            raise _type_error(f"{param}.content", "a string or an array of content parts", content)
        if content is None and role == "user":
            raise invalid_request(
                f"'{param}.content' is required for user messages",
                param=f"{param}.content",
                code="missing_required_parameter",
            )


def validate_body(api: ApiKind, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object", code="invalid_body")
    model = body.get("model")
    if model is None:
        raise invalid_request("Missing required parameter: 'model'", param="model", code="missing_required_parameter")
    if not isinstance(model, str) or not model:
        raise _type_error("model", "a non-empty string", model)
    required = _REQUIRED[api]
    if required not in body:
        raise invalid_request(
            f"Missing required parameter: '{required}'", param=required, code="missing_required_parameter"
        )
    if api is ApiKind.CHAT:
        _check_messages(body["messages"])
        tools = body.get("tools")
        if tools is not None and not (isinstance(tools, list) and all(isinstance(t, dict) for t in tools)):
            raise _type_error("tools", "an array of tool objects", tools)
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        raise _type_error("stream", "a boolean", stream)
    for name in _INT_FIELDS:
        v = body.get(name)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool)):
            raise _type_error(name, "an integer", v)
    for name in _NUM_FIELDS:
        v = body.get(name)
        if v is not None and (not isinstance(v, int | float) or isinstance(v, bool)):
            raise _type_error(name, "a number", v)
    return body


def _too_deep(value: Any, limit: int) -> bool:
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if depth > limit:
            return True
        children = v.values() if isinstance(v, dict) else v
        stack.extend((c, depth + 1) for c in children if isinstance(c, dict | list))
    return False


def _deep_path(value: Any, limit: int) -> str:
    """Where the nesting first passes ``limit``, named by its first three steps ("metadata.a.b")."""
    path: list[str] = []
    v = value
    for _ in range(limit + 1):
        nxt = next(
            ((k, c) for k, c in (v.items() if isinstance(v, dict) else enumerate(v)) if _too_deep_from(c, limit)),
            None,
        )
        if nxt is None:
            break
        key, v = nxt
        path.append(f"[{key}]" if isinstance(key, int) else ("." if path else "") + str(key))
        limit -= 1
        if len(path) == 3:
            break
    return "".join(path)


def _too_deep_from(value: Any, limit: int) -> bool:
    return isinstance(value, dict | list) and _too_deep(value, limit - 1)


def decode_body(raw: bytes, max_depth: int) -> Any:
    """``orjson.loads`` plus a nesting limit.

    orjson reads up to 1,024 levels but writes only 255, so a body nested 256 deep used to parse, then fail
    with a 500 wherever the router re-encoded it (a forwarded body, the dry-run answer). The limit is
    checked here, where the error can be a 400 naming the parameter. Bodies with fewer brackets than the
    limit (nearly all) skip the walk.
    """
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise invalid_request(f"The request body is not valid JSON: {exc}", code="invalid_json") from None
    if raw.count(b"{") + raw.count(b"[") > max_depth and isinstance(body, dict | list) and _too_deep(body, max_depth):
        param = _deep_path(body, max_depth) or None
        raise invalid_request(
            f"JSON nested deeper than {max_depth} levels" + (f" in '{param}'" if param else ""),
            param=param,
            code="nesting_too_deep",
        )
    return body


class ParseStage(Stage):
    """Decode the body, validate it, and decide between routing and explicit-model passthrough."""

    name = "parse"

    async def on_request(self, ctx: RequestContext) -> LocalResponse | None:
        if ctx.dialect is not None:  # /v1/responses, /v1/messages: their body as a chat body, then as chat
            raw = await cpu.run(len(ctx.raw_body), ctx.dialect.to_chat, ctx)
            ctx.body_modified = True  # the worker gets the translation, never the client's bytes
        else:
            raw = await cpu.run(len(ctx.raw_body), decode_body, ctx.raw_body, ctx.config.server.max_json_depth)
        ctx.body = validate_body(ctx.api, raw)
        ctx.stream = bool(ctx.body.get("stream", False))
        requested: str = ctx.body["model"]
        ctx.requested_model = requested
        cfg = ctx.config
        if requested in cfg.routing.virtual_models:
            if ctx.api is not ApiKind.CHAT:  # decisions pick chat models; an embedding needs its own model
                raise invalid_request(
                    f"'{requested}' routes chat completions only; name a model for /v1/{ctx.api.value}",
                    param="model",
                    code="model_not_routable",
                )
            ctx.routed = True
            ctx.client_reasoning = any(f in ctx.body for f in REASONING_FIELDS)
            return None
        if cfg.model(requested) is None:
            valid = list(cfg.routing.virtual_models)
            if cfg.routing.explicit_models == "allow":
                valid += [m.name for m in cfg.models]
            raise model_not_found(requested, valid)
        if cfg.routing.explicit_models == "deny":
            raise RouterError(
                403,
                "Explicit model names are not allowed here; use one of: " + ", ".join(cfg.routing.virtual_models),
                type="permission_error",
                param="model",
                code="explicit_model_not_allowed",
            )
        ctx.model = requested
        return None
