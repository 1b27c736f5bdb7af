from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from servers import Server, fake_worker, router, write_config


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
