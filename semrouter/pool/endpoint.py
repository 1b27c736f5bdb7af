"""One upstream endpoint and its live state (load, failures, ejection, health).

State lives on the endpoint object and survives config reloads (the pool reuses the object for the
same model and URL), so a reload neither forgets an ejection nor resets load counters.
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict

from semrouter.config.schema import EjectionConfig, EndpointConfig


class Endpoint:
    def __init__(self, model: str, cfg: EndpointConfig) -> None:
        self.model = model
        self.url = str(cfg.url).rstrip("/")
        self.outstanding = 0
        self.consecutive_failures = 0
        self.ejections = 0  # in a row (the back-off exponent); reset by a success
        self.ejections_total = 0  # ever, for metrics
        self.ejected_until = 0.0
        self.healthy = True  # set by active health checks
        self.health_failures = 0
        self.requests = 0
        self.failures = 0
        self.prefix_blocks: OrderedDict[int, None] = OrderedDict()
        self.update(cfg)

    def update(self, cfg: EndpointConfig) -> None:
        self.weight = cfg.weight
        self.served_model = cfg.served_model
        self.api_key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None

    def available(self, now: float) -> bool:
        return self.healthy and now >= self.ejected_until

    def record_success(self) -> None:
        self.consecutive_failures = 0
        self.ejections = 0

    def record_failure(self, ejection: EjectionConfig, now: float | None = None) -> bool:
        """Count a failure; eject (with exponential back-off) after N in a row. True if ejected now."""
        self.failures += 1
        self.consecutive_failures += 1
        if self.consecutive_failures < ejection.consecutive_failures:
            return False
        now = time.monotonic() if now is None else now
        duration = min(ejection.base_seconds * 2 ** min(self.ejections, 32), ejection.max_seconds)
        self.ejected_until = now + duration
        self.ejections += 1
        self.ejections_total += 1
        self.consecutive_failures = 0
        return True

    def __repr__(self) -> str:
        return f"Endpoint({self.model!r}, {self.url!r}, outstanding={self.outstanding})"
