"""The bounded session store behind session-stable routing (:mod:`semrouter.stages.session`).

One entry per conversation: the model its last routed turn went to and that turn's decision. Bounded two
ways, so a client inventing a session id per request cannot grow it: at most ``max_sessions`` entries
(the least recently used go first) and each lives ``ttl_s`` after its last turn. Per replica: a
conversation whose turns land on different replicas may be routed afresh on each (put session affinity in
the load balancer in front, on the same header, to keep it on one).
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class Pin:
    model: str
    decision: str
    expires: float


class SessionStore:
    def __init__(self, clock: object = time.monotonic) -> None:
        self._entries: OrderedDict[str, Pin] = OrderedDict()
        self._clock = clock
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._entries)

    def _now(self) -> float:
        return self._clock()  # type: ignore[operator,no-any-return]

    def get(self, key: str) -> Pin | None:
        pin = self._entries.get(key)
        if pin is None:
            return None
        if pin.expires <= self._now():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        return pin

    def put(self, key: str, model: str, decision: str, ttl_s: float, max_sessions: int) -> None:
        self._entries[key] = Pin(model, decision, self._now() + ttl_s)
        self._entries.move_to_end(key)
        while len(self._entries) > max_sessions:  # also shrinks at once when a reload lowers the bound
            self._entries.popitem(last=False)
            self.evicted += 1
