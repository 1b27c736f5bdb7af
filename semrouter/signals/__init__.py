"""Signals, registered by the ``type`` used in config.

To add a signal: write a module with a ``SignalConfig`` subclass (with a ``type`` literal) and a
``Signal`` subclass, then add one line to :data:`SIGNALS`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Union

from pydantic import Field

from semrouter.signals.base import Signal, SignalConfig, SignalResult
from semrouter.signals.embedding import (
    ComplexityConfig,
    ComplexitySignal,
    DomainConfig,
    DomainSignal,
    SimilarityConfig,
    SimilaritySignal,
)
from semrouter.signals.keyword import KeywordConfig, KeywordSignal
from semrouter.signals.language import LanguageConfig, LanguageSignal
from semrouter.signals.request import (
    ContextLengthConfig,
    ContextLengthSignal,
    HeaderConfig,
    HeaderSignal,
    MetadataConfig,
    MetadataSignal,
)

SIGNALS: dict[str, tuple[type[SignalConfig], type[Signal]]] = {
    "keyword": (KeywordConfig, KeywordSignal),
    "similarity": (SimilarityConfig, SimilaritySignal),
    "domain": (DomainConfig, DomainSignal),
    "complexity": (ComplexityConfig, ComplexitySignal),
    "context_length": (ContextLengthConfig, ContextLengthSignal),
    "header": (HeaderConfig, HeaderSignal),
    "metadata": (MetadataConfig, MetadataSignal),
    "language": (LanguageConfig, LanguageSignal),
}

if TYPE_CHECKING:
    AnySignalConfig = SignalConfig
else:  # a discriminated union of every registered config class, so YAML errors name the right type
    AnySignalConfig = Annotated[Union[tuple(c for c, _ in SIGNALS.values())], Field(discriminator="type")]  # noqa: UP007


def build_signal(config: Any) -> Signal:
    return SIGNALS[config.type][1](config)


__all__ = ["SIGNALS", "AnySignalConfig", "Signal", "SignalConfig", "SignalResult", "build_signal"]
