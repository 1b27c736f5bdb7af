"""Endpoints per model, the policy that picks one, and active health checks.

The :class:`EndpointRegistry` outlives config reloads: :meth:`EndpointRegistry.apply` rebuilds per-model
pools from a new config but reuses :class:`Endpoint` objects (and so their load, ejection and health state) for every
(model, URL) pair that is still configured.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence

from semrouter.config.schema import ModelConfig, PoolConfig, RouterConfig
from semrouter.context import RequestContext
from semrouter.pool.endpoint import Endpoint
from semrouter.pool.policies import POLICIES, BalancePolicy
from semrouter.tasks import cancel_and_wait
from semrouter.upstream.client import UpstreamClient

log = logging.getLogger("semrouter.pool")


class ModelPool:
    def __init__(self, model: ModelConfig, endpoints: list[Endpoint], policy: BalancePolicy) -> None:
        self.model = model
        self.endpoints = endpoints
        self.policy = policy

    def pick(self, ctx: RequestContext, exclude: Sequence[Endpoint] = ()) -> Endpoint | None:
        now = time.monotonic()
        live = [e for e in self.endpoints if e.available(now) and e not in exclude]
        if not live:
            return None
        return live[0] if len(live) == 1 else self.policy.choose(live, ctx)

    def any_available(self) -> bool:
        now = time.monotonic()
        return any(e.available(now) for e in self.endpoints)


class EndpointRegistry:
    """Every configured endpoint of every model, kept across reloads, and the health checks over them.

    (Not :mod:`semrouter.devtools.fleet`, which launches replicas and workers on one machine.)
    """

    def __init__(self, client: UpstreamClient) -> None:
        self.client = client
        self._endpoints: dict[tuple[str, str], Endpoint] = {}
        self.pools: dict[str, ModelPool] = {}
        self.pool_config = PoolConfig()
        self._health_task: asyncio.Task[None] | None = None

    def apply(self, config: RouterConfig) -> dict[str, ModelPool]:
        """Build pools for ``config``; returns them so a runtime snapshot can hold its own view."""
        endpoints: dict[tuple[str, str], Endpoint] = {}
        pools: dict[str, ModelPool] = {}
        for m in config.models:
            members = []
            for ec in m.endpoints:
                key = (m.name, str(ec.url).rstrip("/"))
                ep = self._endpoints.get(key)
                if ep is None:
                    ep = Endpoint(m.name, ec)
                else:
                    ep.update(ec)
                endpoints[key] = ep
                members.append(ep)
            pools[m.name] = ModelPool(m, members, POLICIES[m.policy or config.pool.policy](config.pool))
        self._endpoints = endpoints
        self.pools = pools
        self.pool_config = config.pool
        return pools

    @property
    def endpoints(self) -> list[Endpoint]:
        return list(self._endpoints.values())

    # -- active health checks -------------------------------------------------------------------

    def start(self) -> None:
        if self._health_task is None:
            self._health_task = asyncio.create_task(self._health_loop(), name="semrouter-health")

    async def stop(self) -> None:
        await cancel_and_wait(self._health_task)
        self._health_task = None

    async def check_once(self) -> None:
        hc = self.pool_config.health_check
        if not hc.enabled:
            for e in self._endpoints.values():
                e.healthy = True
            return
        by_url: dict[str, list[Endpoint]] = {}
        for e in self._endpoints.values():
            by_url.setdefault(e.url, []).append(e)
        results = await asyncio.gather(
            *(self._probe(url, hc.path, hc.timeout_s, eps[0].api_key) for url, eps in by_url.items())
        )
        for (url, eps), ok in zip(by_url.items(), results, strict=True):
            for e in eps:
                if ok:
                    e.health_failures = 0
                    if not e.healthy:
                        log.info("endpoint %s is healthy again", url)
                    e.healthy = True
                else:
                    e.health_failures += 1
                    if e.healthy and e.health_failures >= hc.unhealthy_after:
                        log.warning("endpoint %s failed %d health checks", url, e.health_failures)
                        e.healthy = False

    async def _probe(self, url: str, path: str, timeout: float, api_key: str | None) -> bool:
        headers = [(b"authorization", b"Bearer " + api_key.encode())] if api_key else []  # hosted APIs need it
        try:
            resp = await self.client.request("GET", url + path, headers, b"", timeout=timeout, idle_timeout=timeout)
            try:
                await resp.read()
            finally:
                await resp.aclose()
            return 200 <= resp.status < 300
        except Exception:  # whatever goes wrong, this round's other probes must still count
            return False

    async def _health_loop(self) -> None:
        while True:
            try:
                await self.check_once()
            except Exception:  # a probe bug must not kill health checking
                log.exception("health check round failed")
            await asyncio.sleep(self.pool_config.health_check.interval_s)
