"""``POST /v1/responses`` (the OpenAI Responses API) on chat-completions workers.

The request becomes a chat body (``instructions`` → a system message, ``input`` items → messages, function
tools → chat tools, ``reasoning.effort`` → the reasoning wish, ``max_output_tokens`` → ``max_tokens``) and
the answer a Response object, or the Responses event stream (``response.created`` …
``response.completed``). ``previous_response_id`` is served from :class:`ConversationStore`: the router
keeps each answered turn (input and output, not ``instructions``, which the API does not carry over) so
the next turn can name it. Every field not listed in ``_KNOWN`` is a 400 naming it (docs/apis.md).

A model whose workers speak Responses themselves (``api: responses``) gets the request as ``/v1/responses``
instead: the pipeline still runs on the chat body, which :func:`responses_request` puts back into
Responses form (so the routed model, system prompt, reasoning switch, masking and trimmed tools all reach
the worker), and :class:`NativeRelay` passes the worker's answer on untranslated, setting only the router's
id, the routed model and the echoes the router changed.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
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
    positive_int,
    sse,
    stream_flag,
    tenant_of,
    type_error,
    unsupported,
    usage_numbers,
)
from semrouter.context import LocalResponse, RequestContext
from semrouter.errors import RouterError, invalid_request
from semrouter.stages.enrich import client_reasoning

_KNOWN = frozenset(
    {
        "model",
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "reasoning",
        "max_output_tokens",
        "temperature",
        "top_p",
        "stream",
        "stream_options",
        "store",
        "previous_response_id",
        "metadata",
        "user",
        "text",
        "truncation",
        "include",
        "background",
    }
)
_ROLES = frozenset({"user", "assistant", "system", "developer"})
# Agents that keep no server state (store: false) ask for this; reasoning items handed back are not
# forwarded anyway (chat has no place for them), so there is nothing to encrypt and the request stands.
_INCLUDABLE = frozenset({"reasoning.encrypted_content"})
_EFFORTS = frozenset({"none", "minimal", "low", "medium", "high", "xhigh"})
RESPONSES_PATH = "/v1/responses"
"""Where a request goes on a worker that speaks the Responses API natively (a model with ``api: responses``)."""
# Fields of the client's request that chat cannot carry but a native worker understands, passed on as
# sent: each is either a pure hint (metadata, reasoning.summary) or limited by to_chat to a value that
# changes nothing on the worker either (include, truncation, background, stream_options).
_KEPT = ("metadata", "include", "truncation", "background", "stream_options")


class ConversationStore:
    """The conversations behind ``previous_response_id``: bounded in bytes, per tenant, with expiry.

    An entry is the turn's chat messages (the client's input with the history it continued, and the
    answer) and the Response object the client got (what ``GET /v1/responses/{id}`` returns), both kept
    encoded (compact, and immutable once stored). Least recently used entries go first
    once the store passes ``max_bytes``, or a tenant passes its share (``tenant_bytes``), so one busy
    tenant cannot evict everyone else's conversations; entries older than ``ttl_s`` are gone. A lookup
    with another tenant's id finds nothing. The store lives in this process: with several server workers
    a follow-up turn may reach another process, which answers 404 (docs/apis.md).
    """

    def __init__(self, max_bytes: int = 64 << 20, tenant_bytes: int = 16 << 20, ttl_s: float = 3600.0) -> None:
        self.max_bytes = max_bytes
        self.tenant_bytes = tenant_bytes
        self.ttl_s = ttl_s
        self._entries: OrderedDict[tuple[str, str], tuple[float, bytes, bytes]] = OrderedDict()
        self._tenant_size: dict[str, int] = {}
        self._size = 0
        self._lock = threading.Lock()  # lookups may run on the heavy lane (large bodies translate there)

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, tenant: str, rid: str, messages: bytes, response: bytes = b"", now: float | None = None) -> bool:
        """Keep a turn; False when it alone is larger than a tenant's share (then it is not kept)."""
        size = len(messages) + len(response)
        if size > self.tenant_bytes:
            return False
        stamp = time.monotonic() if now is None else now
        with self._lock:
            self._drop((tenant, rid))
            self._entries[(tenant, rid)] = (stamp, messages, response)
            self._size += size
            self._tenant_size[tenant] = self._tenant_size.get(tenant, 0) + size
            if self._tenant_size[tenant] > self.tenant_bytes:
                for key in [k for k in self._entries if k[0] == tenant]:
                    if self._tenant_size[tenant] <= self.tenant_bytes:
                        break
                    self._drop(key)
            while self._size > self.max_bytes and self._entries:
                self._drop(next(iter(self._entries)))
            self._expire(stamp)
        return True

    def get(self, tenant: str, rid: str, now: float | None = None) -> list[dict[str, Any]] | None:
        """The turn's conversation (to continue it), or None: unknown, expired or another tenant's."""
        entry = self._entry(tenant, rid, now)
        if entry is None:
            return None
        loaded: list[dict[str, Any]] = orjson.loads(entry[1])
        return loaded

    def response(self, tenant: str, rid: str, now: float | None = None) -> bytes | None:
        """The Response object as the client got it (encoded), or None, as for :meth:`get`."""
        entry = self._entry(tenant, rid, now)
        return entry[2] if entry is not None and entry[2] else None

    def delete(self, tenant: str, rid: str) -> bool:
        """Forget a turn (``DELETE /v1/responses/{id}``); False when there was none for this tenant."""
        with self._lock:
            found = (tenant, rid) in self._entries
            self._drop((tenant, rid))
        return found

    def _entry(self, tenant: str, rid: str, now: float | None) -> tuple[float, bytes, bytes] | None:
        stamp = time.monotonic() if now is None else now
        with self._lock:
            entry = self._entries.get((tenant, rid))
            if entry is None:
                return None
            if stamp - entry[0] > self.ttl_s:
                self._drop((tenant, rid))
                return None
            self._entries.move_to_end((tenant, rid))
        return entry

    def _drop(self, key: tuple[str, str]) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            size = len(entry[1]) + len(entry[2])
            self._size -= size
            left = self._tenant_size[key[0]] - size
            if left:
                self._tenant_size[key[0]] = left
            else:
                del self._tenant_size[key[0]]

    def _expire(self, now: float) -> None:
        """Drop expired entries from the old end (entries are in use order, so stop at the first fresh one)."""
        while self._entries:
            key, (stamp, _, _) = next(iter(self._entries.items()))
            if now - stamp <= self.ttl_s:
                return
            self._drop(key)


CONVERSATIONS = ConversationStore()
"""This process's stored conversations (one per process, like the router's other in-memory state)."""


def _text_parts(parts: list[Any], param: str) -> str | list[dict[str, Any]]:
    """Responses content parts as chat parts; text only becomes one string (what every worker takes)."""
    out: list[dict[str, Any]] = []
    for j, part in enumerate(parts):
        p = f"{param}[{j}]"
        if not isinstance(part, dict):
            raise type_error(p, "a content part object", part)
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text", "refusal"):
            text = part.get("refusal" if kind == "refusal" else "text")
            if not isinstance(text, str):
                raise type_error(f"{p}.text", "a string", text)
            out.append({"type": "text", "text": text})
        elif kind == "input_image":
            url = part.get("image_url")
            if not isinstance(url, str):
                raise unsupported(
                    f"{p}.file_id", "images go as 'image_url' (a URL or data URL); files are not stored here"
                )
            out.append({"type": "image_url", "image_url": {"url": url, "detail": part.get("detail") or "auto"}})
        else:
            raise unsupported(f"{p}.type", f"content part '{kind}' is not supported (input_text, input_image are)")
    if all(p["type"] == "text" for p in out):
        return "".join(p["text"] for p in out)
    return out


def input_messages(value: Any) -> list[dict[str, Any]]:
    """``input`` (a string, or a list of items) as chat messages."""
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise type_error("input", "a string or an array of input items", value)
    out: list[dict[str, Any]] = []
    for i, item in enumerate(value):
        p = f"input[{i}]"
        if not isinstance(item, dict):
            raise type_error(p, "an input item object", item)
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            role = item.get("role")
            if role not in _ROLES:
                raise invalid_request(
                    f"'{p}.role' must be one of {sorted(_ROLES)}, got {role!r}", param=f"{p}.role", code="invalid_value"
                )
            content = item.get("content")
            if isinstance(content, list):
                content = _text_parts(content, f"{p}.content")
            elif not isinstance(content, str):
                raise type_error(f"{p}.content", "a string or an array of content parts", content)
            out.append({"role": role, "content": content})
        elif kind == "function_call":
            call_id, name, args = item.get("call_id"), item.get("name"), item.get("arguments", "")
            if not isinstance(call_id, str) or not isinstance(name, str) or not isinstance(args, str):
                raise invalid_request(
                    f"'{p}' needs string 'call_id', 'name' and 'arguments'", param=p, code="invalid_value"
                )
            call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
            last = out[-1] if out else None
            if last is not None and last["role"] == "assistant":  # text then calls: one assistant turn
                last.setdefault("tool_calls", []).append(call)
            else:
                out.append({"role": "assistant", "content": None, "tool_calls": [call]})
        elif kind == "function_call_output":
            call_id, output = item.get("call_id"), item.get("output")
            if not isinstance(call_id, str):
                raise type_error(f"{p}.call_id", "a string", call_id)
            if isinstance(output, list):
                output = _text_parts(output, f"{p}.output")
            if not isinstance(output, str):
                raise type_error(f"{p}.output", "a string or text parts", output)
            out.append({"role": "tool", "tool_call_id": call_id, "content": output})
        elif kind == "reasoning":
            continue  # earlier reasoning handed back: chat completions have no place for it (docs/apis.md)
        else:
            raise unsupported(
                f"{p}.type",
                f"input item '{kind}' is not supported (message, function_call, "
                "function_call_output and reasoning are)",
            )
    return out


def chat_tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise type_error("tools", "an array of tool objects", tools)
    out = []
    for i, t in enumerate(tools):
        if not isinstance(t, dict):
            raise type_error(f"tools[{i}]", "a tool object", t)
        if t.get("type") != "function":
            raise unsupported(f"tools[{i}].type", f"tool type '{t.get('type')}' is not supported; function tools are")
        name = t.get("name")
        if not isinstance(name, str) or not name:
            raise type_error(f"tools[{i}].name", "a non-empty string", name)
        fn: dict[str, Any] = {"name": name}
        for key in ("description", "parameters", "strict"):
            if t.get(key) is not None:
                fn[key] = t[key]
        out.append({"type": "function", "function": fn})
    return out


def chat_tool_choice(choice: Any) -> Any:
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise unsupported("tool_choice", "use 'auto', 'none', 'required' or {'type': 'function', 'name': ...}")


def response_format(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, dict):
        raise type_error("text", "an object", text)
    for key in text:
        if key != "format":
            raise unsupported(f"text.{key}", "only text.format is supported")
    fmt = text.get("format")
    if fmt is None:
        return None
    if not isinstance(fmt, dict):
        raise type_error("text.format", "an object", fmt)
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {k: fmt[k] for k in ("name", "schema", "strict", "description") if fmt.get(k) is not None}
        return {"type": "json_schema", "json_schema": schema}
    raise unsupported("text.format.type", f"format '{kind}' is not supported (text, json_object, json_schema are)")


def _parts_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict) and p.get("type") == "text")
    return ""


def _input_content(content: Any, kind: str) -> str | list[dict[str, Any]]:
    """Chat message content as Responses content: a string stays one; parts become ``kind`` text parts
    (``input_text`` for the client's turns, ``output_text`` for the model's) and ``input_image``."""
    if isinstance(content, str) or content is None:
        return content or ""
    out: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text":
            out.append({"type": kind, "text": part.get("text", "")})
        elif part.get("type") == "image_url":
            image = part.get("image_url") or {}
            out.append({"type": "input_image", "image_url": image.get("url"), "detail": image.get("detail") or "auto"})
    return out


def responses_input(messages: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    """Chat messages as Responses (``instructions``, ``input`` items): the inverse of :func:`input_messages`.

    The leading system/developer messages become ``instructions`` (joined by a blank line): that is where
    the translation put the client's ``instructions`` and where the enrich stage merged the decision's
    system prompt into it. A system message further down stays an input item with its role.
    """
    lead = 0
    while lead < len(messages) and messages[lead].get("role") in ("system", "developer"):
        lead += 1
    texts = [t for m in messages[:lead] if (t := _parts_text(m.get("content")))]
    instructions = "\n\n".join(texts) if lead else None
    items: list[dict[str, Any]] = []
    for m in messages[lead:]:
        role = m.get("role")
        if role == "tool":
            items.append(
                {
                    "type": "function_call_output",
                    "call_id": m.get("tool_call_id") or "",
                    "output": _parts_text(m.get("content")),
                }
            )
        elif role == "assistant":
            content = m.get("content")
            if content:
                parts = _input_content(content, "output_text")
                if isinstance(parts, str):
                    parts = [{"type": "output_text", "text": parts}]
                items.append({"type": "message", "role": "assistant", "content": parts})
            for tc in m.get("tool_calls") or ():
                fn = tc.get("function") or {} if isinstance(tc, dict) else {}
                items.append(
                    {
                        "type": "function_call",
                        "call_id": tc.get("id") or "",
                        "name": fn.get("name") or "",
                        "arguments": fn.get("arguments") or "",
                    }
                )
        elif role in _ROLES:
            items.append({"type": "message", "role": role, "content": _input_content(m.get("content"), "input_text")})
        # "function" (chat's legacy tool role) cannot come from a Responses request: nothing to write
    return instructions, items


def responses_tools(tools: list[Any]) -> list[dict[str, Any]]:
    """Chat function tools as Responses function tools (the inverse of :func:`chat_tools`)."""
    out = []
    for t in tools:
        fn = t.get("function") if isinstance(t, dict) else None
        if isinstance(fn, dict):
            out.append({"type": "function", **fn})
    return out


def responses_tool_choice(choice: Any) -> Any:
    if isinstance(choice, dict) and isinstance(choice.get("function"), dict):
        return {"type": "function", "name": choice["function"].get("name")}
    return choice


def responses_text(fmt: Any) -> dict[str, Any] | None:
    """Chat ``response_format`` as Responses ``text`` (the inverse of :func:`response_format`)."""
    if not isinstance(fmt, dict):
        return None
    if fmt.get("type") == "json_schema" and isinstance(fmt.get("json_schema"), dict):
        return {"format": {"type": "json_schema", **fmt["json_schema"]}}
    return {"format": {"type": fmt.get("type", "text")}}


def responses_effort(ctx: RequestContext, chat: dict[str, Any], model: str) -> str | None:
    """The reasoning switch the pipeline left in the chat body, as Responses ``reasoning.effort``.

    The body holds it the way the chat worker would get it: the neutral ``reasoning_effort`` (the
    client's wish, or an effort family's switch), or the model family's own field (qwen3's
    ``enable_thinking``...), read back with that family's rule; on without an effort is the decision's
    effort, else ``medium``. None: the body says nothing, so the worker's default stands, as on chat.
    """
    effort = chat.get("reasoning_effort")
    if isinstance(effort, str):
        return effort
    cfg = ctx.config.model(model)
    family = ctx.config.reasoning_families.get(cfg.family) if cfg is not None and cfg.family else None
    if family is None:
        return None
    node: Any = chat
    for key in family.path.split("."):
        node = node.get(key) if isinstance(node, dict) else None
    if node is None:
        return None
    on, named = client_reasoning(chat, family)
    return (named or ctx.reasoning_effort or "medium") if on else "none"


def responses_request(
    ctx: RequestContext, chat: dict[str, Any], req: dict[str, Any], model: str, served: str
) -> dict[str, Any]:
    """The pipeline's chat body back in Responses form, for a worker that speaks Responses natively.

    Everything the pipeline did is in ``chat``: the routed model (``served``: the endpoint's name for it),
    the decision's system prompt (merged into ``instructions``), masked PII, trimmed tools, the reasoning
    switch. From the client's own request (``req``) come only the fields chat cannot carry (``_KEPT``,
    ``reasoning.summary``). The worker keeps nothing (``store: false``) and gets no
    ``previous_response_id``: the router's store holds the conversation, and it is in ``input`` already.
    """
    instructions, items = responses_input(chat.get("messages") or [])
    out: dict[str, Any] = {"model": served, "input": items, "store": False}
    if instructions is not None:
        out["instructions"] = instructions
    limit = chat.get("max_completion_tokens", chat.get("max_tokens"))
    if limit is not None:
        out["max_output_tokens"] = limit
    for name in ("temperature", "top_p", "user", "parallel_tool_calls"):
        if chat.get(name) is not None:
            out[name] = chat[name]
    if chat.get("tools"):
        out["tools"] = responses_tools(chat["tools"])
    if chat.get("tool_choice") is not None:
        out["tool_choice"] = responses_tool_choice(chat["tool_choice"])
    if (text := responses_text(chat.get("response_format"))) is not None:
        out["text"] = text
    reasoning: dict[str, Any] = {}
    if (effort := responses_effort(ctx, chat, model)) is not None:
        reasoning["effort"] = effort
    asked = req.get("reasoning")
    if isinstance(asked, dict) and asked.get("summary") is not None:
        reasoning["summary"] = asked["summary"]
    if reasoning:
        out["reasoning"] = reasoning
    for name in _KEPT:
        if req.get(name) is not None:
            out[name] = req[name]
    if chat.get("stream"):
        out["stream"] = True
    return out


def answer_from_response(resp: dict[str, Any]) -> Answer:
    """A Response object's output as blocks: what the conversation store keeps of a native answer."""
    ans = Answer()
    for item in resp.get("output") or ():
        if not isinstance(item, dict):
            continue
        if item.get("type") == "message":
            text = "".join(
                str(p.get("text") or p.get("refusal") or "")
                for p in item.get("content") or ()
                if isinstance(p, dict) and p.get("type") in ("output_text", "refusal")
            )
            if text:
                ans.blocks.append(Block("text", text))
        elif item.get("type") == "function_call":
            ans.blocks.append(
                Block(
                    "tool",
                    str(item.get("arguments") or ""),
                    call_id=str(item.get("call_id") or ""),
                    name=str(item.get("name") or ""),
                )
            )
    return ans


class NativeRelay:
    """A native worker's Responses answer, relayed as it is, except for what is the router's to say.

    Set on the Response object (the JSON answer, or the ``response`` of the ``response.*`` lifecycle events):
    ``id`` (the router's, which its conversation store knows), ``model`` (the routed model), and the echoes
    of what the router, not the client, sent: ``instructions`` (the client's, not the decision's system
    prompt merged into it), ``previous_response_id`` and ``store``. Every other event passes byte for byte;
    only ``data:`` lines that carry a ``"response":`` key are decoded (in JSON a quote inside a string is
    escaped, so that byte sequence is always a key). The router's own mid-stream failure (a chat-style
    error line) becomes Responses' ``error`` and ``response.failed`` events.
    """

    __slots__ = ("buf", "ctx", "d", "mode")

    def __init__(self, dialect: ResponsesDialect, ctx: RequestContext) -> None:
        self.d = dialect
        self.ctx = ctx
        self.mode = ""  # "", "json", "sse", "raw"
        self.buf = b""

    def feed(self, data: bytes) -> bytes:
        if not self.mode:
            head = (self.buf + data).lstrip()
            if not head:
                self.buf += data
                return b""
            c = head[:1]
            self.mode = "json" if c == b"{" else "sse" if c in (b"d", b":", b"e") else "raw"
        if self.mode == "json":
            self.buf += data
            return b""
        if self.mode == "raw":
            out, self.buf = self.buf + data, b""
            return out
        if not self.buf and data.endswith(b"\n") and b'"response":' not in data and b'{"error"' not in data:
            return data  # the hot path: whole lines of deltas and item events, untouched
        if b"\n" not in data:
            self.buf += data
            return b""
        lines = (self.buf + data).split(b"\n")
        self.buf = lines.pop()
        return b"".join(self._line(line) + b"\n" for line in lines)

    def finish(self) -> bytes:
        buf, self.buf = self.buf, b""
        if self.mode == "json":
            return self._json(buf)
        if self.mode == "sse" and buf:
            return self._line(buf)
        return buf

    def _json(self, raw: bytes) -> bytes:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return raw
        if not isinstance(obj, dict) or obj.get("object") != "response":
            return raw  # an error (OpenAI's shape, which is the Responses API's too) or a stranger: as sent
        self.d.own(self.ctx, obj)
        self.d.completed(self.ctx, answer_from_response(obj), obj)
        return orjson.dumps(obj)

    def _line(self, line: bytes) -> bytes:
        if not line.startswith(b"data:"):
            return line
        if b'"response":' not in line and not line[5:].lstrip().startswith(b'{"error"'):
            return line
        try:
            obj = orjson.loads(line[5:])
        except orjson.JSONDecodeError:
            return line
        if not isinstance(obj, dict):
            return line
        if "type" not in obj and isinstance(obj.get("error"), dict):  # the router's stream-broken line
            return self.d.stream_error(obj["error"]).rstrip(b"\n")
        resp = obj.get("response")
        if not isinstance(resp, dict):
            return line
        self.d.own(self.ctx, resp)
        if obj.get("type") in ("response.completed", "response.incomplete"):
            self.d.completed(self.ctx, answer_from_response(resp), resp)
        return b"data: " + orjson.dumps(obj)


class ResponsesDialect(Dialect):
    """One ``/v1/responses`` request."""

    def __init__(self, store: ConversationStore | None = None) -> None:
        super().__init__()
        self.store = CONVERSATIONS if store is None else store
        self.id = new_id("resp_")
        self.created = int(time.time())
        self.req: dict[str, Any] = {}
        self.keep = True  # store: true (the API's default)
        self.history = b"[]"  # the conversation so far, without instructions, encoded when translated
        self.seq = 0
        self.model = ""  # the routed model, for a stream's failure event
        self._heads: dict[int, bytes] = {}  # each block's delta event up to the delta itself

    def to_chat(self, ctx: RequestContext) -> dict[str, Any]:
        body = load_object(ctx)
        check_fields(body, _KNOWN, "/v1/responses")
        self.req = body
        if "input" not in body:
            raise invalid_request(
                "Missing required parameter: 'input'", param="input", code="missing_required_parameter"
            )
        for flag, allowed in (("background", False), ("truncation", "disabled")):
            if body.get(flag) not in (None, allowed):
                raise unsupported(flag, f"only {orjson.dumps(allowed).decode()} is supported")
        include = body.get("include")
        if include is not None and not (isinstance(include, list) and set(include) <= _INCLUDABLE):
            raise unsupported("include", f"only {sorted(_INCLUDABLE)} is accepted (and adds nothing)")
        opts = body.get("stream_options")
        if opts is not None and not (isinstance(opts, dict) and set(opts) <= {"include_obfuscation"}):
            raise unsupported("stream_options", "only include_obfuscation is accepted (and has no effect)")
        store = body.get("store", True)
        if not isinstance(store, bool):
            raise type_error("store", "a boolean", store)
        self.keep = store
        conv: list[dict[str, Any]] = []
        prev = body.get("previous_response_id")
        if prev is not None:
            if not isinstance(prev, str):
                raise type_error("previous_response_id", "a string", prev)
            found = self.store.get(tenant_of(ctx), prev)
            if found is None:
                raise RouterError(
                    404,
                    f"Previous response with id '{prev}' not found (it expired, belongs to another tenant, or was "
                    "answered by another router process).",
                    param="previous_response_id",
                    code="previous_response_not_found",
                )
            conv = found
        conv += input_messages(body["input"])
        if not conv:
            raise invalid_request("'input' must contain at least one item", param="input", code="invalid_value")
        self.history = orjson.dumps(conv)  # before the pipeline: the enrich stage edits messages in place
        messages = conv
        instructions = body.get("instructions")
        if instructions is not None:
            if not isinstance(instructions, str):
                raise type_error("instructions", "a string", instructions)
            messages = [{"role": "system", "content": instructions}, *conv]
        chat: dict[str, Any] = {"model": body.get("model"), "messages": messages}
        self.stream = stream_flag(body)
        if self.stream:
            chat["stream"] = True
            chat["stream_options"] = {"include_usage": True}  # response.completed carries usage
        if (limit := positive_int(body, "max_output_tokens")) is not None:
            chat["max_tokens"] = limit
        copy_number(body, chat, "temperature")
        copy_number(body, chat, "top_p")
        if body.get("tools") is not None:
            chat["tools"] = chat_tools(body["tools"])
        if body.get("tool_choice") is not None:
            chat["tool_choice"] = chat_tool_choice(body["tool_choice"])
        if (ptc := body.get("parallel_tool_calls")) is not None:
            if not isinstance(ptc, bool):
                raise type_error("parallel_tool_calls", "a boolean", ptc)
            chat["parallel_tool_calls"] = ptc
        if body.get("text") is not None and (fmt := response_format(body["text"])) is not None:
            chat["response_format"] = fmt
        if (user := body.get("user")) is not None:
            if not isinstance(user, str):
                raise type_error("user", "a string", user)
            chat["user"] = user
        meta = body.get("metadata")
        if meta is not None and not isinstance(meta, dict):
            raise type_error("metadata", "an object", meta)
        self._reasoning(body.get("reasoning"), chat)
        return chat

    # -- workers that speak Responses natively (a model with ``api: responses``) -------------------

    def settle(self, ctx: RequestContext, local: LocalResponse | None) -> LocalResponse | None:
        # Native only while no other response filter reads the answer: they read chat (PII restore puts
        # masked values back into chat deltas, the bandit's outcome sniffer reads finish_reason), so with
        # one of them on, the worker is asked for chat and the answer translated, as for any model.
        self.native_ok = local is None and not ctx.response_filters
        return super().settle(ctx, local)

    def native_request(self, ctx: RequestContext, model: str, served: str) -> tuple[str, bytes] | None:
        if not self.native_ok:
            return None
        cfg = ctx.config.model(model)
        if cfg is None or cfg.api != "responses":
            return None
        body = responses_request(ctx, ctx.body, self.req, model, served)
        return RESPONSES_PATH, orjson.dumps(body)

    def native_relay(self, ctx: RequestContext) -> NativeRelay:
        return NativeRelay(self, ctx)

    def own(self, ctx: RequestContext, resp: dict[str, Any]) -> None:
        """Set what is the router's to say on a native worker's Response object (see :class:`NativeRelay`)."""
        resp["id"] = self.id
        resp["model"] = ctx.model or ctx.requested_model
        resp["instructions"] = self.req.get("instructions")
        resp["previous_response_id"] = self.req.get("previous_response_id")
        resp["store"] = self.keep
        self.model = resp["model"]  # for a failure event of the router's own

    def _reasoning(self, value: Any, chat: dict[str, Any]) -> None:
        if value is None:
            return
        if not isinstance(value, dict):
            raise type_error("reasoning", "an object", value)
        for key in value:
            if key not in ("effort", "summary"):
                raise unsupported(f"reasoning.{key}", "only reasoning.effort and reasoning.summary are supported")
        effort = value.get("effort")
        if effort is None:
            return
        if effort not in _EFFORTS:
            raise invalid_request(
                f"'reasoning.effort' must be one of {sorted(_EFFORTS)}", param="reasoning.effort", code="invalid_value"
            )
        on = effort != "none"
        self.reasoning = (on, effort if on else None)
        chat["reasoning_effort"] = effort  # the neutral field; settle() writes the model family's switch

    # -- the answer ----------------------------------------------------------------------------

    def completed(self, ctx: RequestContext, ans: Answer, response: dict[str, Any] | None = None) -> None:
        """Keep the conversation (for ``previous_response_id``) and the Response object (for ``GET``):
        ``response`` is a native worker's own, as relayed; otherwise the router's rendering of ``ans``."""
        if not self.keep:
            return
        text = "".join(b.text for b in ans.blocks if b.kind == "text")
        calls = [
            {"id": b.call_id, "type": "function", "function": {"name": b.name, "arguments": b.text}}
            for b in ans.blocks
            if b.kind == "tool"
        ]
        turn: dict[str, Any] = {"role": "assistant", "content": text or None}
        if calls:
            turn["tool_calls"] = calls
        head = self.history[:-1]
        conv = head + (b"," if len(head) > 1 else b"") + orjson.dumps(turn) + b"]"
        obj = orjson.dumps(response if response is not None else self._response(ctx, ans, "completed"))
        self.store.put(tenant_of(ctx), self.id, conv, obj)

    def _item(self, block: Block, done: bool) -> dict[str, Any]:
        if not block.item_id:
            block.item_id = new_id({"text": "msg_", "tool": "fc_", "reasoning": "rs_"}[block.kind])
        status = "completed" if done else "in_progress"
        if block.kind == "tool":
            return {
                "type": "function_call",
                "id": block.item_id,
                "call_id": block.call_id,
                "name": block.name,
                "arguments": block.text if done else "",
                "status": status,
            }
        if block.kind == "reasoning":
            content = [{"type": "reasoning_text", "text": block.text}] if done else []
            return {"type": "reasoning", "id": block.item_id, "summary": [], "content": content}
        parts = [self._part(block)] if done else []
        return {"type": "message", "id": block.item_id, "status": status, "role": "assistant", "content": parts}

    @staticmethod
    def _part(block: Block, text: str | None = None) -> dict[str, Any]:
        if block.kind == "reasoning":
            return {"type": "reasoning_text", "text": block.text if text is None else text}
        return {"type": "output_text", "text": block.text if text is None else text, "annotations": [], "logprobs": []}

    def _response(self, ctx: RequestContext, ans: Answer | None, status: str) -> dict[str, Any]:
        req = self.req
        usage = None
        incomplete = None
        output: list[dict[str, Any]] = []
        if ans is not None:
            output = [self._item(b, True) for b in ans.blocks]
            if ans.finish == "length":
                status, incomplete = "incomplete", {"reason": "max_output_tokens"}
            elif ans.finish == "content_filter":
                status, incomplete = "incomplete", {"reason": "content_filter"}
            if isinstance(ans.usage, dict):
                p, c, cached, r = usage_numbers(ans.usage)
                usage = {
                    "input_tokens": p,
                    "input_tokens_details": {"cached_tokens": cached},
                    "output_tokens": c,
                    "output_tokens_details": {"reasoning_tokens": r},
                    "total_tokens": p + c,
                }
        effort = (req.get("reasoning") or {}).get("effort") if isinstance(req.get("reasoning"), dict) else None
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "background": False,
            "error": None,
            "incomplete_details": incomplete,
            "instructions": req.get("instructions"),
            "max_output_tokens": req.get("max_output_tokens"),
            "model": ctx.model or ctx.requested_model,
            "output": output,
            "parallel_tool_calls": req.get("parallel_tool_calls", True),
            "previous_response_id": req.get("previous_response_id"),
            "reasoning": {"effort": effort, "summary": None},
            "store": self.keep,
            "temperature": req.get("temperature"),
            "text": req.get("text") or {"format": {"type": "text"}},
            "tool_choice": req.get("tool_choice", "auto"),
            "tools": req.get("tools") or [],
            "top_p": req.get("top_p"),
            "truncation": "disabled",
            "usage": usage,
            "user": req.get("user"),
            "metadata": req.get("metadata") or {},
        }

    def render(self, ctx: RequestContext, ans: Answer) -> bytes:
        return orjson.dumps(self._response(ctx, ans, "completed"))

    def _event(self, kind: str, payload: dict[str, Any]) -> bytes:
        self.seq += 1
        return sse(kind, {"type": kind, "sequence_number": self.seq - 1, **payload})

    def stream_start(self, ctx: RequestContext) -> bytes:
        self.model = ctx.model or ctx.requested_model
        response = self._response(ctx, None, "in_progress")
        return self._event("response.created", {"response": response}) + self._event(
            "response.in_progress", {"response": response}
        )

    def block_start(self, index: int, block: Block) -> bytes:
        out = self._event("response.output_item.added", {"output_index": index, "item": self._item(block, False)})
        if block.kind != "tool":
            out += self._event(
                "response.content_part.added",
                {"item_id": block.item_id, "output_index": index, "content_index": 0, "part": self._part(block, "")},
            )
        return out

    def block_delta(self, index: int, block: Block, piece: str) -> bytes:
        # The hot path of a stream (one event per token): the event's fixed part is built once per block.
        head = self._heads.get(index)
        if head is None:
            kind = {
                "text": "response.output_text.delta",
                "reasoning": "response.reasoning_text.delta",
                "tool": "response.function_call_arguments.delta",
            }[block.kind]
            fixed: dict[str, Any] = {"type": kind, "item_id": block.item_id, "output_index": index}
            if block.kind != "tool":
                fixed["content_index"] = 0
            if block.kind == "text":
                fixed["logprobs"] = []
            head = self._heads[index] = (
                b"event: " + kind.encode() + b"\ndata: " + orjson.dumps(fixed)[:-1] + b',"delta":'
            )
        self.seq += 1
        return head + orjson.dumps(piece) + b',"sequence_number":' + str(self.seq - 1).encode() + b"}\n\n"

    def block_stop(self, index: int, block: Block) -> bytes:
        where = {"item_id": block.item_id, "output_index": index}
        out = b""
        if block.kind == "tool":
            out += self._event(
                "response.function_call_arguments.done", {**where, "arguments": block.text, "name": block.name}
            )
        else:
            kind = "response.output_text.done" if block.kind == "text" else "response.reasoning_text.done"
            extra: dict[str, Any] = {"logprobs": []} if block.kind == "text" else {}
            out += self._event(kind, {**where, "content_index": 0, "text": block.text, **extra})
            out += self._event("response.content_part.done", {**where, "content_index": 0, "part": self._part(block)})
        return out + self._event("response.output_item.done", {"output_index": index, "item": self._item(block, True)})

    def stream_end(self, ctx: RequestContext, ans: Answer) -> bytes:
        response = self._response(ctx, ans, "completed")
        kind = "response.completed" if response["status"] == "completed" else "response.incomplete"
        return self._event(kind, {"response": response})

    def stream_error(self, error: dict[str, Any]) -> bytes:
        code = error.get("code")
        message = str(error.get("message") or "The upstream worker failed")
        out = self._event("error", {"code": None if code is None else str(code), "message": message, "param": None})
        failed = self._response_failed(code, message)
        return out + self._event("response.failed", {"response": failed})

    def _response_failed(self, code: Any, message: str) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": "failed",
            "error": {"code": "server_error" if code is None else str(code), "message": message},
            "model": self.model,
            "output": [],
        }
