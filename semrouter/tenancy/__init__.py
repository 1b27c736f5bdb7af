"""Tenants from credentials: who is calling, what they may use, and how much.

The flow of one API request (both adapters, every path of ``API_PATHS``, through
:class:`~semrouter.adapters.intake.Admission`):

1. :func:`authenticate`, before the body is parsed: the virtual API key (``Authorization: Bearer`` or
   ``x-api-key``) maps to its tenant, which becomes ``ctx.tenant`` (the cache partition, the decision log's
   ``tenant``). An unknown or missing key is a 401. The tenant header (``cache.tenant_header``) counts
   only from a trusted client address (``tenancy.trusted_cidrs``); anyone else's is ignored, so a forged
   one changes nothing. A tenant already over a limit is refused here (429), before any routing work.
2. The ``tenant`` stage (:class:`semrouter.tenancy.stage.TenantStage`), once the model is known:
   :func:`authorize` (403 for a model or decision outside the tenant's) and :func:`admit` (the limits,
   with the request's estimated tokens and cost).
3. :func:`settle`, when the request is recorded: the estimate is replaced by the answer's usage.

With no ``tenancy`` section nothing here applies: no key is needed and the tenant header is believed from
anyone, as before.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import TYPE_CHECKING

from semrouter.errors import RouterError
from semrouter.observe.recorder import estimate_cost
from semrouter.observe.usage import find_usage
from semrouter.tenancy.limits import Charge, Exceeded, Limiter
from semrouter.tenancy.sessions import SessionStore
from semrouter.tenancy.shared import SharedLimiter

if TYPE_CHECKING:
    from semrouter.config.schema import RouterConfig
    from semrouter.context import RequestContext, ResponseOutcome
    from semrouter.tenancy.config import KeyEntry, Tenant
    from semrouter.tenancy.limits import Scope


class TenancyState:
    """What outlives config snapshots (the router keeps one): limit counters and the session store."""

    def __init__(self) -> None:
        self.limiter = Limiter()
        self.sessions = SessionStore()
        self.shared: SharedLimiter | None = None  # counters: redis (made on first use, per server URL)
        self._closing: set[asyncio.Task[None]] = set()

    def shared_for(self, config: RouterConfig) -> SharedLimiter | None:
        """The shared counters ``config`` asks for, if any (a reload to another URL gets a new client)."""
        t = config.tenancy
        if t is None or t.counters != "redis":
            return None
        url = t.redis_url or config.cache.redis.url
        if self.shared is None or self.shared.url != url or self.shared.timeout_s != t.redis_timeout_s:
            old, self.shared = self.shared, SharedLimiter(url, t.redis_timeout_s, self.limiter)
            if old is not None:
                task = asyncio.get_running_loop().create_task(old.aclose())
                self._closing.add(task)
                task.add_done_callback(self._closing.discard)
        return self.shared

    async def aclose(self) -> None:
        if self.shared is not None:
            await self.shared.aclose()


@dataclass(slots=True)
class TenantAccess:
    """A request's standing, on ``ctx.tenancy``: set by the intake only (a dry run has none, so it is
    never counted against a limit and never pins a session)."""

    state: TenancyState
    tenant: Tenant | None = None  # the configured tenant whose rules apply; None: no rules
    key: KeyEntry | None = None
    charge: Charge | None = None

    def scopes(self) -> list[Scope]:
        """The tenant's counters (all its keys) and the key's own (by digest: the keys of one entry, which
        share its name, each count on their own)."""
        out: list[Scope] = []
        if self.tenant is not None and not self.tenant.limits.empty:
            out.append((f"tenant:{self.tenant.name}", f"tenant {self.tenant.name}", self.tenant.limits))
        if self.key is not None and not self.key.limits.empty:
            out.append((f"key:{self.key.digest}", f"key {self.key.label}", self.key.limits))
        return out


def api_key(headers: dict[str, str]) -> bytes:
    """The client's key: ``Authorization: Bearer`` (OpenAI SDKs) or ``x-api-key`` (Anthropic SDKs)."""
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip().encode("latin-1")
    return headers.get("x-api-key", "").strip().encode("latin-1")


def invalid_key(missing: bool) -> RouterError:
    msg = (
        "You didn't provide an API key: send 'Authorization: Bearer <key>'"
        if missing
        else "Incorrect API key provided"  # never echo any of it back
    )
    return RouterError(
        401, msg, type="invalid_request_error", code="invalid_api_key", headers={"www-authenticate": "Bearer"}
    )


def identify(
    config: RouterConfig, headers: dict[str, str], client: str | None
) -> tuple[str | None, Tenant | None, KeyEntry | None]:
    """The tenant a request is for (its name, its config if configured, the key's entry): from the key,
    else from a trusted client's tenant header; 401 for an unknown key, or no key from an untrusted client.
    Call only with ``config.tenancy`` set."""
    cfg = config.tenancy
    assert cfg is not None
    key = api_key(headers)
    if key:
        entry = cfg.lookup(key)
        if entry is None:
            raise invalid_key(missing=False)
        return entry.tenant.name, entry.tenant, entry
    if cfg.trusted(client):
        named = headers.get(config.cache.tenant_header.lower())
        return (named, cfg.tenant(named), None) if named else (None, None, None)
    raise invalid_key(missing=True)


def authenticate(ctx: RequestContext, state: TenancyState, client: str | None) -> None:
    """Who is calling (sets ``ctx.tenant`` and ``ctx.tenancy``); 401 for a bad key, 429 if already over a limit."""
    access = ctx.tenancy = TenantAccess(state)
    if ctx.config.tenancy is None:
        return  # ctx.tenant stays what the tenant header says, as before tenants existed
    ctx.tenant, access.tenant, access.key = identify(ctx.config, ctx.headers, client)
    scopes = access.scopes()
    if scopes and ctx.config.tenancy.counters == "replica":  # shared counters: checked once, in the stage
        refused = state.limiter.check(scopes, 0, 0.0)
        if refused is not None:
            ctx.obs["limit"] = refused.limit
            raise refused.error()


def allowed_models(ctx: RequestContext) -> list[str] | None:
    access = ctx.tenancy
    if access is None or access.tenant is None:
        return None
    return access.tenant.models


def narrow(ctx: RequestContext) -> None:
    """A routed request whose selected model the tenant may not use goes to the best candidate of its
    decision that it may use; with none, and for an explicit model it may not use, 403."""
    access = ctx.tenancy
    if access is None or access.tenant is None:
        return
    t = access.tenant
    if ctx.routed and ctx.decision is not None and t.decisions is not None and ctx.decision.name not in t.decisions:
        raise RouterError(
            403,
            f"Tenant '{t.name}' may not use decision '{ctx.decision.name}'",
            type="permission_error",
            code="decision_not_allowed",
        )
    models = t.models
    if models is None or ctx.model is None or ctx.model in models:
        return
    if ctx.routed and ctx.decision is not None:
        scores = ctx.selection_scores
        ranked = sorted(
            (m.model for m in ctx.decision.models if m.model in models),
            key=lambda name: -scores.get(name, 0.0),
        )
        if ranked:
            ctx.model = ranked[0]
            return
    raise RouterError(
        403,
        f"Tenant '{t.name}' may not use model '{ctx.model}'; allowed: {', '.join(models)}",
        type="permission_error",
        param="model",
        code="model_not_allowed",
    )


def estimate_tokens(ctx: RequestContext, default_completion: int) -> int:
    """Prompt tokens ~ body bytes / 4 (an over-estimate, with the JSON around the text: O(1), no walk of
    the messages), plus the answer's ``max_tokens`` (or ``max_completion_tokens``) or the default."""
    body = ctx.body
    cap = body.get("max_completion_tokens", body.get("max_tokens", body.get("max_output_tokens")))
    completion = cap if isinstance(cap, int) and not isinstance(cap, bool) and cap >= 0 else default_completion
    if ctx.api.value == "embeddings":
        completion = 0
    return len(ctx.raw_body) // 4 + completion


async def admit(ctx: RequestContext) -> None:
    """Take the request from its tenant's and key's limits (429 if one refuses)."""
    access = ctx.tenancy
    cfg = ctx.config.tenancy
    if access is None or cfg is None:
        return
    scopes = access.scopes()
    if not scopes:
        return
    tokens = estimate_tokens(ctx, cfg.estimate_completion_tokens)
    prompt = len(ctx.raw_body) // 4
    cost = estimate_cost(ctx, {"prompt_tokens": prompt, "completion_tokens": tokens - prompt}) or 0.0
    shared = access.state.shared_for(ctx.config)
    taken = (
        await shared.admit(scopes, tokens, cost)
        if shared is not None
        else access.state.limiter.admit(scopes, tokens, cost)
    )
    if isinstance(taken, Exceeded):
        ctx.obs["limit"] = taken.limit
        raise taken.error()
    access.charge = taken


def settle(ctx: RequestContext, outcome: ResponseOutcome | None) -> None:
    """Replace the request's estimates by its usage: none for an answer from the cache or an error, what
    the answer's ``usage`` says, or the estimate where an answer came without one (a stream without
    ``stream_options.include_usage``)."""
    access = ctx.tenancy
    if access is None or access.charge is None:
        return
    up = ctx.upstream
    usage = up.sniffer.usage if up.sniffer is not None else None
    if usage is None and up.body is not None:
        usage = find_usage(up.body)
    limiter: Limiter | SharedLimiter = access.state.limiter
    if access.charge.shared and access.state.shared is not None:
        limiter = access.state.shared
    if usage is not None:
        prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
        total = usage.get("total_tokens")
        n = total if isinstance(total, int) else sum(v for v in (prompt, completion) if isinstance(v, int))
        limiter.settle(access.charge, n, estimate_cost(ctx, usage))
    elif outcome is None or outcome.status == 0 or outcome.status >= 400 or ctx.local_stage is not None:
        limiter.settle(access.charge, 0, 0.0)  # the worker produced nothing billable
    else:
        limiter.settle(access.charge, None, None)


__all__ = ["TenancyState", "TenantAccess", "admit", "authenticate", "identify", "narrow", "settle"]
