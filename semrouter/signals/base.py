"""What every signal evaluator shares: the interface the signal stage calls (the result type is in
:mod:`semrouter.signals.result`, the configs in :mod:`semrouter.signals.config`).

A signal looks at one request and reports ``matched``, a ``confidence`` in [0, 1], an optional
``value`` (a category, a level) and a ``detail`` dict for the decision log and dry runs. Decision
rules refer to signals by name and may test the value.
"""

from __future__ import annotations

from typing import Any, ClassVar

from semrouter.context import RequestContext
from semrouter.signals.result import SignalResult


class Signal:
    """A configured signal. ``uses_embedding`` tells the stage to start the embedding early."""

    uses_embedding: ClassVar[bool] = False

    def __init__(self, config: Any) -> None:
        self.config = config
        self.name: str = config.name

    async def evaluate(self, ctx: RequestContext) -> SignalResult:
        raise NotImplementedError
