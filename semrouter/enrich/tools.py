"""Tool selection: keep only the tools relevant to a request.

Agents often send dozens of tool definitions with every turn; each costs prompt tokens and makes the
model more likely to call the wrong one. We rank tools by cosine similarity of the request embedding
(the shared one, so ranking costs a dot product) to an embedding of each tool's text and keep the
best ``top_k`` above ``threshold``. Tool embeddings are cached by their text in a bounded LRU: agents
resend the same tool list every turn, so after the first request tool ranking costs no inference.

Rules that keep a conversation working whatever the scores say:

* a tool the conversation already called is never dropped (its result or call is in the history,
  and the model may need to call it again);
* a tool named by ``tool_choice`` is always kept;
* tools we cannot rank (not ``type: function``, no name) are kept untouched;
* pinned tools do not use up ``top_k``: it bounds only the tools chosen for relevance.

Kept request tools stay in the client's order (the same selection then gives byte-identical prompts,
which keeps the workers' prefix cache warm); catalog additions follow, best first.
"""

from __future__ import annotations

import asyncio
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from semrouter.config.schema import ToolSelectionConfig
from semrouter.embed.model import EMBEDDING_DIM, FloatArray
from semrouter.embed.service import EmbeddingService


def tool_name(tool: Any) -> str | None:
    """The function name of an OpenAI tool object, or None for tools we cannot rank."""
    if not isinstance(tool, dict) or tool.get("type", "function") != "function":
        return None
    fn = tool.get("function")
    name = fn.get("name") if isinstance(fn, dict) else None
    return name if isinstance(name, str) and name else None


def display_name(tool: Any) -> str:
    """Name for the header and reports: the function name, else the tool's type."""
    name = tool_name(tool)
    if name is not None:
        return name
    kind = tool.get("type") if isinstance(tool, dict) else None
    return kind if isinstance(kind, str) else "unknown"


def tool_text(tool: dict[str, Any]) -> str:
    """What we embed for a tool: ``name: description`` plus its parameter names, which often carry
    meaning the description leaves out (``city``, ``ticker``)."""
    fn = tool["function"]
    text = str(fn["name"])
    desc = fn.get("description")
    if isinstance(desc, str) and desc.strip():
        text += ": " + desc.strip()
    params = fn.get("parameters")
    props = params.get("properties") if isinstance(params, dict) else None
    if isinstance(props, dict) and props:
        text += " (parameters: " + ", ".join(str(p) for p in props) + ")"
    return text


def called_tools(messages: Any) -> set[str]:
    """Names of tools the conversation already used: assistant ``tool_calls`` / legacy
    ``function_call``, and the ``name`` of ``tool`` / ``function`` result messages."""
    names: set[str] = set()
    if not isinstance(messages, list):
        return names
    for msg in messages:
        if not isinstance(msg, dict):
            continue
        role = msg.get("role")
        if role == "assistant":
            calls = msg.get("tool_calls")
            for call in calls if isinstance(calls, list) else []:
                fn = call.get("function") if isinstance(call, dict) else None
                if isinstance(fn, dict) and isinstance(fn.get("name"), str):
                    names.add(fn["name"])
            legacy = msg.get("function_call")
            if isinstance(legacy, dict) and isinstance(legacy.get("name"), str):
                names.add(legacy["name"])
        elif role in ("tool", "function") and isinstance(msg.get("name"), str):
            names.add(msg["name"])
    return names


def forced_tool(tool_choice: Any) -> str | None:
    """The function a ``tool_choice`` of ``{"type": "function", "function": {"name": ...}}`` names."""
    if isinstance(tool_choice, dict):
        fn = tool_choice.get("function")
        name = fn.get("name") if isinstance(fn, dict) else None
        if isinstance(name, str):
            return name
    return None


class ToolVectorCache:
    """Bounded LRU of tool-text embeddings, shared by every request in the process.

    A lock guards the dict because server engines may run event loops in several threads; misses are
    embedded through the shared service (batched with concurrent requests), outside the lock.
    """

    def __init__(self, maxsize: int = 4096) -> None:
        self.maxsize = maxsize
        self._data: OrderedDict[str, FloatArray] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._data)

    def _lookup(self, texts: Sequence[str]) -> list[FloatArray | None]:
        with self._lock:
            out: list[FloatArray | None] = []
            for t in texts:
                vec = self._data.get(t)
                if vec is not None:
                    self._data.move_to_end(t)
                    self.hits += 1
                else:
                    self.misses += 1
                out.append(vec)
            return out

    def _store(self, items: Iterable[tuple[str, FloatArray]]) -> None:
        with self._lock:
            for text, vec in items:
                self._data[text] = vec
                self._data.move_to_end(text)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    async def vectors(self, texts: Sequence[str], service: EmbeddingService | None = None) -> FloatArray:
        """Embeddings of ``texts`` as a [n, 384] array, computing only the ones not cached."""
        found = self._lookup(texts)
        missing = list(dict.fromkeys(t for t, v in zip(texts, found, strict=True) if v is None))
        if missing:
            svc = service or EmbeddingService.default()
            computed = dict(zip(missing, await asyncio.gather(*(svc.embed(t) for t in missing)), strict=True))
            self._store(computed.items())
            found = [v if v is not None else computed[t] for t, v in zip(texts, found, strict=True)]
        if not found:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        return np.stack([v for v in found if v is not None])


TOOL_VECTORS = ToolVectorCache()


@dataclass(slots=True)
class ToolSelection:
    """The outcome of ranking: the new ``tools`` list and why each tool is (not) in it."""

    tools: list[dict[str, Any]]
    selected: list[str]  # display names of ``tools``, in order
    scores: dict[str, float] = field(default_factory=dict)  # every ranked tool (request and catalog)
    pinned: list[str] = field(default_factory=list)  # kept whatever their score
    added: list[str] = field(default_factory=list)  # came from the catalog

    def detail(self) -> dict[str, Any]:
        return {"selected": self.selected, "scores": self.scores, "pinned": self.pinned, "added": self.added}


async def select_tools(
    query: FloatArray,
    tools: Sequence[Any],
    config: ToolSelectionConfig,
    *,
    pinned: Iterable[str] = (),
    required: bool = False,
    cache: ToolVectorCache = TOOL_VECTORS,
) -> ToolSelection:
    """Rank ``tools`` plus catalog tools absent from them against the request vector ``query``.

    ``pinned`` names are kept whatever their score (a pinned catalog tool is added). ``required``
    (``tool_choice: "required"``) keeps the best tool even below the threshold, since the client
    demands a call and an empty tool list would make the request invalid.
    """
    pins = set(pinned)
    present = {n for t in tools if (n := tool_name(t)) is not None}
    # candidates: (tool, name, from_catalog); catalog names already sent by the client are skipped
    cands: list[tuple[dict[str, Any], str, bool]] = [(t, n, False) for t in tools if (n := tool_name(t)) is not None]
    seen = set(present)
    for t in config.catalog:
        n = tool_name(t)
        if n is not None and n not in seen:
            seen.add(n)
            cands.append((t, n, True))
    sims = (await cache.vectors([tool_text(t) for t, _, _ in cands])) @ query if cands else np.zeros(0)
    scores: dict[str, float] = {}
    for (_, n, _), s in zip(cands, sims, strict=True):
        scores[n] = max(scores.get(n, -1.0), round(float(s), 4))

    keep: set[int] = set()
    ranked = sorted(range(len(cands)), key=lambda i: -float(sims[i]))
    for i in ranked:
        if cands[i][1] in pins:
            keep.add(i)
    chosen = 0
    for i in ranked:
        if chosen >= config.top_k or float(sims[i]) < config.threshold:
            break
        if i not in keep:
            keep.add(i)
            chosen += 1
    if required and not keep and ranked:
        keep.add(ranked[0])

    out: list[dict[str, Any]] = []
    idx = 0
    for t in tools:  # client order; unrankable tools kept as they are
        if tool_name(t) is None:
            out.append(t)
            continue
        if idx in keep:
            out.append(t)
        idx += 1
    added = [i for i in ranked if i in keep and cands[i][2]]
    out += [cands[i][0] for i in added]
    kept_pins = sorted(n for n in pins if n in {cands[i][1] for i in keep})
    return ToolSelection(
        tools=out,
        selected=[display_name(t) for t in out],
        scores=scores,
        pinned=kept_pins,
        added=[cands[i][1] for i in added],
    )
