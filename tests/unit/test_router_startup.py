"""Router start-up: the collector is paused while the models load and is on again afterwards, whether the
start finished or was cancelled (a paused collector left behind would let cyclic garbage pile up for the
life of the process), and the loaded objects end up frozen."""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import threading

from conftest import simple_config

from semrouter.config.schema import RouterConfig
from semrouter.pipeline import Pipeline, Stage
from semrouter.router import Router


class _Probe(Stage):
    """A stage whose warm-up records whether the collector runs, and can be held until released."""

    name = "probe"

    def __init__(self) -> None:
        self.gc_enabled_during_warm_up: bool | None = None
        self.entered = threading.Event()
        self.release = threading.Event()

    def warm_up(self) -> None:
        self.gc_enabled_during_warm_up = gc.isenabled()
        self.entered.set()
        self.release.wait(5)


def _router_with(probe: _Probe) -> Router:
    router = Router(RouterConfig.model_validate(simple_config({"m1": ["http://127.0.0.1:9"]})))
    stages = (*router.runtime.pipeline.stages, probe)
    router.runtime = dataclasses.replace(router.runtime, pipeline=Pipeline(stages))
    return router


async def test_collector_paused_during_loads_and_on_after_start() -> None:
    assert gc.isenabled()
    probe = _Probe()
    probe.release.set()
    router = _router_with(probe)
    frozen_before = gc.get_freeze_count()
    try:
        await router.start()
        assert probe.gc_enabled_during_warm_up is False
        assert gc.isenabled()
        assert router.started
        assert gc.get_freeze_count() > frozen_before  # what start-up loaded is out of the collector's walks
    finally:
        await router.stop()
        gc.unfreeze()


async def test_collector_back_on_when_start_is_cancelled_mid_load() -> None:
    assert gc.isenabled()
    probe = _Probe()
    router = _router_with(probe)
    start = asyncio.create_task(router.start())
    try:
        assert await asyncio.to_thread(probe.entered.wait, 5)
        assert not gc.isenabled()  # paused while the load runs
        await router.stop()  # cancels start() mid-load
        assert start.cancelled()
        assert gc.isenabled()
        assert not router.started
    finally:
        probe.release.set()
        gc.unfreeze()
