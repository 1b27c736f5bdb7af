"""The configuration schema.

One YAML file describes models and their endpoints, the pool, decisions and server limits. Every model
forbids unknown keys so that a typo is an error with a line number, not a silently ignored setting.
"""

from __future__ import annotations

import os
from typing import Any, Literal

from pydantic import Field, HttpUrl, field_validator

from semrouter.cache.config import CacheConfig, DecisionCachePolicy
from semrouter.config.base import Strict as _Strict
from semrouter.decide.rules import Rule
from semrouter.guards.config import GuardsConfig, HarmfulPolicy, JailbreakPolicy, PiiPolicy
from semrouter.observe.config import ObservabilityConfig
from semrouter.signals.config import AnySignalConfig


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


class SelectionConfig(_Strict):
    algorithm: Literal["static", "cost_aware", "learned"] = "static"
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
    grace_period_s: float = Field(10.0, ge=0, description="On SIGTERM: how long in-flight requests may finish.")
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

    @field_validator("reasoning_families")
    @classmethod
    def _merge_builtin_families(cls, value: dict[str, ReasoningFamily]) -> dict[str, ReasoningFamily]:
        """Built-in families are defaults; a config only lists the ones it adds or changes."""
        return {**default_families(), **value}

    def model(self, name: str) -> ModelConfig | None:
        return next((m for m in self.models if m.name == name), None)

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
        if self.routing.default_decision not in dnames:
            errors.append((("routing", "default_decision"), f"no decision named '{self.routing.default_decision}'"))
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
