"""Fixtures shared by the suite, and the split into two lanes.

``python -m pytest -q`` runs everything; ``python -m pytest -q -m "not slow"`` is the fast lane (unit tests,
no process, well under a minute). ``slow`` is given here, by rules that cannot drift: every test under
``tests/integration/`` (each file there starts the router, workers, Envoy, Milvus, Prometheus or a
browser) and every test that uses the process fixtures (``servers``, which ``start_router`` and
``start_worker`` build on). Slow tests elsewhere (a CLI subprocess, model training, a large evaluation
set) carry ``@pytest.mark.slow`` themselves; a test in the fast lane that starts a process anyway fails
and says so, so the lane cannot silently grow back into the slow one.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import Server, fake_worker, router, write_config

INTEGRATION = Path(__file__).parent / "integration"
PROCESS_FIXTURES = frozenset({"servers"})  # start_router, start_worker and every process helper use it
FAST_LANE = "not slow"


def _is_process_test(item: pytest.Item) -> bool:
    return item.path.is_relative_to(INTEGRATION) or bool(
        PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ()))
    )


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """In the fast lane, do not even import the integration modules (every test there is slow): their
    imports (the SDKs, Milvus, Playwright) cost seconds of a lane that has to stay under a minute."""
    if config.getoption("markexpr", "").strip() == FAST_LANE and collection_path == INTEGRATION:
        return True
    return None


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by mark
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if _is_process_test(item):
            item.add_marker(pytest.mark.slow)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Under ``SEMROUTER_TESTS_NO_SKIP=1`` (``scripts/test`` sets it once everything the tests need is
    installed) a skipped test fails the run: a green whole-suite run means every test ran."""
    if os.environ.get("SEMROUTER_TESTS_NO_SKIP") != "1" or session.exitstatus != pytest.ExitCode.OK:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter is not None else []
    if skipped:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        reporter.ensure_newline()
        reporter.write_line(
            f"SEMROUTER_TESTS_NO_SKIP=1: {len(skipped)} test(s) skipped although everything the suite needs "
            "is installed (see the SKIPPED lines for why): failing the run",
            red=True,
        )


@pytest.fixture(autouse=True)
def _fast_tests_start_no_process(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test not marked ``slow`` that starts a process fails, naming the command: mark it ``slow``."""
    if request.node.get_closest_marker("slow") is not None:
        return
    test = request.node.nodeid

    def refuse(self: subprocess.Popen[Any], args: Any, *rest: Any, **kwargs: Any) -> None:
        self._child_created = False  # type: ignore[attr-defined]  # what Popen.__del__ reads
        pytest.fail(f"{test} starts a process ({args!r}) but is not marked slow: mark it @pytest.mark.slow")

    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    """Servers started in a test; all stopped at teardown, whatever happened."""
    started: list[Server] = []
    yield started
    for s in started:
        s.kill()


@pytest.fixture
def start_worker(servers: list[Server], tmp_path: Path) -> Callable[..., Server]:
    def start(model: str, *extra: str, port: int | None = None) -> Server:
        s = fake_worker(model, port, *extra, log=tmp_path / f"worker-{model}-{len(servers)}.log").start()
        servers.append(s)
        return s

    return start


@pytest.fixture
def start_router(servers: list[Server], tmp_path: Path) -> Callable[..., Server]:
    def start(
        config: dict[str, Any], env: dict[str, str] | None = None, engine: str = "granian", log_level: str = "warning"
    ) -> Server:
        path = write_config(tmp_path / "router.yaml", config)
        s = router(path, env=env, log=tmp_path / "router.log", engine=engine, log_level=log_level).start()
        s.config_path = path  # type: ignore[attr-defined]
        servers.append(s)
        return s

    return start


def simple_config(models: dict[str, list[str]], **overrides: Any) -> dict[str, Any]:
    """A config with one endpoint list per model; the first model is the default decision's pick."""
    names = list(models)
    cfg: dict[str, Any] = {
        "models": [{"name": n, "endpoints": [{"url": u} for u in urls]} for n, urls in models.items()],
        "pool": {"health_check": {"interval_s": 0.5, "timeout_s": 1}},
        "decisions": [{"name": "default", "models": [{"model": names[0]}]}],
        "reload": {"interval_s": 0.2},
    }
    for key, value in overrides.items():
        cfg[key] = value
    return cfg


@pytest.fixture(params=["granian", "uvicorn"])
def engine(request: pytest.FixtureRequest) -> str:
    """Both HTTP engines run the same handler; transport-sensitive tests run on each."""
    return str(request.param)


TERSE_DECISION = {
    "name": "default",
    "models": [{"model": "small"}],
    "use_reasoning": False,
    "system_prompt": {"text": "You are terse.", "mode": "insert"},
}
"""The one decision of the client-API tests: the small model, reasoning off, a system prompt to find."""


@contextlib.contextmanager
def api_stack(
    tmp: Path, small: str, large: str, edit: Callable[[dict[str, Any]], None]
) -> Iterator[tuple[Server, Server, Server]]:
    """A router in front of two fake workers named ``small`` and ``large``, for the client-API tests
    (/v1/responses, /v1/messages): the client's reasoning fields stand, and the default decision routes to
    ``small`` with reasoning off and "You are terse." inserted; ``edit`` adjusts the config before start."""
    w_small = fake_worker(small, log=tmp / "small.log").start()
    w_large = fake_worker(large, log=tmp / "large.log").start()
    cfg = simple_config({small: [w_small.url], large: [w_large.url]})
    cfg["reasoning"] = {"client_fields": "respect"}  # a client's reasoning wish stands, as chat's fields do
    cfg["decisions"] = [{**TERSE_DECISION, "models": [{"model": small}]}]
    edit(cfg)
    r = router(write_config(tmp / "router.yaml", cfg), log=tmp / "router.log").start()
    try:
        yield r, w_small, w_large
    finally:
        for s in (r, w_small, w_large):
            s.stop()
