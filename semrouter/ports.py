"""Free loopback ports for the processes a launcher or a test starts.

Asking the kernel for port 0 hands out a port from the ephemeral range, the same range it draws the
local port of every outgoing connection from. A port picked that way and bound a few seconds later by
another process (Envoy, a replica, a fake worker) can be taken in between by any client socket of the
machine, and the start then fails with "Address already in use" (it did, on CI). So ports are picked
at random *below* the ephemeral range, where no outgoing connection lands, checked by binding, and
never handed out twice by one process.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default; macOS starts at 49152, so this is below it as well


def free_port() -> int:
    """A loopback TCP port that is free now, outside the ephemeral range when there is room for it."""
    high = min(_ephemeral_low(), 65536)
    low = 20000 if high > 21000 else 1024
    for _ in range(500):
        port = random.randrange(low, high)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    with socket.socket() as s:  # a crowded machine: the kernel's choice is better than none
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
