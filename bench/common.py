"""Shared helpers for the benchmarks: servers on loopback, wrk runs, and docs/benchmarks.md sections."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"
if str(ROOT) not in sys.path:  # run as `python bench/x.py` from a checkout, without installing semrouter
    sys.path.insert(0, str(ROOT))

from semrouter.devtools.demo import wait_http  # noqa: E402  (re-exported, as free_port)
from semrouter.ports import free_port  # noqa: E402  (re-exported: the benches import it from here)

__all__ = ["free_port", "wait_http"]


class Proc:
    def __init__(self, args: list[str], ready_url: str | None = None) -> None:
        self.args = args
        self.ready_url = ready_url
        self.p: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Proc:
        self.p = subprocess.Popen(
            self.args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        if self.ready_url:
            wait_http(self.ready_url, timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.p is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.p.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.p.wait(10)
        with contextlib.suppress(ProcessLookupError):  # leave no worker process behind
            os.killpg(self.p.pid, signal.SIGKILL)
        self.p.wait()

    def cpu_seconds(self) -> float:
        """User+system CPU time of the process and its live children (multi-process servers)."""
        assert self.p is not None
        return tree_cpu_seconds(self.p.pid)


def tree_cpu_seconds(pid: int) -> float:
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        for task in Path(f"/proc/{pid}/task").iterdir():
            for child in (task / "children").read_text().split():
                total += tree_cpu_seconds(int(child))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return total


def semrouter(*args: str) -> list[str]:
    return [sys.executable, "-m", "semrouter", *args]


@dataclass
class WrkResult:
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    requests: int
    errors: int


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(value: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", value)
    assert m, value
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(
    url: str,
    body: str | list[str],
    *,
    connections: int,
    seconds: int,
    threads: int = 1,
    headers: dict[str, str] | None = None,
) -> WrkResult:
    """Drive ``url`` with POSTs using wrk (Debian package) and parse its report.

    ``body`` may be a list: requests then cycle through the bodies (distinct prompts defeat any
    per-prompt shortcut such as batching identical texts). ``headers`` are sent besides the JSON content type.
    """
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    bodies = [body] if isinstance(body, str) else body

    def lua(text: str) -> str:
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"

    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write("local bodies = {" + ", ".join(lua(b) for b in bodies) + "}\nlocal i = 0\n")
        sent = {"Content-Type": "application/json", **(headers or {})}
        table = "{" + ", ".join(f"[{lua(k)}] = {lua(v)}" for k, v in sent.items()) + "}"
        f.write(
            "request = function()\n  i = i + 1\n"
            f"  return wrk.format('POST', nil, {table}, bodies[(i % #bodies) + 1])\n"
            "end\n"
        )
        script = f.name
    try:
        out = subprocess.run(
            ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", script, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        os.unlink(script)
    pct = dict(re.findall(r"^\s+(50|90|99)%\s+(\S+)", out, re.M))
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    return WrkResult(rps, _ms(pct["50"]), _ms(pct["90"]), _ms(pct["99"]), total, errors)


def machine() -> str:
    """One line naming the host; the SIMD flags are in it because int8 embedding speed depends on them.

    Two hosts with the same model name ran the embedding 2.5x apart (docs/benchmarks.md).
    """
    cpu, flags = "unknown CPU", set[str]()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and cpu == "unknown CPU":
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = set(line.split(":", 1)[1].split())
    simd = [f for f in ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8") if f in flags]
    system = f"{platform.system()} {platform.release()}"
    simd_part = f"; {' '.join(simd)}" if simd else ""
    return f"{os.cpu_count()} cores ({cpu}{simd_part}), Python {platform.python_version()}, {system}"


def write_section(name: str, markdown: str) -> None:
    """Replace the ``name`` section of docs/benchmarks.md (between its markers), keeping the others."""
    begin, end = f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"
    text = DOC.read_text() if DOC.exists() else "# Benchmarks\n"
    block = f"{begin}\n{markdown.strip()}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text(text)
