"""Find the token ``usage`` in an answer without parsing the answer.

The proxy keeps an answer's bytes only when a stage needs them (the cache), so token counts for every
request must come from a look at the bytes as they pass: a substring search per chunk (``memmem``
speed), and a parse of the small ``usage`` object alone when it appears. vLLM and OpenAI put usage at
the end of a JSON answer and, for streams asked with ``stream_options.include_usage``, in one of the
last events; an object split across two chunks is carried over to the next one.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

_KEY = b'"usage"'
_CARRY_LIMIT = 4096  # a usage object is a few hundred bytes; anything longer is not one


def parse_usage_at(data: bytes, at: int) -> dict[str, Any] | bool | None:
    """The usage object whose key starts at ``at``: a dict, None if it is not an object (``null``), or
    False if the object is cut off at the end of ``data`` (more bytes are needed)."""
    i = at + len(_KEY)
    n = len(data)
    while i < n and data[i] in b" \t\r\n:":
        i += 1
    if i >= n:
        return False
    if data[i] != ord("{"):
        return None
    depth = 0
    for j in range(i, min(n, i + _CARRY_LIMIT)):
        c = data[j]
        if c == 0x7B:  # {
            depth += 1
        elif c == 0x7D:  # }
            depth -= 1
            if depth == 0:
                try:
                    value = orjson.loads(data[i : j + 1])
                except orjson.JSONDecodeError:
                    return None
                return _as_chat(value) if isinstance(value, dict) else None
    return False if n - i < _CARRY_LIMIT else None


def _as_chat(usage: dict[str, Any]) -> dict[str, Any]:
    """A Responses API ``usage`` (``input_tokens``/``output_tokens``, from a worker that speaks it natively)
    also under chat's names, which metrics, cost and tenant limits read."""
    if "prompt_tokens" not in usage and "input_tokens" in usage:
        usage["prompt_tokens"] = usage["input_tokens"]
        usage["completion_tokens"] = usage.get("output_tokens")
    return usage


def find_usage(data: bytes) -> dict[str, Any] | None:
    """The last complete usage object in a whole answer (JSON or SSE)."""
    at = data.rfind(_KEY)
    while at >= 0:
        found = parse_usage_at(data, at)
        if isinstance(found, dict):
            return found
        at = data.rfind(_KEY, 0, at)
    return None


class UsageSniffer:
    """Fed every chunk of a streamed answer; keeps the last usage seen and when the first byte came."""

    __slots__ = ("carry", "first_byte", "usage")

    def __init__(self) -> None:
        self.usage: dict[str, Any] | None = None
        self.first_byte: float | None = None
        self.carry = b""

    def feed(self, chunk: bytes) -> None:
        if self.first_byte is None:
            self.first_byte = time.perf_counter()
        if self.carry:
            chunk = self.carry + chunk
            self.carry = b""
        at = chunk.rfind(_KEY)
        if at < 0:
            self.carry = chunk[-(len(_KEY) - 1) :]  # the key itself may be split across chunks
            return
        found = parse_usage_at(chunk, at)
        if isinstance(found, dict):
            self.usage = found
        elif found is False:
            self.carry = chunk[at:]
