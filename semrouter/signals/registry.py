"""Signals, registered by the ``type`` used in config.

To add a signal: a ``SignalConfig`` subclass (with a ``type`` literal) in :mod:`semrouter.signals.config`,
a ``Signal`` subclass in a module of its own, then one line in :data:`SIGNALS`. The registry imports
every evaluator (and so the request context and the embedding service); the config does not import it.
"""

from __future__ import annotations

from typing import Any

from semrouter.signals.base import Signal
from semrouter.signals.config import (
    ComplexityConfig,
    ContextLengthConfig,
    DomainConfig,
    HeaderConfig,
    KeywordConfig,
    LanguageConfig,
    MetadataConfig,
    SignalConfig,
    SimilarityConfig,
)
from semrouter.signals.embedding import ComplexitySignal, DomainSignal, SimilaritySignal
from semrouter.signals.keyword import KeywordSignal
from semrouter.signals.language import LanguageSignal
from semrouter.signals.request import ContextLengthSignal, HeaderSignal, MetadataSignal

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


def build_signal(config: Any) -> Signal:
    return SIGNALS[config.type][1](config)
