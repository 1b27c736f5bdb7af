"""The configuration schema.

One YAML file describes models and their endpoints, the pool, decisions and server limits. Every model
forbids unknown keys so that a typo is an error with a line number, not a silently ignored setting.
"""

from __future__ import annotations

import functools
import os
from typing import Any, Literal

from pydantic import Field, HttpUrl, field_validator

from semrouter.cache.config import CacheConfig, DecisionCachePolicy
from semrouter.config.base import Strict as _Strict
from semrouter.decide.rules import Rule
from semrouter.guards.config import GuardsConfig, HarmfulPolicy, JailbreakPolicy, PiiPolicy
from semrouter.observe.config import ObservabilityConfig
from semrouter.signals.config import AnySignalConfig
from semrouter.tenancy.config import SessionConfig, TenancyConfig
from semrouter.tenancy.config import reference_errors as tenancy_reference_errors


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(8801, ge=0, le=65535)
    max_body_bytes: int = Field(10 * 1024 * 1024, gt=0, description="Larger request bodies get 413.")
    max_json_depth: int = Field(
        64,
        ge=8,
        le=250,
        description="Request bodies nested deeper than this get 400 (the JSON encoder stops at 255 levels).",
    )
    request_id_header: str = Field("x-request-id", pattern=r"^[A-Za-z0-9-]+$")

    @field_validator("request_id_header")
    @classmethod
    def _lower(cls, name: str) -> str:
        return name.lower()  # header names are matched lower-cased

    engine: Literal["granian", "uvicorn"] = Field(
        "granian", description="HTTP server: granian (RSGI, fastest measured) or uvicorn (ASGI)."
    )
    workers: int = Field(
        1, ge=1, description="Server processes on the port; each keeps its own pool state (like Envoy workers)."
    )
    admin_token_env: str | None = Field(
        None,
        description="Env var holding the token that admin calls require: cache flush and invalidation, and (once "
        "set) the read-only views too (/api/v1/status, decisions, summary, policy), which show prompts' fields and "
        "system prompts. /metrics, /health and /ready stay open.",
    )
    read_token_env: str | None = Field(
        None,
        description="Env var holding a second token that opens the read-only views only (a dashboard viewer's): "
        "the admin token opens them too.",
    )


class BanditConfig(_Strict):
    """Thompson sampling over a decision's candidates from outcomes (semrouter.decide.bandit)."""

    prior: Literal["scores", "learned"] = Field(
        "scores",
        description="Where a model starts before any outcome: its configured score, or the learned selector's "
        "P(good answer) for each request (the bandit then learns each model's offset from it).",
    )
    max_explore: float = Field(0.1, ge=0, le=1, description="Most share of recent picks that may explore.")
    decay: float = Field(0.97, gt=0, le=1, description="Evidence kept per update: old outcomes fade.")
    prior_strength: float = Field(2.0, gt=0, description="Pseudo-outcomes the prior is worth.")


class PoolAwareConfig(_Strict):
    """Prefer the candidate whose endpoints have capacity now, when quality is close (semrouter.decide.pool)."""

    margin: float = Field(0.05, ge=0, description="Candidates within this utility of the best count as equal.")
    latency_slo_ms: float | None = Field(
        None, gt=0, description="Rule out models whose recent latency exceeds this (unless none is left)."
    )
    stale_s: float = Field(
        5.0, gt=0, description="A latency sample older than this no longer counts: the model gets a request again."
    )


class SelectionConfig(_Strict):
    algorithm: Literal["static", "cost_aware", "learned", "bandit"] = "static"
    cost_weight: float = Field(
        0.5,
        ge=0,
        description="cost_aware: how much a model's relative price lowers its quality score; learned: how much "
        "P(good answer) the dearest candidate's price is worth (semrouter.decide.learned).",
    )
    selector: str | None = Field(None, description="learned: a `semrouter train selector` .npz; default: shipped.")
    tiers: dict[str, str] = Field(
        default_factory=dict,
        description="learned: model name -> the selector's outcome column (shipped: weak, strong); "
        "unnamed candidates are matched cheapest to weak, dearest to strong.",
    )
    bandit: BanditConfig = Field(default_factory=BanditConfig)
    pool_aware: PoolAwareConfig | None = Field(
        None, description="Any algorithm: among near-equal candidates prefer the one with capacity now."
    )


class BanditStoreConfig(_Strict):
    """A Redis/Valkey server the replicas share for the bandits' evidence and the feedback request map
    (semrouter.decide.shared)."""

    url: str | None = Field(
        None, description="redis://[:password@]host:port/db; unset: the cache's (cache.backend must be redis)."
    )
    password_env: str | None = Field(None, description="Env var holding the password; unset with no url: the cache's.")
    prefix: str = Field("semrouter:bandit", min_length=1, description="Key prefix of everything stored.")
    sync_interval_s: float = Field(1.0, gt=0, description="How often the merged evidence is read back.")
    timeout_s: float = Field(1.0, gt=0, description="Socket timeout of a store call (off the request path).")


class FeedbackConfig(_Strict):
    """POST /api/v1/feedback and the implicit outcomes that teach the bandit (semrouter.decide.feedback)."""

    enabled: bool = True
    token_env: str | None = Field(
        None, description="Env var holding the token feedback calls need; unset: the admin's."
    )
    state_path: str | None = Field(
        None, description="JSON file of the bandits' state: loaded at start, saved on stop and every save_interval_s."
    )
    save_interval_s: float = Field(60.0, gt=0)
    store: BanditStoreConfig | None = Field(
        None, description="Share evidence and the request map with other replicas through Redis/Valkey."
    )
    max_requests: int = Field(10000, ge=16, description="Recent requests feedback can still name.")
    ttl_s: float = Field(3600.0, gt=0, description="How long a request can still get feedback.")
    reask_window_s: float = Field(
        120.0, ge=0, description="The same question again in a session within this many seconds: the first failed."
    )
    weight_success: float = Field(0.3, ge=0, description="Implicit: a complete 2xx answer (counts at the prior).")
    weight_error: float = Field(1.0, ge=0, description="Implicit: upstream error, 5xx, timeout, no endpoint.")
    weight_truncated: float = Field(0.5, ge=0, description="Implicit: finish_reason length, or an empty answer.")
    weight_reask: float = Field(1.0, ge=0, description="Implicit: the question asked again (fails the earlier answer).")
    weight_explicit: float = Field(1.0, ge=0, description="A rating or label sent to /api/v1/feedback.")


class ToolSelectionConfig(_Strict):
    """Trim a request's ``tools`` to those relevant to it (by embedding similarity)."""

    enabled: bool = True
    top_k: int = Field(5, ge=1)
    threshold: float = Field(0.2, ge=-1, le=1, description="Minimum similarity of request and tool.")
    catalog: list[dict[str, Any]] = Field(
        default_factory=list, description="OpenAI tool objects that may be added when relevant."
    )


class RoutingConfig(_Strict):
    virtual_models: list[str] = Field(default_factory=lambda: ["auto"], min_length=1)
    explicit_models: Literal["allow", "deny"] = "allow"
    default_decision: str = "default"
    selection: SelectionConfig = Field(default_factory=SelectionConfig)
    feedback: FeedbackConfig = Field(default_factory=FeedbackConfig)


class EndpointConfig(_Strict):
    url: HttpUrl
    weight: float = Field(1.0, gt=0)
    api_key_env: str | None = Field(None, description="Name of the env var holding this endpoint's API key.")
    served_model: str | None = Field(None, description="Model name the endpoint expects, when it differs.")

    @field_validator("url")
    @classmethod
    def _plain_base_url(cls, url: HttpUrl) -> HttpUrl:
        """A base URL only: credentials belong in api_key_env, and a query or fragment would be dropped."""
        if url.username or url.password:
            raise ValueError("put credentials in api_key_env, not in the URL")
        if url.query or url.fragment:
            raise ValueError("the endpoint URL must not have a query or fragment")
        return url

    @field_validator("api_key_env")
    @classmethod
    def _key_is_set(cls, name: str | None) -> str | None:
        """A missing secret must stop the config, not silently forward the client's own credentials."""
        if name is not None and not os.environ.get(name):
            raise ValueError(f"environment variable {name} (the endpoint's API key) is not set")
        return name


PolicyName = Literal["round_robin", "weighted", "least_outstanding", "session", "prefix"]


class Pricing(_Strict):
    prompt_per_1m: float = Field(0.0, ge=0)
    completion_per_1m: float = Field(0.0, ge=0)


class ModelConfig(_Strict):
    name: str = Field(min_length=1)
    family: str | None = Field(None, description="Reasoning dialect family, a key of reasoning_families.")
    endpoints: list[EndpointConfig] = Field(min_length=1)
    policy: PolicyName | None = Field(None, description="Overrides pool.policy for this model.")
    fallback: list[str] = Field(default_factory=list, description="Models tried when all endpoints are down.")
    pricing: Pricing = Field(default_factory=Pricing)
    pii: PiiPolicy | None = Field(None, description="PII policy for requests sent to this model.")
    harmful: HarmfulPolicy | None = Field(None, description="Harmful-request policy for requests sent to this model.")
    context_window: int | None = Field(
        None, ge=1, description="Tokens the model takes (prompt + answer); selection skips it for longer requests."
    )
    api: Literal["chat", "responses"] = Field(
        "chat",
        description="What the workers speak beside chat completions: 'responses' sends /v1/responses clients' "
        "requests to them as /v1/responses (relayed untranslated); other clients still go as chat (docs/apis.md).",
    )


class EjectionConfig(_Strict):
    consecutive_failures: int = Field(3, ge=1)
    base_seconds: float = Field(10.0, gt=0)
    max_seconds: float = Field(300.0, gt=0)


class HealthCheckConfig(_Strict):
    enabled: bool = True
    path: str = Field("/health", pattern=r"^/[^\s?#]*$", description="Probed with GET on every endpoint.")
    interval_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(2.0, gt=0)
    unhealthy_after: int = Field(2, ge=1, description="Consecutive failed checks before marking unhealthy.")


class PrefixConfig(_Strict):
    block_chars: int = Field(64, ge=8)
    max_blocks: int = Field(64, ge=1, description="Prompt blocks considered per request.")
    table_size: int = Field(8192, ge=16, description="Block hashes remembered per endpoint (LRU).")
    imbalance: int = Field(8, ge=0, description="Outstanding-request gap beyond which load wins over prefix.")


class PoolConfig(_Strict):
    policy: PolicyName = "round_robin"
    session_header: str = "x-session-id"
    max_retries: int = Field(2, ge=0, description="Extra attempts on other endpoints for connect errors, 502, 503.")
    timeout_s: float = Field(120.0, gt=0, description="Until the upstream response headers arrive.")
    stream_idle_timeout_s: float = Field(120.0, gt=0, description="Longest silence between streamed chunks.")
    connect_timeout_s: float = Field(5.0, gt=0)
    ejection: EjectionConfig = Field(default_factory=EjectionConfig)
    health_check: HealthCheckConfig = Field(default_factory=HealthCheckConfig)
    prefix: PrefixConfig = Field(default_factory=PrefixConfig)


class ReasoningFamily(_Strict):
    """How one model family switches reasoning: a dotted body path and what to write there."""

    path: str = Field(description="Dotted request-body path, e.g. chat_template_kwargs.enable_thinking.")
    kind: Literal["bool", "effort"]
    off_value: str | None = Field(
        None, description="For effort families: value when reasoning is off; None removes it."
    )


def default_families() -> dict[str, ReasoningFamily]:
    return {
        "qwen3": ReasoningFamily(path="chat_template_kwargs.enable_thinking", kind="bool"),
        "deepseek": ReasoningFamily(path="chat_template_kwargs.thinking", kind="bool"),
        "gpt-oss": ReasoningFamily(path="reasoning_effort", kind="effort", off_value="low"),
        "openai": ReasoningFamily(path="reasoning_effort", kind="effort", off_value=None),
    }


class ReasoningPolicy(_Strict):
    client_fields: Literal["respect", "override"] = Field(
        "override", description="Whether a client's own reasoning fields win over the decision."
    )


class SystemPrompt(_Strict):
    text: str = Field(min_length=1)
    mode: Literal["insert", "replace", "append"] = "insert"


class ModelScore(_Strict):
    model: str
    score: float = Field(1.0, ge=0)


CascadeCue = Literal["low_logprob", "refusal", "empty", "truncated", "disagreement", "error"]
DEFAULT_CASCADE_CUES: tuple[CascadeCue, ...] = ("low_logprob", "refusal", "empty", "truncated", "error")


class CascadeConfig(_Strict):
    """Cheap model first, a stronger one when the answer looks unreliable (semrouter.upstream.cascade)."""

    models: list[str] = Field(
        default_factory=list,
        description="Tried in order, cheapest first; empty: the decision's candidates ordered by price.",
    )
    escalate_on: list[CascadeCue] = Field(
        default_factory=lambda: list(DEFAULT_CASCADE_CUES),
        description="What makes an answer unreliable; disagreement asks the cheap model twice (non-streamed only).",
    )
    min_mean_logprob: float = Field(
        -1.0, le=0, description="low_logprob: escalate when the answer's mean token log-probability is below this."
    )
    refusal_patterns: list[str] | None = Field(None, description="Regexes (case-insensitive); none: the built-in.")
    min_agreement: float = Field(
        0.5, ge=0, le=1, description="disagreement: least word-set overlap (Jaccard) of the two cheap samples."
    )
    request_logprobs: bool = Field(
        True, description="Ask cheaper models for logprobs (removed from the answer unless the client asked)."
    )
    stream_window_tokens: int = Field(
        24, ge=1, le=4096, description="Streams: content tokens held back and judged before anything is sent."
    )
    stream_window_bytes: int = Field(32768, ge=256, le=1048576, description="Streams: bytes held back at most.")


class DecisionConfig(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    priority: int = 0
    category: str | None = Field(None, description="Category reported for requests taking this decision.")
    models: list[ModelScore] = Field(min_length=1)
    use_reasoning: bool = False
    reasoning_effort: Literal["low", "medium", "high"] = "medium"
    system_prompt: SystemPrompt | None = None
    rules: Rule | None = Field(None, description="When this decision applies; none: only as the default.")
    selection: SelectionConfig | None = Field(None, description="Overrides routing.selection.")
    tools: ToolSelectionConfig | None = None
    pii: PiiPolicy | None = Field(None, description="PII policy for this decision (wins over the model's).")
    jailbreak: JailbreakPolicy | None = None
    harmful: HarmfulPolicy | None = Field(None, description="Harmful-request policy (wins over the model's).")
    cache: DecisionCachePolicy | None = None
    cascade: CascadeConfig | None = Field(None, description="Try cheaper models first (HTTP proxy only).")


class ReloadConfig(_Strict):
    enabled: bool = True
    interval_s: float = Field(1.0, gt=0)


class ExtProcConfig(_Strict):
    """``semrouter extproc``: the Envoy external processor (Envoy calls the workers, semrouter decides)."""

    host: str = "127.0.0.1"
    port: int = Field(50051, ge=0, le=65535)
    routing_header: str = Field(
        "x-selected-model",
        pattern=r"^[A-Za-z0-9-]+$",
        description="Request header set to the chosen model; Envoy's route table matches on it.",
    )
    response_body: Literal["auto", "streamed", "buffered", "none"] = Field(
        "auto",
        description="How Envoy shows semrouter the answer (asked per request with a mode override): streamed keeps "
        "the client's stream flowing; buffered holds the whole answer in Envoy first; none leaves it to Envoy "
        "(response callbacks then see only the status); auto: streamed when a stage needs the body, else none.",
    )
    response_phase: Literal["auto", "always"] = Field(
        "auto",
        description="Whether Envoy shows semrouter each answer's headers (one more gRPC round trip per request). "
        "auto: only when something reads the answer (a stage that wants its body, online learning); otherwise the "
        "x-vsr-* headers reach the client through dynamic metadata that the shipped Envoy configs copy into the "
        "answer, and the answer's status is Envoy's to record. always: every answer, for its status in the "
        "decision log and metrics, or for an Envoy config that does not copy the metadata.",
    )
    grace_period_s: float = Field(10.0, ge=0, description="On SIGTERM: how long in-flight requests may finish.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Processes serving the ext_proc and operator ports together (SO_REUSEPORT; `--workers`). Envoy "
        "spreads its streams over them only with several gRPC connections: see deploy/envoy/README.md.",
    )
    grpc_server: Literal["native", "grpcio"] = Field(
        "native",
        description="native: semrouter's small HTTP/2 gRPC server (a fraction of grpcio's cost per stream); "
        "grpcio: the grpcio asyncio server (`--grpc-server`).",
    )
    http_port: int | None = Field(
        None,
        ge=1,
        le=65535,
        description="Also serve the operator HTTP routes (/metrics, /health, /ready, /api/v1/status, /api/v1/route, "
        "the dashboard) on this port of extproc.host, from the same process; off when unset (`--http-port`).",
    )

    @field_validator("routing_header")
    @classmethod
    def _lower(cls, name: str) -> str:
        return name.lower()


class RouterConfig(_Strict):
    server: ServerConfig = Field(default_factory=ServerConfig)
    routing: RoutingConfig = Field(default_factory=RoutingConfig)
    models: list[ModelConfig] = Field(min_length=1)
    pool: PoolConfig = Field(default_factory=PoolConfig)
    reasoning_families: dict[str, ReasoningFamily] = Field(default_factory=dict, validate_default=True)
    reasoning: ReasoningPolicy = Field(default_factory=ReasoningPolicy)
    signals: list[AnySignalConfig] = Field(default_factory=list)
    decisions: list[DecisionConfig] = Field(min_length=1)
    reload: ReloadConfig = Field(default_factory=ReloadConfig)
    guards: GuardsConfig = Field(default_factory=GuardsConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    extproc: ExtProcConfig = Field(default_factory=ExtProcConfig)
    observability: ObservabilityConfig = Field(default_factory=ObservabilityConfig)
    tenancy: TenancyConfig | None = Field(
        None, description="Virtual API keys, tenants and their limits (docs/tenants.md); none: open, as before."
    )
    sessions: SessionConfig = Field(default_factory=SessionConfig)

    @field_validator("reasoning_families")
    @classmethod
    def _merge_builtin_families(cls, value: dict[str, ReasoningFamily]) -> dict[str, ReasoningFamily]:
        """Built-in families are defaults; a config only lists the ones it adds or changes."""
        return {**default_families(), **value}

    @functools.cached_property
    def models_by_name(self) -> tuple[list[ModelConfig], dict[str, ModelConfig]]:
        """``models`` by name, and the list it was built from (see :meth:`model`)."""
        return self.models, {m.name: m for m in reversed(self.models)}  # the first of a name wins

    def model(self, name: str) -> ModelConfig | None:
        """The model named ``name``: a dict lookup, since every request asks several times."""
        built_from, by_name = self.models_by_name
        if built_from is not self.models:  # a model_copy(update=...) carries its original's index
            del self.__dict__["models_by_name"]
            by_name = self.models_by_name[1]
        return by_name.get(name)

    def decision(self, name: str) -> DecisionConfig | None:
        return next((d for d in self.decisions if d.name == name), None)

    def reference_errors(self) -> list[tuple[tuple[str | int, ...], str]]:
        """Cross-references pydantic cannot see: names that must point at something that exists."""
        errors: list[tuple[tuple[str | int, ...], str]] = []
        names = [m.name for m in self.models]
        known = set(names)
        for i, name in enumerate(names):
            if name in names[:i]:
                errors.append((("models", i, "name"), f"duplicate model name '{name}'"))
        for i, m in enumerate(self.models):
            if m.family is not None and m.family not in self.reasoning_families:
                errors.append(
                    (
                        ("models", i, "family"),
                        f"unknown family '{m.family}'; known: {sorted(self.reasoning_families)}",
                    )
                )
            for j, fb in enumerate(m.fallback):
                if fb not in known:
                    errors.append((("models", i, "fallback", j), f"unknown model '{fb}'"))
        store = self.routing.feedback.store
        if store is not None and store.url is None and self.cache.backend != "redis":
            errors.append(
                (
                    ("routing", "feedback", "store", "url"),
                    "set a url, or use cache.backend: redis (the bandit store then shares the cache's server)",
                )
            )
        for i, v in enumerate(self.routing.virtual_models):
            if v in known:
                errors.append((("routing", "virtual_models", i), f"'{v}' is also a configured model name"))
        dnames = [d.name for d in self.decisions]
        for i, d in enumerate(self.decisions):
            if d.name in dnames[:i]:
                errors.append((("decisions", i, "name"), f"duplicate decision name '{d.name}'"))
            for j, ms in enumerate(d.models):
                if ms.model not in known:
                    errors.append((("decisions", i, "models", j, "model"), f"unknown model '{ms.model}'"))
        snames = [sig.name for sig in self.signals]
        for i, name in enumerate(snames):
            if name in snames[:i]:
                errors.append((("signals", i, "name"), f"duplicate signal name '{name}'"))
        guard_on = {
            "pii": self.guards.pii.enabled,
            "jailbreak": self.guards.jailbreak.enabled,
            "harmful": self.guards.harmful.enabled,
        }
        for i, name in enumerate(snames):
            if name in guard_on:
                errors.append((("signals", i, "name"), f"'{name}' is reserved for the guard of that name"))
        usable = set(snames) | {name for name, on in guard_on.items() if on}
        for i, d in enumerate(self.decisions):
            for name in sorted(d.rules.signals() - usable if d.rules else ()):
                hint = f" (enable guards.{name})" if name in guard_on else ""
                listed = sorted(usable)
                errors.append((("decisions", i, "rules"), f"unknown signal '{name}'{hint}; configured: {listed}"))
        errors += self._harmful_policy_errors(known)
        errors += tenancy_reference_errors(self)
        errors += self._cascade_errors(known)
        if self.routing.default_decision not in dnames:
            errors.append((("routing", "default_decision"), f"no decision named '{self.routing.default_decision}'"))
        return errors

    def _cascade_errors(self, known: set[str]) -> list[tuple[tuple[str | int, ...], str]]:
        """A cascade needs two known models that take the same request: one reasoning dialect and the same
        model-level guard policies (the guards applied the selected model's)."""
        import re

        errors: list[tuple[tuple[str | int, ...], str]] = []
        for i, d in enumerate(self.decisions):
            c = d.cascade
            if c is None:
                continue
            path: tuple[str | int, ...] = ("decisions", i, "cascade")
            names = c.models or [m.model for m in d.models]
            for j, name in enumerate(c.models):
                if name not in known:
                    errors.append(((*path, "models", j), f"unknown model '{name}'"))
            if len(dict.fromkeys(names)) < 2:
                errors.append(((*path, "models"), "a cascade needs at least two different models"))
            cfgs = [m for m in (self.model(n) for n in names) if m is not None]
            if len({m.family for m in cfgs}) > 1:
                errors.append(((*path, "models"), "cascade models must share one reasoning family (or none)"))
            if len({(repr(m.pii), repr(m.harmful)) for m in cfgs}) > 1:
                errors.append(((*path, "models"), "cascade models must have the same model-level pii/harmful policy"))
            for j, pattern in enumerate(c.refusal_patterns or ()):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    errors.append(((*path, "refusal_patterns", j), f"invalid regex: {exc}"))
        return errors

    def _harmful_policy_errors(self, known: set[str]) -> list[tuple[tuple[str | int, ...], str]]:
        """Every safety_model names a model, and every 'route' action has one to go to (its own level's,
        else the global one)."""
        errors: list[tuple[tuple[str | int, ...], str]] = []
        g = self.guards.harmful
        levels: list[tuple[tuple[str | int, ...], HarmfulPolicy | None]] = [
            *((("models", i, "harmful"), m.harmful) for i, m in enumerate(self.models)),
            *((("decisions", i, "harmful"), d.harmful) for i, d in enumerate(self.decisions)),
        ]
        if g.safety_model is not None and g.safety_model not in known:
            errors.append((("guards", "harmful", "safety_model"), f"unknown model '{g.safety_model}'"))
        for path, p in levels:
            if p is None:
                continue
            if p.safety_model is not None and p.safety_model not in known:
                errors.append(((*path, "safety_model"), f"unknown model '{p.safety_model}'"))
            routed = sorted(c for c, a in (p.actions or {}).items() if a == "route")
            if routed and p.safety_model is None and g.safety_model is None:
                errors.append(((*path, "actions"), f"route for {', '.join(routed)} needs a safety_model"))
        return errors
