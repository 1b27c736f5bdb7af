"""What the observer reads from the live service, as narrow typed views.

The metrics copy state that lives elsewhere (the cache service's counters, the endpoints' load and
ejections, the reload counts) into Prometheus series. They used to take the whole router and reach into
it (``router.cache.stats()["stage"]…``, ``router.fleet.endpoints``, and back to ``router.observer.log``),
which tied ``observe/`` to the router and the router to ``observe/`` in a circle. Now they see only the
protocols below; :class:`~semrouter.router.Router` implements :class:`StateSource`, and a test can hand
in anything that does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from semrouter.cache.service import CacheCounters


class EndpointState(Protocol):
    """One upstream endpoint as the metrics see it (:class:`~semrouter.pool.endpoint.Endpoint` is one)."""

    @property
    def model(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def outstanding(self) -> int: ...

    @property
    def ejections_total(self) -> int: ...

    def available(self, now: float) -> bool: ...


class StateSource(Protocol):
    """The live state the metrics copy on each scrape (and every ``state_interval_s`` with several workers)."""

    @property
    def reloads_ok(self) -> int: ...

    @property
    def reloads_failed(self) -> int: ...

    def cache_counters(self) -> CacheCounters | None:
        """The cache service's counters now; ``None`` while the cache is disabled."""
        ...

    def endpoint_states(self) -> Iterable[EndpointState]:
        """Every endpoint of the current fleet."""
        ...


class DropCounts(Protocol):
    """The decision log's losses (records it could not keep up with), by where they were dropped."""

    @property
    def file_dropped(self) -> int: ...

    @property
    def dropped(self) -> int: ...
