"""The router service: the current config snapshot, the fleet of endpoints and their lifecycles.

A :class:`Runtime` is an immutable snapshot (config, pipeline, pools). A request takes the snapshot
once at its start and keeps it to the end, so a reload swaps in a new snapshot atomically for new
requests while in-flight ones finish on the old one.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from semrouter.config.loader import ConfigError, load_config
from semrouter.config.reload import ConfigWatcher
from semrouter.config.schema import RouterConfig
from semrouter.decide.online import Learning
from semrouter.observe.recorder import Observer
from semrouter.pipeline import Pipeline, Stage
from semrouter.pool.pool import EndpointRegistry, ModelPool
from semrouter.stages import build_pipeline
from semrouter.tasks import cancel_and_wait
from semrouter.tenancy import TenancyState
from semrouter.upstream.client import UpstreamClient
from semrouter.upstream.forward import Forwarder

if TYPE_CHECKING:
    from semrouter.cache.service import CacheCounters, CacheService
    from semrouter.pool.endpoint import Endpoint

log = logging.getLogger("semrouter")


@dataclass(frozen=True, slots=True)
class Runtime:
    config: RouterConfig
    pipeline: Pipeline
    pools: dict[str, ModelPool]


class Router:
    def __init__(self, config: RouterConfig, config_path: str | os.PathLike[str] | None = None) -> None:
        self.config_path = config_path
        self.client = UpstreamClient(connect_timeout=config.pool.connect_timeout_s)
        self.fleet = EndpointRegistry(self.client)  # the endpoints of every model, across reloads
        self.forwarder = Forwarder(self.client)
        self.reloads_ok = 0
        self.reloads_failed = 0
        self.last_reload_error: str | None = None
        # The semantic cache outlives config snapshots: a reload keeps it (and its entries) unless the
        # backend settings change. None while the cache is disabled.
        self.cache: CacheService | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self.tenancy = TenancyState()  # tenants' limit counters and the session store, across reloads
        # the bandits' evidence, recent requests for feedback, endpoint latency: outlives config snapshots
        self.learning = Learning(config)
        self.runtime = self._build(config)
        self.observer = Observer(self, config)  # metrics, traces, decision log: outlives config snapshots
        self.observer.learning = self.learning  # each finished request's outcome teaches selection
        # (it sees this router only as its StateSource: cache_counters, endpoint_states, the reload counts)
        self._watcher: ConfigWatcher | None = None
        self.started = False  # start() has finished: model warmed, cache connected (or given up on)
        self._starting: asyncio.Task[Any] | None = None  # the task running start(), until it returns

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Router:
        return cls(load_config(path), path)

    def _cache_for(self, config: RouterConfig) -> CacheService | None:
        """The cache service ``config`` needs: the running one if its backend settings are unchanged."""
        if not config.cache.enabled:
            return None
        if self.cache is not None and self.cache.settings == config.cache.backend_settings():
            return self.cache
        from semrouter.cache.service import CacheService

        return CacheService.from_config(config.cache)

    def _build_pipeline(self, config: RouterConfig) -> tuple[Pipeline, CacheService | None]:
        """Build stages (which may load models and embed example phrases) and the cache backend if it
        changed; a config that validates but cannot be built is a ConfigError, and the running config stays."""
        cache: CacheService | None = None
        try:
            cache = self._cache_for(config)
            return build_pipeline(config, cache=cache), cache
        except Exception as exc:
            if cache is not None and cache is not self.cache:  # a backend built for a config that failed
                cache.close_unused()
            source = str(self.config_path) if self.config_path else "<config>"
            raise ConfigError(source, [f"{source}: cannot build the pipeline: {type(exc).__name__}: {exc}"]) from exc

    def _build(self, config: RouterConfig) -> Runtime:
        pipeline, self.cache = self._build_pipeline(config)
        pools = self.fleet.apply(config)
        self.learning.bind(pipeline.stages, self.fleet)
        return Runtime(config, pipeline, pools)

    def _swap_cache(self, cache: CacheService | None) -> None:
        """Make ``cache`` current; a replaced one is closed in the background once its stores drain."""
        old, self.cache = self.cache, cache
        if old is not None and old is not cache:
            task = asyncio.ensure_future(old.aclose())
            self._retiring.add(task)
            task.add_done_callback(self._retiring.discard)

    async def reload(self, config: RouterConfig) -> None:
        """Swap in a new config; requests already running keep the snapshot they started with.

        The pipeline is built on a worker thread (embedding example phrases can take a few hundred ms,
        which must not stall in-flight streams); only the swap runs on the event loop. Raises ConfigError
        (and counts a failed reload) when the new config cannot be built.
        """
        try:
            pipeline, cache = await asyncio.to_thread(self._build_pipeline, config)
        except ConfigError as exc:
            self._reload_failed(exc)
            raise
        pools = self.fleet.apply(config)
        self.learning.apply(config)
        self.learning.bind(pipeline.stages, self.fleet)
        self.runtime = Runtime(config, pipeline, pools)
        self._swap_cache(cache)
        self.observer.apply(config)
        self.reloads_ok += 1
        self.last_reload_error = None

    def _reload_failed(self, exc: ConfigError) -> None:
        self.reloads_failed += 1
        self.last_reload_error = str(exc)

    async def start(self) -> None:
        self._starting = asyncio.current_task()
        try:
            await self._start()
        finally:
            self._starting = None

    async def _start(self) -> None:
        self.fleet.start()
        self.observer.start()
        self.learning.start()
        cfg = self.runtime.config
        # Models load side by side, so start-up takes about the longest load (spaCy's, which holds the GIL
        # for most of its ~1 s) rather than their sum: ONNX session set-up and decompression release the GIL.
        loads: dict[str, Awaitable[Any]] = {}
        if any(s.type == "language" for s in cfg.signals):  # ~0.2 s (semrouter.lang), usually begun already
            from semrouter.lang import LanguageDetector

            loads["language model"] = asyncio.to_thread(LanguageDetector.shared)
        for stage in self.runtime.pipeline.stages:
            if type(stage).warm_up is not Stage.warm_up:
                loads[f"stage {stage.name}"] = asyncio.to_thread(stage.warm_up)
        if any(stage.uses_embedding for stage in self.runtime.pipeline.stages):
            loads["embedding model"] = self._warm_embedding()
        # The loads allocate objects that live as long as the process (~95k tracked at ready); the collector,
        # triggered by the allocations, kept walking them: ~60 ms of the GIL on the start-up path, one full
        # collection 40-50 ms of it. It runs once, below, when everything is loaded.
        t0 = time.perf_counter()
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            results = await asyncio.gather(*loads.values(), return_exceptions=True)
        finally:
            if gc_was_enabled:
                gc.enable()
        for what, result in zip(loads, results, strict=True):
            if isinstance(result, BaseException):  # each fails open per request and loads again there
                log.error("%s failed to load at start", what, exc_info=result)
        # Everything loaded so far (spaCy, the heads, the language model: ~110k objects) lives as long as the
        # process. A full collection walks all of it, 50-65 ms on the event loop at an unpredictable moment;
        # frozen, the collector only walks what requests allocate (a full collection then takes ~0.01 ms).
        gc.collect()
        gc.freeze()
        # a request before the cache is connected would bypass it (Milvus Lite takes ~2 s to open)
        if self.cache is not None and not await self.cache.wait_started():
            bound = self.cache.start_bound_s
            log.warning("cache backend not connected after %.0f s; serving without it until it is", bound)
        self.started = True
        # one line for operators: what this process loaded, and how long it took to be ready for traffic
        log.info(
            "ready: %d stages, loaded %s in %.2f s",
            len(self.runtime.pipeline.stages),
            ", ".join(loads) or "no models",
            time.perf_counter() - t0,
        )
        if self.config_path is not None and cfg.reload.enabled:
            self._watcher = ConfigWatcher(self.config_path, self.reload, self._reload_failed, cfg.reload.interval_s)
            self._watcher.start()

    async def _warm_embedding(self) -> None:
        """Load the embedding model and run it once, so the first request does not pay ~0.3 s for it. The
        warm-up pass follows its own load, beside the longer loads, rather than after all of them."""
        from semrouter.embed.service import EmbeddingService

        try:
            service = await asyncio.to_thread(EmbeddingService.default)
            await service.embed("warm-up")
        except Exception:  # signals fail open per request; serving must not depend on the model
            log.exception("embedding model failed to load; semantic signals will be skipped")

    async def stop(self) -> None:
        """Stop background loops, close connections, flush the decision log and traces.

        A stop can come while start() is still warming up: requests are served before readiness, so a
        SIGTERM can arrive that early. start() is cancelled first. Otherwise it would resume after the
        stop and start the config watcher on a router that is shutting down.
        """
        if self._starting is not None and self._starting is not asyncio.current_task():
            await cancel_and_wait(self._starting)
        if self._watcher is not None:
            await self._watcher.stop()
        await self.fleet.stop()
        await self.learning.stop()  # saves the bandits' state (routing.feedback.state_path)
        await self.client.aclose()
        if self._retiring:
            await asyncio.wait(list(self._retiring))
        if self.cache is not None:
            await self.cache.aclose()
        await self.tenancy.aclose()  # the shared limit counters' client (tenancy.counters: redis)
        await self.observer.stop()

    # -- what the observer's metrics read (semrouter.observe.sources.StateSource) ------------------

    def cache_counters(self) -> CacheCounters | None:
        return self.cache.counters() if self.cache is not None else None

    def endpoint_states(self) -> Iterable[Endpoint]:
        return self.fleet.endpoints

    def status(self) -> dict[str, Any]:
        """Operator view of the live state: config reloads and every endpoint's health and load."""
        now = time.monotonic()
        return {
            "config": {
                "path": str(self.config_path) if self.config_path else None,
                "reloads_ok": self.reloads_ok,
                "reloads_failed": self.reloads_failed,
                "last_reload_error": self.last_reload_error,
            },
            "stage_faults": self.runtime.pipeline.fault_count,
            "event_loop_lag_max_s": round(self.observer.loop_lag_max_s, 4),
            "retries": self.forwarder.retries,
            "endpoints": [
                {
                    "model": e.model,
                    "url": e.url,
                    "healthy": e.healthy,
                    "ejected_for_s": round(max(0.0, e.ejected_until - now), 3),
                    "outstanding": e.outstanding,
                    "requests": e.requests,
                    "failures": e.failures,
                }
                for e in self.fleet.endpoints
            ],
        }
