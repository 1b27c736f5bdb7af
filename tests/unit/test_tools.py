"""Tool selection: ranking by the shared embedding, top-k/threshold, pinned tools, catalog, header."""

from __future__ import annotations

from typing import Any

import orjson

from semrouter.config import parse_config
from semrouter.config.schema import ToolSelectionConfig
from semrouter.context import ApiKind, RequestContext
from semrouter.embed.service import EmbeddingService
from semrouter.enrich.tools import ToolVectorCache, called_tools, forced_tool, select_tools, tool_text
from semrouter.stages import build_pipeline
from semrouter.stages.tools import ToolStage


def tool(name: str, description: str, *params: str) -> dict[str, Any]:
    props = {p: {"type": "string"} for p in params}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": {"type": "object", "properties": props}},
    }


WEATHER = tool("get_weather", "Get the current weather forecast for a city", "city")
EMAIL = tool("send_email", "Send an email message to a recipient", "to", "subject", "body")
FLIGHTS = tool("search_flights", "Search for airline flights between two airports", "origin", "destination")
STOCKS = tool("get_stock_price", "Current stock market price for a ticker symbol", "ticker")
CALC = tool("calculator", "Evaluate an arithmetic expression", "expression")
TOOLS = [EMAIL, WEATHER, FLIGHTS, STOCKS, CALC]
WEATHER_Q = "What's the weather going to be like in Paris tomorrow? Should I bring an umbrella?"


async def vec(text: str) -> Any:
    return await EmbeddingService.default().embed(text)


def names(tools: list[dict[str, Any]]) -> list[str]:
    return [t["function"]["name"] for t in tools]


async def test_relevant_tool_ranks_first_and_irrelevant_ones_fall_below_threshold():
    sel = await select_tools(await vec(WEATHER_Q), TOOLS, ToolSelectionConfig(top_k=3, threshold=0.25))
    assert sel.selected == ["get_weather"]
    assert max(sel.scores, key=lambda n: sel.scores[n]) == "get_weather"
    assert sel.scores["get_weather"] >= 0.25 > max(v for n, v in sel.scores.items() if n != "get_weather")
    assert set(sel.scores) == set(names(TOOLS))


async def test_top_k_keeps_the_best_k_in_client_order():
    q = await vec("Find flights from Boston to Denver and send an email to Alice with the options")
    sel = await select_tools(q, TOOLS, ToolSelectionConfig(top_k=2, threshold=-1.0))
    best_two = sorted(sel.scores, key=lambda n: -sel.scores[n])[:2]
    assert set(best_two) == {"search_flights", "send_email"}
    assert sel.selected == ["send_email", "search_flights"]  # the client's order, not score order
    assert names(sel.tools) == sel.selected
    everything = await select_tools(q, TOOLS, ToolSelectionConfig(top_k=10, threshold=-1.0))
    assert everything.selected == names(TOOLS)


async def test_threshold_drops_everything_when_nothing_is_relevant():
    sel = await select_tools(await vec(WEATHER_Q), TOOLS, ToolSelectionConfig(top_k=5, threshold=0.95))
    assert sel.tools == [] and sel.selected == []
    forced = await select_tools(
        await vec(WEATHER_Q), TOOLS, ToolSelectionConfig(top_k=5, threshold=0.95), required=True
    )
    assert forced.selected == ["get_weather"]  # tool_choice "required": the best one survives


async def test_already_called_tool_is_never_dropped_and_does_not_use_top_k():
    sel = await select_tools(
        await vec(WEATHER_Q), TOOLS, ToolSelectionConfig(top_k=1, threshold=0.25), pinned={"send_email"}
    )
    assert sel.selected == ["send_email", "get_weather"]
    assert sel.pinned == ["send_email"]
    assert sel.scores["send_email"] < 0.25


async def test_catalog_adds_relevant_tools_only_and_never_duplicates():
    cfg = ToolSelectionConfig(top_k=5, threshold=0.25, catalog=[STOCKS, tool("get_weather", "duplicate"), CALC])
    q = await vec("What is Apple's stock trading at right now?")
    sel = await select_tools(q, [WEATHER], cfg)
    assert sel.added == ["get_stock_price"]
    assert names(sel.tools) == ["get_stock_price"]  # the client's weather tool is irrelevant here
    weather = await select_tools(await vec(WEATHER_Q), [WEATHER], cfg)
    assert names(weather.tools) == ["get_weather"] and weather.tools[0] is WEATHER  # the client's copy


async def test_unrankable_tools_are_kept_untouched():
    custom = {"type": "web_search_preview"}
    sel = await select_tools(await vec(WEATHER_Q), [custom, EMAIL], ToolSelectionConfig(threshold=0.25))
    assert sel.tools == [custom] and sel.selected == ["web_search_preview"]


async def test_tool_vectors_are_cached_by_text():
    cache = ToolVectorCache(maxsize=3)
    cfg = ToolSelectionConfig(threshold=-1.0)
    q = await vec(WEATHER_Q)
    first = await select_tools(q, [WEATHER, EMAIL], cfg, cache=cache)
    assert (cache.misses, cache.hits) == (2, 0)
    again = await select_tools(q, [EMAIL, WEATHER], cfg, cache=cache)
    assert (cache.misses, cache.hits) == (2, 2) and again.scores == first.scores
    await select_tools(q, [FLIGHTS, STOCKS], cfg, cache=cache)
    assert len(cache) == 3  # bounded: the least recently used text was evicted


def test_called_tools_and_forced_tool_parsing():
    messages = [
        {"role": "user", "content": "hi"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "1", "type": "function", "function": {"name": "send_email", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "1", "content": "sent"},
        {"role": "assistant", "content": None, "function_call": {"name": "legacy_fn", "arguments": "{}"}},
        {"role": "function", "name": "legacy_result", "content": "ok"},
    ]
    assert called_tools(messages) == {"send_email", "legacy_fn", "legacy_result"}
    assert called_tools("nonsense") == set()
    assert forced_tool({"type": "function", "function": {"name": "calculator"}}) == "calculator"
    assert forced_tool("auto") is None
    assert tool_text(WEATHER) == "get_weather: Get the current weather forecast for a city (parameters: city)"


# -- the stage in the real pipeline ------------------------------------------------------------------

CONFIG = parse_config(
    """
models:
  - name: m1
    endpoints: [{url: "http://127.0.0.1:9"}]
signals:
  - {name: notools, type: keyword, keywords: [plain]}
decisions:
  - name: default
    models: [{model: m1}]
    tools: {top_k: 2, threshold: 0.25, catalog: [STOCKS]}
  - name: plain
    rules: {signal: notools}
    models: [{model: m1}]
""".replace("STOCKS", orjson.dumps(STOCKS).decode())
)


async def run(body: dict[str, Any]) -> RequestContext:
    ctx = RequestContext(ApiKind.CHAT, orjson.dumps({"model": "auto", **body}), {}, CONFIG)
    assert await build_pipeline(CONFIG).run_request(ctx) is None
    return ctx


def user(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


async def test_stage_trims_body_and_sets_header():
    assert isinstance(build_pipeline(CONFIG).stages[-1], ToolStage)
    ctx = await run({"messages": user(WEATHER_Q), "tools": TOOLS, "tool_choice": "auto"})
    sent = orjson.loads(ctx.encoded_body())
    assert names(sent["tools"]) == ["get_weather"] and sent["tool_choice"] == "auto"
    assert ctx.tools_selected == ["get_weather"]
    assert ctx.routing_headers()["x-vsr-tools-selected"] == "get_weather"
    report = ctx.signals["tool_selection"]
    assert report.detail["selected"] == ["get_weather"] and set(report.detail["scores"]) >= set(names(TOOLS))


async def test_stage_keeps_called_and_forced_tools():
    messages = [
        *user("email Bob that I'm late"),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "send_email", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "sent"},
        *user(WEATHER_Q),
    ]
    choice = {"type": "function", "function": {"name": "calculator"}}
    ctx = await run({"messages": messages, "tools": TOOLS, "tool_choice": choice})
    kept = names(orjson.loads(ctx.encoded_body())["tools"])
    assert kept == ["send_email", "get_weather", "calculator"]
    assert ctx.routing_headers()["x-vsr-tools-selected"] == "send_email,get_weather,calculator"


async def test_stage_removes_tool_fields_when_nothing_is_kept_and_adds_from_catalog():
    ctx = await run({"messages": user("Tell me a joke about cats"), "tools": [FLIGHTS], "tool_choice": "auto"})
    sent = orjson.loads(ctx.encoded_body())
    assert "tools" not in sent and "tool_choice" not in sent  # an empty tools list is invalid upstream
    assert ctx.routing_headers()["x-vsr-tools-selected"] == ""
    ctx = await run({"messages": user("What is the Microsoft share price today?")})
    assert names(orjson.loads(ctx.encoded_body())["tools"]) == ["get_stock_price"]
    assert ctx.tools_selected == ["get_stock_price"]


async def test_stage_is_inactive_without_tool_config_or_tools():
    ctx = await run({"messages": user("plain " + WEATHER_Q), "tools": TOOLS})
    assert ctx.decision is not None and ctx.decision.name == "plain"
    assert names(orjson.loads(ctx.encoded_body())["tools"]) == names(TOOLS)
    assert "x-vsr-tools-selected" not in ctx.routing_headers()
    ctx = await run({"messages": user("Tell me a joke about cats")})  # no tools, nothing relevant in the catalog
    assert "tools" not in orjson.loads(ctx.encoded_body()) and ctx.tools_selected is None


def test_no_tool_stage_when_no_decision_enables_it():
    cfg = parse_config("""
models: [{name: m1, endpoints: [{url: "http://127.0.0.1:9"}]}]
decisions: [{name: default, models: [{model: m1}], tools: {enabled: false}}]
""")
    assert not any(isinstance(s, ToolStage) for s in build_pipeline(cfg).stages)
