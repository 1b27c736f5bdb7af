"""Semantic-cache settings: the backend, what is cacheable, thresholds and TTLs (global, per category,
per decision — the most specific wins: decision, then category, then global)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from semrouter.config.base import Strict


class CategoryCachePolicy(Strict):
    threshold: float | None = Field(None, gt=0, le=1)
    ttl_s: float | None = Field(None, gt=0)
    max_entries: int | None = Field(None, ge=1, description="Quota: this category evicts its own entries first.")


class DecisionCachePolicy(Strict):
    enabled: bool | None = None
    threshold: float | None = Field(None, gt=0, le=1)
    ttl_s: float | None = Field(None, gt=0)


class MilvusSettings(Strict):
    uri: str = Field("./semrouter_cache.db", description="A local file (Milvus Lite) or http://host:19530.")
    token_env: str | None = Field(None, description="Env var holding the Milvus token, if the server needs one.")
    collection: str = "semrouter_cache"
    connect_timeout_s: float = Field(
        5.0, gt=0, description="Opening a connection (and creating the collection on first use); runs off-request."
    )
    retry_interval_s: float = Field(1.0, gt=0, description="After a failed connect, calls fail fast this long.")
    sweep_interval_s: float = Field(60.0, gt=0, description="How often expired rows are deleted (in the background).")
    index: Literal["flat", "hnsw", "ivf_flat"] = Field(
        "flat",
        description="flat: exact, scans the partition (the only choice that is exact; Milvus Lite has flat and "
        "ivf_flat); hnsw (servers) or ivf_flat: approximate, fast at millions of rows. Used when the collection "
        "is created.",
    )
    hnsw: HnswSettings = Field(default_factory=lambda: HnswSettings())
    ivf: IvfSettings = Field(default_factory=lambda: IvfSettings())


class HnswSettings(Strict):
    """An HNSW graph (redis backend, milvus ``index: hnsw``): bigger is more accurate and slower."""

    m: int = Field(16, ge=2, le=128, description="Links per node.")
    ef_construction: int = Field(200, ge=1, description="Candidate list while inserting.")
    ef_runtime: int = Field(
        200,
        ge=1,
        description="Candidate list while searching (recall vs. lookup time): at 1M entries in one partition the "
        "Redis index found the stored near-duplicate 0.92 / 0.98 / 0.99 of the time at 64 / 128 / 200, for a lookup "
        "p50 of 1.1 / 1.5 / 1.7 ms (docs/benchmarks.md).",
    )


class IvfSettings(Strict):
    """Milvus ``index: ivf_flat``: rows clustered into ``nlist`` lists; a search scans ``nprobe`` of them."""

    nlist: int = Field(1024, ge=1, le=65536)
    nprobe: int = Field(16, ge=1, le=65536)


class RedisSettings(Strict):
    """A Redis-protocol server with vector search (Redis Stack / Redis 8, or Valkey with a search module),
    shared by every replica (semrouter.cache.redis)."""

    url: str = Field("redis://127.0.0.1:6379/0", description="redis://[:password@]host:port/db, rediss:// for TLS.")
    password_env: str | None = Field(None, description="Env var holding the password, if the server needs one.")
    index: str = Field("semrouter_cache", description="The search index; entries are hashes under '<index>:'.")
    connect_timeout_s: float = Field(5.0, gt=0, description="Opening a connection; set-up runs off-request.")
    retry_interval_s: float = Field(1.0, gt=0, description="After a connection failure, calls fail fast this long.")
    sweep_interval_s: float = Field(60.0, gt=0, description="How often quotas are enforced (in the background).")
    max_connections: int = Field(
        32, ge=1, description="Per process; a call that finds none free within timeout_s fails."
    )
    hnsw: HnswSettings = Field(default_factory=HnswSettings)


class CircuitBreakerSettings(Strict):
    """When the backend keeps failing, stop asking it for a while instead of paying its timeout per request."""

    failures: int = Field(3, ge=1, description="Consecutive faults (timeouts or errors) that open the breaker.")
    backoff_s: float = Field(5.0, gt=0, description="How long the backend is skipped after the breaker opens.")
    max_backoff_s: float = Field(60.0, gt=0, description="The back-off doubles while probes keep failing, up to this.")


class VerifierSettings(Strict):
    """The pair check every cache candidate goes through before it is served (semrouter.cache.verify)."""

    enabled: bool = Field(
        True,
        description="Verify candidates with the shipped pair verifier (`model`); off: cosine threshold + lexical "
        "guard only.",
    )
    min_similarity: float = Field(
        0.70,
        gt=0,
        le=1,
        description="Cosine a candidate needs to be verified at all. With the verifier on, a lookup's floor is the "
        "lower of this and the policy's threshold: the verifier, not the cosine, decides.",
    )
    model: Literal["pair", "lexical"] = Field(
        "pair",
        description="pair: a three-layer cross-encoder reads both questions together "
        "(semrouter.cache.verify.PairModel; ~1.4 ms per candidate at p50 on a 2-core AVX-512 VNNI host, off the event "
        "loop); lexical: the 22-feature MLP "
        "(~0.3 ms, but it cannot tell a synonym from a swapped word). docs/benchmarks.md compares the two.",
    )
    threshold: float | None = Field(
        None, gt=0, lt=1, description="P(same question) a candidate needs; none: the asset's operating point."
    )


class FollowSettings(Strict):
    """A paraphrase routed to another decision than its stored original may adopt that decision and model and get
    the stored answer (semrouter.stages.cache): the same question then routes the same way."""

    enabled: bool = Field(
        True,
        description="When the request's own partition has no verified hit, look in its decision-free question "
        "partition (same tenant, user, API, conversation, tools, response format and parameters) for a verified "
        "duplicate stored under another decision and serve it under that decision. Each stored answer then takes "
        "two entries (its decision's and its question's). Off: lookups stay within the request's own decision.",
    )
    explicit_rules: bool = Field(
        False,
        description="Follow even when the request's own decision was chosen by a rule on a keyword, header or "
        "metadata signal that matched (off: such an explicit choice wins over the cache). Decisions whose rules "
        "name a header or metadata signal are never adopted: they gate on who asks, not on the question.",
    )


class CacheConfig(Strict):
    enabled: bool = False
    backend: Literal["memory", "milvus", "redis"] = "memory"
    threshold: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Cosine similarity a hit needs; a hit is also checked by semrouter.cache.match.compatible. "
        "0.80 was chosen on tests/data/cache_pairs.jsonl (scripts/cache_threshold.py): hit rate 0.93, no false hits. "
        "With the verifier on (the default), a lookup's floor is min(threshold, verifier.min_similarity) and the "
        "verifier decides.",
    )
    ttl_s: float = Field(3600.0, gt=0)
    max_entries: int = Field(100_000, ge=1)
    timeout_s: float = Field(0.05, gt=0, description="A slower lookup or store is abandoned (request served).")
    tenant_header: str = "x-tenant-id"
    scope: Literal["user", "tenant"] = Field(
        "user",
        description="Who shares cached answers. user: only requests with the same 'user' (or 'safety_identifier') "
        "field within a tenant, and requests without one among themselves; tenant: everyone in a tenant (more hits; "
        "right when answers never depend on who asks). The tenant (tenant_header) always separates.",
    )
    max_temperature: float = Field(
        0.7, ge=0, description="Requests sampling hotter than this are neither answered from nor stored in cache."
    )
    cache_finish_reasons: list[str] = Field(default_factory=lambda: ["stop"])
    categories: dict[str, CategoryCachePolicy] = Field(default_factory=dict)
    verifier: VerifierSettings = Field(default_factory=VerifierSettings)
    cross_decision: bool = Field(
        True,
        description="Key entries by what the decision does to the request (model, system prompt, reasoning, tools, "
        "every answer-shaping decision setting) instead of by its name, so a verified paraphrase that routing sent "
        "to another decision with the same effect still hits. Tenant, user, conversation, tools, response format "
        "and parameters stay in the key either way.",
    )
    follow: FollowSettings = Field(default_factory=FollowSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    circuit_breaker: CircuitBreakerSettings = Field(default_factory=CircuitBreakerSettings)

    def backend_settings(self) -> tuple[object, ...]:
        """What the backend is built from: a reload that changes none of it keeps the backend (and its
        entries); any change builds a new one. Thresholds, TTLs and the rest are read per request."""
        quotas = tuple(sorted((c, p.max_entries) for c, p in self.categories.items() if p.max_entries is not None))
        return (self.backend, self.max_entries, quotas, self.milvus, self.redis)
