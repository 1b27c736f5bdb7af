"""Config validation names the field path and the line; `semrouter config validate` reports it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from semrouter.config import ConfigError, parse_config

GOOD = """\
models:
  - name: small
    family: qwen3
    endpoints:
      - url: http://127.0.0.1:8001
decisions:
  - name: default
    models: [{model: small}]
"""


def errors(text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        parse_config(text, "r.yaml")
    return exc.value.problems


def test_good_config_and_defaults():
    cfg = parse_config(GOOD)
    assert cfg.routing.virtual_models == ["auto"]
    assert cfg.pool.policy == "round_robin"
    assert set(cfg.reasoning_families) >= {"qwen3", "deepseek", "gpt-oss", "openai"}


def test_wrong_value_names_path_and_line():
    text = GOOD.replace("      - url: http://127.0.0.1:8001", "      - url: http://127.0.0.1:8001\n        weight: -2")
    assert errors(text) == ["r.yaml:6: models[0].endpoints[0].weight: Input should be greater than 0"]


def test_unknown_key_is_an_error():
    text = GOOD.replace("    family: qwen3", "    familly: qwen3")
    [e] = errors(text)
    assert e.startswith("r.yaml:3: models[0].familly: Extra inputs are not permitted")


def test_missing_field_points_at_parent():
    [e] = errors("models:\n  - name: x\ndecisions:\n  - name: d\n    models: [{model: x}]\n")
    assert e == "r.yaml:2: models[0].endpoints: Field required"


def test_cross_references_are_checked():
    text = GOOD.replace("models: [{model: small}]", "models: [{model: big}]").replace("family: qwen3", "family: llama")
    problems = errors(text)
    assert "r.yaml:3: models[0].family: unknown family 'llama'" in problems[0]
    assert problems[1] == "r.yaml:8: decisions[0].models[0].model: unknown model 'big'"


def test_yaml_syntax_error_has_line():
    [e] = errors("models:\n  - name: [unclosed\n")
    assert e.startswith("r.yaml:3: invalid YAML")


def test_missing_env_var(monkeypatch):
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    [e] = errors(GOOD.replace("http://127.0.0.1:8001", "${NOT_SET_ANYWHERE}"))
    assert e == "r.yaml:5: models[0].endpoints[0].url: environment variable is not set"
    monkeypatch.setenv("NOT_SET_ANYWHERE", "http://10.1.1.1:9")
    assert (
        str(parse_config(GOOD.replace("http://127.0.0.1:8001", "${NOT_SET_ANYWHERE}")).models[0].endpoints[0].url)
        == "http://10.1.1.1:9/"
    )


@pytest.mark.slow
def test_cli_validate(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    bad = tmp_path / "bad.yaml"
    bad.write_text(GOOD.replace("name: small", "name: ''"))
    ok = subprocess.run(
        [sys.executable, "-m", "semrouter", "config", "validate", str(good)], capture_output=True, text=True
    )
    assert ok.returncode == 0 and "OK" in ok.stdout
    ko = subprocess.run(
        [sys.executable, "-m", "semrouter", "config", "validate", str(bad)], capture_output=True, text=True
    )
    assert ko.returncode == 1 and f"{bad}:2: models[0].name" in ko.stderr


def test_builtin_default_config_is_valid():
    from pathlib import Path

    import semrouter

    cfg = parse_config((Path(semrouter.__file__).parent / "configs" / "default.yaml").read_text(), "default.yaml")
    assert len(cfg.decisions) == 14
    reasoning = {d.rules.equals for d in cfg.decisions if d.use_reasoning and d.rules is not None}  # type: ignore[union-attr]
    assert reasoning == {"math", "physics", "chemistry", "engineering", "computer science"}


def test_missing_head_file_is_a_config_error(tmp_path):
    text = GOOD + f"signals:\n  - name: domain\n    type: domain\n    head: {tmp_path}/nope.npz\n"
    [e] = errors(text)
    assert e.startswith("r.yaml:12: signals[0].head: Value error, no head file at")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("http://127.0.0.1:8001", "http://user:pw@127.0.0.1:8001", "put credentials in api_key_env"),
        ("http://127.0.0.1:8001", "http://127.0.0.1:8001/?x=1", "must not have a query"),
        (
            "      - url: http://127.0.0.1:8001",
            "      - url: http://127.0.0.1:8001\n        api_key_env: NO_SUCH_KEY_VAR",
            "environment variable NO_SUCH_KEY_VAR",
        ),
    ],
)
def test_endpoint_values_that_would_fail_at_run_time(old, new, message):
    [e] = errors(GOOD.replace(old, new))
    assert message in e and "models[0].endpoints[0]" in e


def test_health_path_and_request_id_header():
    [e] = errors(GOOD + "pool:\n  health_check: {path: health}\n")
    assert "pool.health_check.path" in e
    cfg = parse_config(GOOD + "server:\n  request_id_header: X-Request-ID\n")
    assert cfg.server.request_id_header == "x-request-id"
