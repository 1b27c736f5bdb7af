"""The ``tenancy`` and ``sessions`` config sections: virtual API keys, tenants' limits, session pinning.

Keys are never written in the config: only their sha256 hex digests, given inline, from an environment
variable or from a file of digests (one a line), so a config file in git or a ConfigMap leaks nothing a
client could call with. The digests are read when the config is loaded (and again at every reload), and
the index from digest to tenant is built then, so a request costs one sha256 and one dict lookup.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import re
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import Field, IPvAnyNetwork, PrivateAttr, model_validator

from semrouter.config.base import Strict

if TYPE_CHECKING:
    from semrouter.config.schema import RouterConfig

_HEX64 = re.compile(r"^[0-9a-f]{64}$")
NAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"


def key_digest(key: str | bytes) -> str:
    """The sha256 hex digest of an API key: what the config lists (``printf %s "$KEY" | sha256sum``)."""
    return hashlib.sha256(key.encode() if isinstance(key, str) else key).hexdigest()


class Budget(Strict):
    usd: float = Field(gt=0, description="Spend allowed per period, from the models' pricing and the answers' usage.")
    period: Literal["hour", "day", "month"] = Field(
        "day", description="Calendar period in UTC; the spend starts again at its start."
    )


class Limits(Strict):
    requests_per_minute: int | None = Field(None, ge=1)
    tokens_per_minute: int | None = Field(
        None, ge=1, description="Prompt + completion tokens: estimated before the call, corrected from usage after."
    )
    budget: Budget | None = None

    @property
    def empty(self) -> bool:
        return self.requests_per_minute is None and self.tokens_per_minute is None and self.budget is None


class ApiKey(Strict):
    """One key (``sha256``) or a set of keys (``sha256_env``, ``sha256_file``) with the same limits."""

    name: str | None = Field(
        None, pattern=NAME_PATTERN, description="A label for logs and errors; default: the digest's first 12 chars."
    )
    sha256: str | None = Field(None, description="sha256 hex digest of the key.")
    sha256_env: str | None = Field(None, description="Env var holding digests (comma, space or newline separated).")
    sha256_file: str | None = Field(None, description="File of digests, one a line ('#' starts a comment).")
    limits: Limits = Field(default_factory=Limits, description="Limits of each key of this entry, on its own.")

    @model_validator(mode="after")
    def _one_source(self) -> ApiKey:
        given = [s for s in (self.sha256, self.sha256_env, self.sha256_file) if s is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of sha256, sha256_env, sha256_file")
        return self

    def digests(self) -> list[str]:
        """The digests this entry stands for, checked: a malformed one is a config error, not a dead key."""
        if self.sha256 is not None:
            raw, where = self.sha256, "sha256"
        elif self.sha256_env is not None:
            value = os.environ.get(self.sha256_env)
            if not value:
                raise ValueError(f"environment variable {self.sha256_env} (API key digests) is not set")
            raw, where = value.replace(",", " "), f"${self.sha256_env}"
        else:
            assert self.sha256_file is not None
            try:
                text = Path(self.sha256_file).read_text()
            except OSError as exc:
                raise ValueError(f"cannot read sha256_file {self.sha256_file}: {exc.strerror}") from None
            raw = " ".join(line.split("#", 1)[0] for line in text.splitlines())
            where = self.sha256_file
        out = [d.strip().lower() for d in raw.split()]
        bad = [d for d in out if not _HEX64.match(d)]
        if bad:
            raise ValueError(f"{where}: not a sha256 hex digest (64 hex chars): {bad[0][:16]!r}")
        if not out:
            raise ValueError(f"{where}: no digests")
        return out


class Tenant(Strict):
    name: str = Field(pattern=NAME_PATTERN)
    keys: list[ApiKey] = Field(default_factory=list, description="None: only a trusted tenant header names it.")
    models: list[str] | None = Field(None, description="Models it may use (explicitly or by routing); None: all.")
    decisions: list[str] | None = Field(None, description="Decisions its routed requests may take; None: all.")
    limits: Limits = Field(default_factory=Limits, description="Limits of the whole tenant, all its keys together.")


@dataclass(frozen=True, slots=True)
class KeyEntry:
    """What one key digest maps to."""

    tenant: Tenant
    digest: str
    label: str
    limits: Limits


class TenancyConfig(Strict):
    tenants: list[Tenant] = Field(min_length=1)
    trusted_cidrs: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Clients (by peer address) whose tenant header (cache.tenant_header) is believed, with or "
        "without a key (an internal gateway that authenticated its users itself). Others' is ignored.",
    )
    counters: Literal["replica", "redis"] = Field(
        "replica",
        description="Where limit counters live: this replica's memory, or a Redis/Valkey server every replica "
        "shares (redis_url, else cache.redis.url).",
    )
    redis_url: str | None = Field(None, description="counters: redis: the server; default: cache.redis.url.")
    redis_timeout_s: float = Field(
        0.05, gt=0, description="counters: redis: deadline of one check; past it, this replica's own counters."
    )
    estimate_completion_tokens: int = Field(
        256, ge=0, description="Completion tokens reserved before the call when the request sets no max_tokens."
    )
    _index: dict[str, KeyEntry] = PrivateAttr(default_factory=dict)
    _by_name: dict[str, Tenant] = PrivateAttr(default_factory=dict)

    @model_validator(mode="after")
    def _build_index(self) -> TenancyConfig:
        if self.counters == "redis" and importlib.util.find_spec("redis") is None:
            raise ValueError("counters: redis needs the redis client: pip install 'semrouter[redis]'")
        names = [t.name for t in self.tenants]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate tenant name(s): {dup}")
        index: dict[str, KeyEntry] = {}
        for t in self.tenants:
            for k in t.keys:
                for d in k.digests():
                    if d in index:
                        raise ValueError(f"key digest {d[:12]}… is listed twice ({index[d].tenant.name}, {t.name})")
                    index[d] = KeyEntry(t, d, k.name or d[:12], k.limits)
        self._index = index
        self._by_name = {t.name: t for t in self.tenants}
        return self

    def lookup(self, key: bytes) -> KeyEntry | None:
        return self._index.get(key_digest(key))

    def tenant(self, name: str) -> Tenant | None:
        return self._by_name.get(name)

    def trusted(self, address: str | None) -> bool:
        """Whether a client at ``address`` (an IP, no port) may name its tenant by header."""
        if not address or not self.trusted_cidrs:
            return False
        from ipaddress import ip_address

        try:
            ip = ip_address(address)
        except ValueError:
            return False
        nets: list[IPv4Network | IPv6Network] = list(self.trusted_cidrs)
        return any(ip.version == n.version and ip in n for n in nets)


KeySource = Literal["header", "user", "history"]
KEY_SOURCES: tuple[KeySource, ...] = ("header", "user", "history")


class SessionConfig(Strict):
    """Session-stable routing (:mod:`semrouter.stages.session`)."""

    enabled: bool = False
    max_sessions: int = Field(100_000, ge=1, description="Conversations remembered per replica (least recent go).")
    ttl_s: float = Field(3600.0, gt=0, description="A conversation idle this long starts afresh.")
    key_from: list[KeySource] = Field(
        default_factory=lambda: list(KEY_SOURCES),
        min_length=1,
        description="Where a conversation's id comes from, first found wins: header (pool.session_header), the "
        "request's `user` field, history (a hash of the system prompt and first user message).",
    )


def reference_errors(cfg: RouterConfig) -> list[tuple[tuple[str | int, ...], str]]:
    """Tenants' allowed models and decisions must exist (a typo would lock a tenant out silently)."""
    if cfg.tenancy is None:
        return []
    errors: list[tuple[tuple[str | int, ...], str]] = []
    models = {m.name for m in cfg.models}
    decisions = {d.name for d in cfg.decisions}
    for i, t in enumerate(cfg.tenancy.tenants):
        for j, m in enumerate(t.models or ()):
            if m not in models:
                errors.append((("tenancy", "tenants", i, "models", j), f"unknown model '{m}'"))
        for j, d in enumerate(t.decisions or ()):
            if d not in decisions:
                errors.append((("tenancy", "tenants", i, "decisions", j), f"unknown decision '{d}'"))
    return errors
