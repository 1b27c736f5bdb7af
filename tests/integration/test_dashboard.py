"""The web dashboard in headless Chromium: live decisions appear as requests flow, the policy graph draws
the configured decisions, and the playground shows the decision for a typed prompt (dry run).

Screenshots are test output: taken under the test's ``tmp_path`` and copied to ``build/test-output/dashboard/``
(ignored by git; pytest's own directories are pruned after a few runs). The one shown in the README,
``docs/img/dashboard.png``, is replaced only when ``SEMROUTER_UPDATE_DOCS=1``.
"""

from __future__ import annotations

import os
import shutil
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from servers import Server, http_json

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the test extra")
expect, sync_playwright = sync_api.expect, sync_api.sync_playwright

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
REPO = Path(__file__).resolve().parents[2]
DOCS_IMG = REPO / "docs" / "img" / "dashboard.png"
TEST_OUTPUT = REPO / "build" / "test-output" / "dashboard"
UPDATE_DOCS = os.environ.get("SEMROUTER_UPDATE_DOCS") == "1"
MATH = "What is the integral of x^2 from 0 to 3?"
NOVEL = "Can you recommend a good novel to read on holiday?"


def config(worker: str) -> dict[str, Any]:
    return {
        "models": [
            {
                "name": "qwen3-32b",
                "family": "qwen3",
                "endpoints": [{"url": worker}],
                "pricing": {"prompt_per_1m": 0.6, "completion_per_1m": 2.4},
            },
            {"name": "qwen3-8b", "family": "qwen3", "endpoints": [{"url": worker}], "fallback": ["qwen3-32b"]},
        ],
        "routing": {"default_decision": "general"},
        "pool": {"health_check": {"interval_s": 0.5, "timeout_s": 1}},
        "signals": [
            {"name": "domain", "type": "domain"},
            {"name": "code", "type": "keyword", "keywords": ["```", "stack trace"], "word_boundary": False},
        ],
        "decisions": [
            {
                "name": "math",
                "priority": 10,
                "rules": {"signal": "domain", "equals": "math"},
                "models": [{"model": "qwen3-32b", "score": 0.9}],
                "use_reasoning": True,
                "reasoning_effort": "high",
                "system_prompt": {"text": "You are a careful mathematician. Show your steps."},
            },
            {
                "name": "coding",
                "priority": 20,
                "rules": {"signal": "code"},
                "models": [{"model": "qwen3-32b", "score": 0.8}, {"model": "qwen3-8b", "score": 0.6}],
            },
            {"name": "general", "models": [{"model": "qwen3-8b"}]},
        ],
        "cache": {"enabled": True},
        "guards": {"pii": {"enabled": True, "action": "mask", "ner": False}},
    }


@pytest.fixture
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian chromium is not installed (apt-get install chromium; CI installs it)")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True)
        yield b
        b.close()


def open_dashboard(browser: Any, router: Server) -> tuple[Any, list[str]]:
    """A page on the router's dashboard, and the list its script errors are collected in."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(router.url + "/dashboard")
    return page, errors


def screenshot(page: Any, tmp_path: Path, name: str, full_page: bool = True) -> Path:
    """Save a screenshot (animations finished) under ``tmp_path`` and keep a copy in ``build/test-output``."""
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=full_page, animations="disabled")
    TEST_OUTPUT.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, TEST_OUTPUT / name)
    return path


def test_dashboard_live_policy_playground(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], browser: Any, tmp_path: Path
) -> None:
    worker = start_worker("w")
    router = start_router(config(worker.url))
    chat = router.url + "/v1/chat/completions"
    # history before the page opens comes from the ring
    assert http_json("POST", chat, {"model": "auto", "messages": [{"role": "user", "content": NOVEL}]})[0] == 200

    page, errors = open_dashboard(browser, router)
    rows = page.get_by_test_id("decisions").locator("tr")
    rows.first.wait_for()
    assert rows.count() == 1
    page.get_by_test_id("connection").filter(has_text="live").wait_for(timeout=10_000)
    expect(page.get_by_test_id("worker")).to_have_text(f"pid {router_pid(router)}")  # the one server worker
    expect(page.get_by_test_id("scope")).to_be_hidden()  # one worker: its decisions are all of them

    # live: decisions appear while requests flow
    for text in (MATH, MATH, NOVEL, "Here is a stack trace: ```Traceback```", MATH):
        assert http_json("POST", chat, {"model": "auto", "messages": [{"role": "user", "content": text}]})[0] == 200
    expect(rows).to_have_count(6, timeout=10_000)  # (the page's CSP forbids wait_for_function's eval)
    decisions = page.locator("[data-testid=decisions] tr").evaluate_all("rs => rs.map(r => r.dataset.decision)")
    assert decisions[0] == "math"  # newest first
    assert sorted(decisions) == ["coding", "general", "general", "math", "math", "math"]
    expect(page.get_by_test_id("stat-total")).to_have_text("6")
    screenshot(page, tmp_path, "live-full.png")
    live = screenshot(page, tmp_path, "live.png", full_page=False)  # the viewport: the README's picture
    if UPDATE_DOCS:
        shutil.copyfile(live, DOCS_IMG)

    # policy: the configured signals → decisions → models graph
    page.get_by_role("button", name="Routing policy").click()
    graph = page.get_by_test_id("policy-graph")
    graph.locator("[data-node='decision:math']").wait_for()
    nodes = graph.locator("g.node").evaluate_all("ns => ns.map(n => n.dataset.node)")
    assert {"decision:math", "decision:coding", "decision:general"} <= set(nodes)
    assert {"signal:domain", "signal:code", "signal:pii", "model:qwen3-32b", "model:qwen3-8b"} <= set(nodes)
    assert graph.locator("path.edge").count() == 2 + 3 + 1  # rule edges + model edges (coding has two models)
    assert "default" in (graph.locator("[data-node='decision:general']").get_attribute("class") or "")
    screenshot(page, tmp_path, "policy.png")

    # playground: a dry run shows decision, model, reasoning and the decision's system prompt
    page.get_by_role("button", name="Playground").click()
    before = len(worker.requests())
    page.get_by_test_id("prompt").fill("Solve the equation 3x + 7 = 22 for x.")
    page.get_by_test_id("route-button").click()
    page.get_by_test_id("result-decision").filter(has_text="math").wait_for(timeout=10_000)
    assert page.get_by_test_id("result-model").inner_text() == "qwen3-32b"
    assert page.locator("#r-reasoning").inner_text() == "on (high)"
    assert "careful mathematician" in page.locator("#r-system").inner_text()
    assert "domain" in page.locator("#r-signals").inner_text()
    assert len(worker.requests()) == before  # a dry run calls no worker
    screenshot(page, tmp_path, "playground.png")

    # and optionally the real answer, through the router
    page.locator("#want-answer").check()
    page.get_by_test_id("prompt").fill("Write a short poem about autumn leaves")  # new: not a cache hit
    page.get_by_test_id("route-button").click()
    page.get_by_test_id("answer").filter(has_text="Answer from w").wait_for(timeout=10_000)
    assert len(worker.requests()) == before + 1
    assert not errors, errors


def router_pid(router: Server) -> int:
    """The pid of the process serving requests: with one worker, the router process itself (granian and
    uvicorn serve in-process then)."""
    return int(http_json("GET", router.url + "/api/v1/decisions")[2]["worker"]["pid"])


def test_several_workers_the_page_says_whose_decisions_it_shows(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], browser: Any, tmp_path: Path
) -> None:
    """Each server worker keeps its own decision ring: the page shows one worker's, names it and says that
    Prometheus covers all; every row it shows comes from that worker, while /metrics counts every request."""
    worker = start_worker("w")
    cfg = {
        "models": [{"name": "m", "endpoints": [{"url": worker.url}]}],
        "signals": [{"name": "code", "type": "keyword", "keywords": ["stack trace"]}],
        "decisions": [
            {"name": "coding", "rules": {"signal": "code"}, "models": [{"model": "m"}]},
            {"name": "general", "models": [{"model": "m"}]},
        ],
        "routing": {"default_decision": "general"},
        "server": {"workers": 2},
    }
    router = start_router(cfg)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(router.url + "/dashboard")
    page.get_by_test_id("connection").filter(has_text="live").wait_for(timeout=10_000)
    scope = page.get_by_test_id("scope")
    expect(scope).to_be_visible()
    expect(scope).to_contain_text("one of 2 server workers")
    expect(scope).to_contain_text("Prometheus")
    pid = int(page.get_by_test_id("worker").inner_text().split()[2])  # "worker pid N · one of 2"
    rows = page.get_by_test_id("decisions").locator("tr")
    sent = 0
    while rows.count() == 0:  # each request is a new connection: the kernel spreads them over both workers
        assert sent < 60, "no request reached the page's worker"
        body = {"model": "auto", "messages": [{"role": "user", "content": f"hello {sent}"}]}
        assert http_json("POST", router.url + "/v1/chat/completions", body)[0] == 200
        sent += 1
        page.wait_for_timeout(100)
    for i in range(6):
        body = {"model": "auto", "messages": [{"role": "user", "content": f"hello again {i}"}]}
        assert http_json("POST", router.url + "/v1/chat/completions", body)[0] == 200
        sent += 1
    page.wait_for_timeout(500)
    shown = page.locator("[data-testid=decisions] tr").evaluate_all("rs => rs.map(r => Number(r.dataset.worker))")
    assert shown and set(shown) == {pid}
    screenshot(page, tmp_path, "two-workers.png", full_page=False)
    with urllib.request.urlopen(router.url + "/metrics", timeout=5) as r:
        metrics = r.read().decode()
    counted = sum(
        float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines() if line.startswith("semrouter_requests_total{")
    )
    assert counted == sent  # the metrics cover both workers
    assert not errors, errors


def test_dashboard_is_read_only(start_worker: Callable[..., Server], start_router: Callable[..., Server]) -> None:
    """The dashboard's APIs only read; the one state change it offers (cache flush) needs the admin token."""
    worker = start_worker("w")
    router = start_router(config(worker.url))
    status, _, policy = http_json("GET", router.url + "/api/v1/policy")
    assert status == 200 and [d["name"] for d in policy["decisions"]] == ["math", "coding", "general"]
    assert http_json("POST", router.url + "/api/v1/cache/flush")[0] == 403  # no admin token configured
    assert http_json("POST", router.url + "/api/v1/decisions")[0] == 404  # nothing to write
    with urllib.request.urlopen(router.url + "/dashboard", timeout=5) as r:
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert b"/dashboard/app.js" in r.read()


def test_dashboard_asks_for_the_token_once_one_is_configured(
    start_worker: Callable[..., Server], start_router: Callable[..., Server], browser: Any
) -> None:
    """Issue 15.5: with an admin token set, the views behind the page need a token; the page asks for it
    (a viewer's read token suffices), then shows the live stream and the policy like before."""
    worker = start_worker("w")
    cfg = {
        **config(worker.url),
        "server": {"admin_token_env": "SEMROUTER_TEST_ADMIN", "read_token_env": "SEMROUTER_TEST_READ"},
    }
    router = start_router(cfg, env={"SEMROUTER_TEST_ADMIN": "admin-secret", "SEMROUTER_TEST_READ": "read-secret"})
    chat = router.url + "/v1/chat/completions"
    assert http_json("POST", chat, {"model": "auto", "messages": [{"role": "user", "content": NOVEL}]})[0] == 200
    page, errors = open_dashboard(browser, router)
    page.locator("#read-token").wait_for()  # asked for, nothing shown yet
    assert page.get_by_test_id("decisions").locator("tr").count() == 0
    page.locator("#read-token").fill("read-secret")
    page.locator("#login-go").click()
    page.get_by_test_id("connection").filter(has_text="live").wait_for(timeout=10_000)
    expect(page.get_by_test_id("decisions").locator("tr")).to_have_count(1, timeout=10_000)
    expect(page.locator("#login")).to_be_hidden()
    page.get_by_role("button", name="Routing policy").click()
    page.get_by_test_id("policy-graph").locator("[data-node='decision:math']").wait_for()
    assert not errors, errors
