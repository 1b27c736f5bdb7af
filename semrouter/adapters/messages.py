"""``POST /v1/messages`` (Anthropic's Messages API) on chat-completions workers.

The request becomes a chat body (``system`` → a system message, content blocks → message parts,
``tool_use``/``tool_result`` → tool calls and tool messages, ``thinking`` → the reasoning wish, which the
router writes as the chosen model family's switch) and the answer a Message, or Anthropic's event stream
(``message_start``, ``content_block_start``/``_delta``/``_stop``, ``message_delta``, ``message_stop``).
Errors, the router's and the worker's, come back as ``{"type": "error", "error": {...}}`` so Anthropic's
SDKs raise their own exception classes. Every field not listed in ``_KNOWN`` is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

import orjson

from semrouter.adapters.translate import (
    Answer,
    Block,
    Dialect,
    check_fields,
    copy_number,
    load_object,
    new_id,
    sse,
    stream_flag,
    type_error,
    unsupported,
    usage_numbers,
)
from semrouter.context import RequestContext
from semrouter.errors import RouterError, invalid_request

_KNOWN = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "stop_sequences",
        "temperature",
        "top_p",
        "top_k",
        "stream",
        "metadata",
    }
)
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}
_OPENAI_TYPES = {
    "invalid_request_error": "invalid_request_error",
    "authentication_error": "authentication_error",
    "permission_error": "permission_error",
    "not_found_error": "not_found_error",
    "rate_limit_error": "rate_limit_error",
    "BadRequestError": "invalid_request_error",  # vLLM's error type names
    "NotFoundError": "not_found_error",
}
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use", "content_filter": "refusal"}


def thinking_wish(value: Any) -> tuple[bool, str | None] | None:
    """``thinking`` as (on, effort): a budget of up to 4k tokens reads as low effort, up to 16k as medium."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise type_error("thinking", "an object", value)
    kind = value.get("type")
    if kind == "disabled":
        return False, None
    if kind == "adaptive":
        return True, None
    if kind != "enabled":
        raise invalid_request(
            "'thinking.type' must be 'enabled', 'disabled' or 'adaptive'", param="thinking.type", code="invalid_value"
        )
    budget = value.get("budget_tokens")
    if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
        raise invalid_request(
            "'thinking.budget_tokens' must be a positive integer", param="thinking.budget_tokens", code="invalid_value"
        )
    return True, "low" if budget <= 4096 else "medium" if budget <= 16384 else "high"


def _image(block: dict[str, Any], param: str) -> dict[str, Any]:
    src = block.get("source")
    if isinstance(src, dict) and src.get("type") == "base64":
        url = f"data:{src.get('media_type')};base64,{src.get('data')}"
    elif isinstance(src, dict) and src.get("type") == "url" and isinstance(src.get("url"), str):
        url = src["url"]
    else:
        raise unsupported(f"{param}.source", "images go as a base64 or url source")
    return {"type": "image_url", "image_url": {"url": url}}


def _tool_result(block: dict[str, Any], param: str) -> dict[str, Any]:
    call_id = block.get("tool_use_id")
    if not isinstance(call_id, str):
        raise type_error(f"{param}.tool_use_id", "a string", call_id)
    content = block.get("content", "")
    if isinstance(content, list):
        texts = []
        for k, part in enumerate(content):
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise unsupported(f"{param}.content[{k}]", "tool results carry text blocks only here")
            texts.append(part["text"])
        content = "\n".join(texts)
    if not isinstance(content, str):
        raise type_error(f"{param}.content", "a string or text blocks", content)
    if block.get("is_error"):
        content = "[tool error] " + content  # chat tool messages have no error flag: the worker reads it here
    return {"role": "tool", "tool_call_id": call_id, "content": content}


def chat_messages(messages: Any) -> list[dict[str, Any]]:
    """Anthropic messages as chat messages: a user turn's tool results become tool messages before it."""
    if not isinstance(messages, list):
        raise type_error("messages", "an array of message objects", messages)
    if not messages:
        raise invalid_request("'messages' must contain at least one message", param="messages", code="invalid_value")
    out: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        p = f"messages[{i}]"
        if not isinstance(msg, dict):
            raise type_error(p, "a message object", msg)
        role = msg.get("role")
        if role not in ("user", "assistant"):
            raise invalid_request(f"'{p}.role' must be 'user' or 'assistant'", param=f"{p}.role", code="invalid_value")
        content = msg.get("content")
        if isinstance(content, str):
            out.append({"role": role, "content": content})
            continue
        if not isinstance(content, list):
            raise type_error(f"{p}.content", "a string or an array of content blocks", content)
        parts: list[dict[str, Any]] = []
        calls: list[dict[str, Any]] = []
        for j, block in enumerate(content):
            bp = f"{p}.content[{j}]"
            if not isinstance(block, dict):
                raise type_error(bp, "a content block object", block)
            kind = block.get("type")
            if kind == "text":
                if not isinstance(block.get("text"), str):
                    raise type_error(f"{bp}.text", "a string", block.get("text"))
                parts.append({"type": "text", "text": block["text"]})
            elif kind == "image" and role == "user":
                parts.append(_image(block, bp))
            elif kind == "tool_result" and role == "user":
                out.append(_tool_result(block, bp))
            elif kind == "tool_use" and role == "assistant":
                args = orjson.dumps(block.get("input") or {}).decode()
                call = {
                    "id": block.get("id"),
                    "type": "function",
                    "function": {"name": block.get("name"), "arguments": args},
                }
                calls.append(call)
            elif kind in ("thinking", "redacted_thinking") and role == "assistant":
                continue  # earlier thinking handed back: chat completions have no place for it (docs/apis.md)
            else:
                raise unsupported(f"{bp}.type", f"content block '{kind}' is not supported in a {role} message")
        if not parts and not calls:
            continue  # a user turn of tool results only
        text_only = all(x["type"] == "text" for x in parts)
        chat_content: Any = "".join(x["text"] for x in parts) if text_only else parts
        turn: dict[str, Any] = {"role": role, "content": chat_content if parts else None}
        if calls:
            turn["tool_calls"] = calls
        out.append(turn)
    return out


def system_text(system: Any) -> str:
    if isinstance(system, str):
        return system
    if not isinstance(system, list):
        raise type_error("system", "a string or an array of text blocks", system)
    texts = []
    for i, block in enumerate(system):
        if not (isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)):
            raise type_error(f"system[{i}]", "a text block", block)
        texts.append(block["text"])
    return "\n\n".join(texts)


def chat_tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise type_error("tools", "an array of tool objects", tools)
    out = []
    for i, t in enumerate(tools):
        if not isinstance(t, dict):
            raise type_error(f"tools[{i}]", "a tool object", t)
        if t.get("type") not in (None, "custom"):
            raise unsupported(f"tools[{i}].type", f"server tool '{t.get('type')}' is not supported; custom tools are")
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise type_error(f"tools[{i}].name", "a non-empty string", name)
        fn: dict[str, Any] = {"name": name, "parameters": t.get("input_schema") or {"type": "object"}}
        if isinstance(t.get("description"), str):
            fn["description"] = t["description"]
        out.append({"type": "function", "function": fn})
    return out


def chat_tool_choice(choice: Any, chat: dict[str, Any]) -> None:
    if not isinstance(choice, dict):
        raise type_error("tool_choice", "an object", choice)
    kind = choice.get("type")
    if kind == "auto":
        chat["tool_choice"] = "auto"
    elif kind == "any":
        chat["tool_choice"] = "required"
    elif kind == "none":
        chat["tool_choice"] = "none"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        chat["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise invalid_request("'tool_choice.type' must be auto, any, tool or none", param="tool_choice.type")
    if choice.get("disable_parallel_tool_use"):
        chat["parallel_tool_calls"] = False


class MessagesDialect(Dialect):
    """One ``/v1/messages`` request."""

    def __init__(self) -> None:
        super().__init__()
        self.id = new_id("msg_")
        self.stops: list[str] = []
        self._heads: dict[int, bytes] = {}  # each block's delta event up to the delta itself

    def to_chat(self, ctx: RequestContext) -> dict[str, Any]:
        body = load_object(ctx)
        check_fields(body, _KNOWN, "/v1/messages")
        max_tokens = body.get("max_tokens")
        if max_tokens is None:
            raise invalid_request(
                "Missing required parameter: 'max_tokens'", param="max_tokens", code="missing_required_parameter"
            )
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise invalid_request("'max_tokens' must be a positive integer", param="max_tokens", code="invalid_value")
        if "messages" not in body:
            raise invalid_request(
                "Missing required parameter: 'messages'", param="messages", code="missing_required_parameter"
            )
        messages = chat_messages(body["messages"])
        if body.get("system") is not None and (system := system_text(body["system"])):
            messages.insert(0, {"role": "system", "content": system})
        chat: dict[str, Any] = {"model": body.get("model"), "messages": messages, "max_tokens": max_tokens}
        self.stream = stream_flag(body)
        if self.stream:
            chat["stream"] = True
            chat["stream_options"] = {"include_usage": True}  # message_delta carries usage
        copy_number(body, chat, "temperature")
        copy_number(body, chat, "top_p")
        if (top_k := body.get("top_k")) is not None:
            if not isinstance(top_k, int) or isinstance(top_k, bool):
                raise type_error("top_k", "an integer", top_k)
            chat["top_k"] = top_k  # a vLLM/SGLang sampling extension
        stops = body.get("stop_sequences")
        if stops is not None:
            if not (isinstance(stops, list) and all(isinstance(s, str) for s in stops)):
                raise type_error("stop_sequences", "an array of strings", stops)
            self.stops = stops
            chat["stop"] = stops
        if body.get("tools") is not None:
            chat["tools"] = chat_tools(body["tools"])
        if body.get("tool_choice") is not None:
            chat_tool_choice(body["tool_choice"], chat)
        meta = body.get("metadata")
        if meta is not None:
            if not isinstance(meta, dict) or set(meta) - {"user_id"}:
                raise unsupported("metadata", "only metadata.user_id is supported")
            if isinstance(meta.get("user_id"), str):
                chat["user"] = meta["user_id"]
        wish = thinking_wish(body.get("thinking"))
        if wish is not None:
            self.reasoning = wish
            chat["reasoning_effort"] = (wish[1] or "medium") if wish[0] else "none"
        return chat

    # -- errors --------------------------------------------------------------------------------

    @staticmethod
    def error_body(err: RouterError) -> bytes:
        kind = _ERROR_TYPES.get(err.status, "api_error" if err.status >= 500 else "invalid_request_error")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": err.message}})

    def error_from_chat(self, error: dict[str, Any]) -> bytes:
        kind = _OPENAI_TYPES.get(str(error.get("type")), "api_error")
        message = str(error.get("message") or "The upstream worker failed")
        return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})

    # -- the answer ----------------------------------------------------------------------------

    def _stop(self, ans: Answer) -> tuple[str, str | None]:
        if ans.finish == "stop" and isinstance(ans.stop_match, str) and ans.stop_match in self.stops:
            return "stop_sequence", ans.stop_match
        if any(b.kind == "tool" for b in ans.blocks) and ans.finish in (None, "stop", "tool_calls"):
            return "tool_use", None
        return _STOP_REASONS.get(ans.finish or "stop", "end_turn"), None

    @staticmethod
    def _block(block: Block, done: bool) -> dict[str, Any]:
        if block.kind == "text":
            return {"type": "text", "text": block.text if done else ""}
        if block.kind == "reasoning":
            return {"type": "thinking", "thinking": block.text if done else "", "signature": ""}
        tool_input: Any = {}
        if done and block.text:
            try:
                tool_input = orjson.loads(block.text)
            except orjson.JSONDecodeError:
                tool_input = None
            if not isinstance(tool_input, dict):  # the worker's arguments were not a JSON object: keep them
                tool_input = {"_raw_arguments": block.text}
        return {"type": "tool_use", "id": block.call_id, "name": block.name, "input": tool_input}

    @staticmethod
    def _usage(ans: Answer) -> dict[str, int]:
        p, c, cached, _ = usage_numbers(ans.usage)
        return {
            "input_tokens": p - cached,
            "output_tokens": c,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": cached,
        }

    def render(self, ctx: RequestContext, ans: Answer) -> bytes:
        stop, seq = self._stop(ans)
        return orjson.dumps(
            {
                "id": self.id,
                "type": "message",
                "role": "assistant",
                "model": ctx.model or ctx.requested_model,
                "content": [self._block(b, True) for b in ans.blocks],
                "stop_reason": stop,
                "stop_sequence": seq,
                "usage": self._usage(ans),
            }
        )

    def stream_start(self, ctx: RequestContext) -> bytes:
        message: dict[str, Any] = {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": ctx.model or ctx.requested_model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0},
        }
        return sse("message_start", {"type": "message_start", "message": message})

    def block_start(self, index: int, block: Block) -> bytes:
        payload = {"type": "content_block_start", "index": index, "content_block": self._block(block, False)}
        return sse("content_block_start", payload)

    def block_delta(self, index: int, block: Block, piece: str) -> bytes:
        # The hot path of a stream (one event per token): the event's fixed part is built once per block.
        head = self._heads.get(index)
        if head is None:
            kind, key = {
                "text": ("text_delta", "text"),
                "reasoning": ("thinking_delta", "thinking"),
                "tool": ("input_json_delta", "partial_json"),
            }[block.kind]
            head = self._heads[index] = (
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":'
                + str(index).encode()
                + b',"delta":{"type":"'
                + kind.encode()
                + b'","'
                + key.encode()
                + b'":'
            )
        return head + orjson.dumps(piece) + b"}}\n\n"

    def block_stop(self, index: int, block: Block) -> bytes:
        out = b""
        if block.kind == "reasoning":  # no signature: the worker's thinking is not Anthropic's to sign
            delta = {"type": "signature_delta", "signature": ""}
            out = sse("content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta})
        return out + sse("content_block_stop", {"type": "content_block_stop", "index": index})

    def stream_end(self, ctx: RequestContext, ans: Answer) -> bytes:
        stop, seq = self._stop(ans)
        delta = {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": seq},
            "usage": self._usage(ans),
        }
        return sse("message_delta", delta) + sse("message_stop", {"type": "message_stop"})

    def stream_error(self, error: dict[str, Any]) -> bytes:
        return b"event: error\ndata: " + self.error_from_chat(error) + b"\n\n"
