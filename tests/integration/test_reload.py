"""Hot reload under load: valid edits take effect, invalid ones are rejected, no request fails."""

from __future__ import annotations

import os
import threading
import time

import yaml
from conftest import simple_config
from servers import http_json

CHAT = "/v1/chat/completions"


def ask(url: str):
    return http_json("POST", url + CHAT, {"model": "auto", "messages": [{"role": "user", "content": "x"}]})


class Load:
    """Background clients hammering the router; collects every status."""

    def __init__(self, url: str, threads: int = 4) -> None:
        self.url = url
        self.statuses: list[int] = []
        self.decisions: list[str] = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            s, h, _ = ask(self.url)
            self.statuses.append(s)
            self.decisions.append(h.get("x-vsr-selected-decision", ""))

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()


def wait_for(pred, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.05)


def test_valid_and_invalid_edits_under_load(start_worker, start_router):
    slow = start_worker("m1", "--latency-ms", "150")  # requests are in flight during each swap
    other = start_worker("m2")
    cfg = simple_config({"m1": [slow.url], "m2": [other.url]})
    r = start_router(cfg)
    path = r.config_path
    status = lambda: http_json("GET", r.url + "/api/v1/status")[2]["config"]  # noqa: E731
    with Load(r.url) as load:
        time.sleep(0.5)
        new = simple_config({"m1": [slow.url], "m2": [other.url]})
        new["decisions"] = [{"name": "second", "models": [{"model": "m2"}]}]
        new["routing"] = {"default_decision": "second"}
        path.write_text(yaml.safe_dump(new))
        wait_for(lambda: status()["reloads_ok"] == 1)
        time.sleep(0.5)
        path.write_text("models: [this is: not valid\n")  # broken YAML
        wait_for(lambda: status()["reloads_failed"] == 1)
        bad = dict(new, decisions=[{"name": "second", "models": [{"model": "nope"}]}])
        path.write_text(yaml.safe_dump(bad))  # valid YAML, invalid reference
        wait_for(lambda: status()["reloads_failed"] == 2)
        time.sleep(0.5)
    assert load.statuses and all(s == 200 for s in load.statuses), set(load.statuses)
    assert load.decisions[0] == "default" and load.decisions[-1] == "second"
    st = status()
    assert (
        "unknown model 'nope'" in st["last_reload_error"] and "decisions[0].models[0].model" in st["last_reload_error"]
    )
    assert ask(r.url)[1]["x-vsr-selected-decision"] == "second"  # the last good config still serves


def test_kubernetes_symlink_swap(start_worker, servers, tmp_path):
    """ConfigMap volumes update by re-pointing a ``..data`` symlink; the file path itself never changes."""
    from servers import router, write_config

    w = start_worker("m1")
    v1 = tmp_path / "..2026_v1"
    v1.mkdir()
    write_config(v1 / "router.yaml", simple_config({"m1": [w.url]}))
    data = tmp_path / "..data"
    data.symlink_to(v1.name)
    (tmp_path / "router.yaml").symlink_to("..data/router.yaml")
    r = router(tmp_path / "router.yaml", log=tmp_path / "r.log").start()
    servers.append(r)
    assert ask(r.url)[1]["x-vsr-selected-decision"] == "default"
    v2 = tmp_path / "..2026_v2"
    v2.mkdir()
    cfg2 = simple_config({"m1": [w.url]})
    cfg2["decisions"][0]["name"] = "swapped"
    cfg2["routing"] = {"default_decision": "swapped"}
    write_config(v2 / "router.yaml", cfg2)
    tmp_link = tmp_path / "..data_tmp"
    tmp_link.symlink_to(v2.name)
    os.replace(tmp_link, data)  # atomic, as the kubelet does
    wait_for(lambda: ask(r.url)[1]["x-vsr-selected-decision"] == "swapped")


def test_env_substitution(start_worker, start_router):
    w = start_worker("m1")
    cfg = simple_config({"m1": ["${WORKER_URL}"]})
    cfg["decisions"][0]["system_prompt"] = {"text": "${PROMPT:-default prompt}"}
    r = start_router(cfg, env={"WORKER_URL": w.url})
    s, h, body = ask(r.url)
    assert s == 200 and h["x-vsr-destination-endpoint"] == w.url
    assert body["echo"]["system_prompt"] == "default prompt"


def test_valid_but_unbuildable_config_is_rejected(start_worker, start_router, tmp_path):
    """A config that validates but cannot be built (a corrupt model file) keeps the old one serving."""
    w = start_worker("m1")
    r = start_router(simple_config({"m1": [w.url]}))
    bad_head = tmp_path / "corrupt_head.npz"
    bad_head.write_bytes(b"this is not a numpy archive")
    new = simple_config({"m1": [w.url]})
    new["signals"] = [{"name": "domain", "type": "domain", "head": str(bad_head)}]
    new["decisions"][0]["name"] = "would-be-new"
    new["routing"] = {"default_decision": "would-be-new"}
    r.config_path.write_text(yaml.safe_dump(new))
    status = lambda: http_json("GET", r.url + "/api/v1/status")[2]["config"]  # noqa: E731
    wait_for(lambda: status()["reloads_failed"] == 1)
    assert "cannot build the pipeline" in status()["last_reload_error"]
    assert status()["reloads_ok"] == 0
    assert ask(r.url)[1]["x-vsr-selected-decision"] == "default"
