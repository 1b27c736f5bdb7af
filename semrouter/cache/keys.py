"""What a cache hit must share with the request that stored it, and which requests may use the cache at all.

The embedding only describes the last user message, so everything else that changes the answer must be
*identical* between the stored request and a new one. That is enforced structurally: it goes into the
partition key, and a backend only ever searches the partition of the request (see
:mod:`semrouter.cache.base`). The key is ``"<tenant token>:<digest>"``:

* the tenant token comes first so an operator can drop one tenant's entries by prefix, and is a hash so
  raw tenant ids never reach the backend or its logs;
* the digest covers the API, the decision (and what of it shapes the answer: its system prompt and
  reasoning switch, so a hot reload that edits them cannot serve answers made under the old wording),
  the selected model, every message except the text of the last user message (system prompt, earlier
  turns with roles, names and tool calls; images or other non-text parts of the last message too), and
  every request field except a short list known not to change the answer. Listing what is *ignored*
  rather than what counts is deliberate: an unknown or new sampling parameter (vLLM has many) then
  separates entries instead of silently sharing them.

JSON is canonical (sorted keys, ints as floats) so neither key order nor ``1`` vs ``1.0`` splits a
partition.

Two ways to key the decision (``cache.cross_decision``):

* **by effect** (the default): the decision's settings minus a short list of fields known not to change
  the request the model sees (:data:`EFFECT_IGNORED`: its name, description, priority, rules, category,
  candidate models and selection, whose outcome, the selected model, is keyed anyway, and its cache
  policy). Listing what is *ignored* keeps this fail-closed, as for request fields: a decision setting
  added later (or one forgotten here) separates entries instead of sharing them. Two decisions with the
  same system prompt, reasoning, tools and guard policies that pick the same model then share entries,
  so a paraphrase that routing sends to the other one (a cooking question split between ``general`` and
  ``physics``) still finds the stored answer, which the verifier (:mod:`semrouter.cache.verify`) must
  still accept. What changes: an entry lives under the TTL of the decision that stored it, a lookup uses
  the asking decision's threshold, and ``invalidate(decision=...)`` drops the entries that decision
  *stored* (another decision with the same effect may still serve its own). With the built-in config
  this buys nothing: every decision injects its own system prompt, so no two decisions have the same
  effect and every partition stays per decision (``semrouter eval cache`` reports ``other_partition``
  misses, 106 of 320 paraphrases in issue 17); it pays off where several decisions only pick a model or
  differ in routing metadata.
* **by name** (``cross_decision: false``): the decision's name and the settings that shape its answer,
  the stricter, older behaviour; per-decision TTLs and ``invalidate(decision=...)`` then hold exactly.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from semrouter.cache.config import CacheConfig
    from semrouter.config.schema import DecisionConfig

# Request fields that do not change the answer's content: left out of the key so they do not split it.
# ``stream``/``stream_options``: a stored answer is replayed either way. ``model``: the *selected* model is
# keyed instead (a virtual name says nothing). ``n``, ``logprobs``, ``top_logprobs`` and ``seed`` only
# reach the key when they are harmless (see :func:`cacheability`), and are normalised away.
IGNORED_FIELDS = frozenset(
    {
        "messages",
        "model",
        "stream",
        "stream_options",
        "user",
        "metadata",
        "store",
        "service_tier",
        "safety_identifier",
        "prompt_cache_key",
        "request_id",
        "priority",
        "n",
        "logprobs",
        "top_logprobs",
        "seed",
    }
)

_NO_STORE = "no-store"
_NO_CACHE = "no-cache"


def end_user(body: dict[str, Any]) -> str:
    """The end user a request names: ``user`` or ``safety_identifier`` (a string), else ``""``."""
    for field in ("user", "safety_identifier"):
        value = body.get(field)
        if isinstance(value, str) and value:
            return f"{field}:{value}"
    return ""


def tenant_token(value: str | None) -> str:
    """First 16 hex chars of sha256 of the tenant header value; ``""`` when the request names no tenant."""
    if not value:
        return ""
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def partition_prefix(tenant: str | None) -> str:
    """The prefix every partition key of ``tenant`` (the raw header value) starts with."""
    return tenant_token(tenant) + ":"


def _canonical(value: Any) -> Any:
    """Ints as floats (``1`` and ``1.0`` are the same temperature); bools stay bools; containers recurse."""
    if isinstance(value, bool) or value is None or isinstance(value, str | float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    return str(value)


def _without_text(message: dict[str, Any]) -> dict[str, Any]:
    """The last user message minus its text (the embedding covers the text): role, name, non-text parts."""
    out = {k: v for k, v in message.items() if k != "content"}
    content = message.get("content")
    if isinstance(content, list):
        out["content"] = [p for p in content if not (isinstance(p, dict) and p.get("type") == "text")]
    return out


def conversation_context(messages: Any) -> list[Any]:
    """Every message, with the last user message reduced to what its text embedding does not cover."""
    if not isinstance(messages, list):
        return []
    last_user = next(
        (
            i
            for i in range(len(messages) - 1, -1, -1)
            if isinstance(messages[i], dict) and messages[i].get("role") == "user"
        ),
        None,
    )
    return [_without_text(m) if i == last_user else m for i, m in enumerate(messages)]


EFFECT_IGNORED = frozenset({"name", "description", "priority", "rules", "category", "models", "selection", "cache"})
"""Decision fields that do not change the request the model sees (the selected model is keyed on its own)."""


def decision_effect(decision: DecisionConfig | None) -> Any:
    """What the decision does to the request: every setting except :data:`EFFECT_IGNORED`, as JSON."""
    if decision is None:
        return None
    effect = decision.model_dump(mode="json", exclude=set(EFFECT_IGNORED))
    if not effect.get("use_reasoning"):
        effect.pop("reasoning_effort", None)  # ignored when the decision does not reason
    return effect


def _decision_fingerprint(decision: DecisionConfig | None) -> Any:
    if decision is None:
        return None
    prompt = decision.system_prompt
    return {
        "name": decision.name,
        "system_prompt": [prompt.text, prompt.mode] if prompt is not None else None,
        "use_reasoning": decision.use_reasoning,
        "reasoning_effort": decision.reasoning_effort if decision.use_reasoning else None,
    }


def partition_key(
    *,
    api: str,
    body: dict[str, Any],
    model: str | None,
    decision: DecisionConfig | None,
    tenant: str | None,
    scope: str = "user",
    by_effect: bool = False,
) -> str:
    """``"<tenant token>:<sha256 hex>"`` for a request as the client sent it (before enrichment).

    ``decision`` is ``None`` for explicit-model passthrough; ``model`` is the selected (or named) model.
    With ``scope`` "user" the end user the client names (``user``, or ``safety_identifier``, its newer name)
    is part of the key: one user's answer is never served to another, even within a tenant. ``by_effect``
    keys the decision by what it does to the request (:func:`decision_effect`) rather than by its name.
    """
    params = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    material = {
        "user": end_user(body) if scope == "user" else "",
        "api": api,
        "decision": "" if by_effect or decision is None else decision.name,
        "decision_config": decision_effect(decision) if by_effect else _decision_fingerprint(decision),
        "model": model or "",
        "context": conversation_context(body.get("messages")),
        "params": params,
    }
    digest = hashlib.sha256(orjson.dumps(_canonical(material), option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{tenant_token(tenant)}:{digest}"


def question_key(*, api: str, body: dict[str, Any], tenant: str | None, scope: str = "user") -> str:
    """``"<tenant token>:<sha256 hex>"``: the request's *question* partition, for following a verified duplicate
    stored under another decision (``cache.follow``).

    Everything :func:`partition_key` covers except the decision and the selected model: tenant, end user (with
    ``scope`` "user"), API, the conversation (system prompt, earlier turns, non-text parts) and every
    answer-changing request field. A ``"question"`` marker keeps it apart from every decision partition (an
    explicit-model request's partition has no decision either). Entries found here carry their origin
    (:attr:`semrouter.cache.base.CachedAnswer.origin`); whether one may be adopted is the stage's call, against
    the current config.
    """
    params = {k: v for k, v in body.items() if k not in IGNORED_FIELDS}
    material = {
        "partition": "question",
        "user": end_user(body) if scope == "user" else "",
        "api": api,
        "context": conversation_context(body.get("messages")),
        "params": params,
    }
    digest = hashlib.sha256(orjson.dumps(_canonical(material), option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f"{tenant_token(tenant)}:{digest}"


@dataclass(frozen=True, slots=True)
class Cacheability:
    """May this request be answered from the cache (``lookup``) and may its answer be kept (``store``)?

    ``reason`` says why not (a bypass reason for the stage's counters), or ``"no-cache"`` when only the
    lookup is skipped.
    """

    lookup: bool
    store: bool
    reason: str | None = None


CACHEABLE = Cacheability(True, True)


def _directives(headers: dict[str, str]) -> set[str]:
    found: set[str] = set()
    for name in ("cache-control", "x-vsr-cache-control"):
        value = headers.get(name)
        if value:
            found.update(d.split("=", 1)[0].strip().lower() for d in value.split(","))
    return found


def cacheability(body: dict[str, Any], headers: dict[str, str], cfg: CacheConfig) -> Cacheability:
    """Whether a chat request may use the cache, from its sampling parameters and cache directives.

    Not cacheable (neither way): sampling hotter than ``max_temperature`` (the client wants variety),
    ``n`` > 1, a ``seed`` (the client wants *that* sample), ``logprobs`` / ``top_logprobs`` (we do not keep
    them), and ``no-store``. ``no-cache`` skips the lookup but keeps the fresh answer, as in HTTP. A request
    without ``temperature`` is cacheable: the worker's default is not known here. ``headers`` are
    lower-cased names.
    """
    directives = _directives(headers)
    if _NO_STORE in directives:
        return Cacheability(False, False, "no-store")
    temperature = body.get("temperature")
    if isinstance(temperature, int | float) and temperature > cfg.max_temperature:
        return Cacheability(False, False, "temperature")
    n = body.get("n")
    if isinstance(n, int) and n > 1:
        return Cacheability(False, False, "n")
    if body.get("seed") is not None:
        return Cacheability(False, False, "seed")
    if body.get("logprobs") or body.get("top_logprobs") is not None:
        return Cacheability(False, False, "logprobs")
    if _NO_CACHE in directives:
        return Cacheability(False, True, "no-cache")
    return CACHEABLE
