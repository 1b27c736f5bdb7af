"""Every signal's pydantic config, and the union the router config validates ``signals:`` against.

The configs live apart from the evaluators (:mod:`semrouter.signals.keyword`, ``.embedding``,
``.language``, ``.request``) so that :mod:`semrouter.config` depends on settings only, never on the
per-request code (the context, the embedding model) the evaluators need. Adding a signal type is a
config class here, its evaluator in its own module, and one line in :mod:`semrouter.signals.registry`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, Union

from pydantic import Field, field_validator, model_validator

from semrouter.config.base import Strict
from semrouter.lang import LANGUAGES


class SignalConfig(Strict):
    """Fields every signal config has; each signal type subclasses it with a ``type`` literal."""

    name: str = Field(min_length=1, description="How decision rules refer to this signal.")
    type: str  # each subclass narrows this to its Literal, the union's discriminator


class ValueMatch(Strict):
    """Compare a string: exact ``equals``, membership in ``one_of``, or a ``pattern`` regex search.

    With none of them set, the signal matches when the value is present at all.
    """

    equals: str | None = None
    one_of: list[str] | None = None
    pattern: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ValueMatch:
        if sum(x is not None for x in (self.equals, self.one_of, self.pattern)) > 1:
            raise ValueError("set at most one of equals, one_of, pattern")
        if self.pattern is not None:
            re.compile(self.pattern)
        return self

    def test(self, value: str | None) -> bool:
        if value is None:
            return False
        if self.equals is not None:
            return value == self.equals
        if self.one_of is not None:
            return value in self.one_of
        if self.pattern is not None:
            return re.search(self.pattern, value) is not None
        return True


# -- keyword --------------------------------------------------------------------------------------


class KeywordConfig(SignalConfig):
    type: Literal["keyword"]
    keywords: list[str] = Field(min_length=1)
    operator: Literal["or", "and", "nor"] = Field("or", description="or: any; and: all; nor: none of them.")
    regex: bool = Field(False, description="Keywords are regular expressions.")
    case_sensitive: bool = False
    word_boundary: bool = Field(True, description="Match whole words only (ignored for regex keywords).")

    @model_validator(mode="after")
    def _compiles(self) -> KeywordConfig:
        for kw in self.keywords:
            try:
                re.compile(kw if self.regex else re.escape(kw))
            except re.error as exc:
                raise ValueError(f"keyword {kw!r} is not a valid regex: {exc}") from None
        return self


# -- embedding-based (similarity, domain, complexity) ----------------------------------------------


class SimilarityConfig(SignalConfig):
    type: Literal["similarity"]
    examples: list[str] = Field(min_length=1, description="Phrases that typify the requests to match.")
    threshold: float = Field(0.6, ge=-1, le=1)
    aggregate: Literal["max", "mean"] = "max"


class DomainConfig(SignalConfig):
    type: Literal["domain"]
    threshold: float = Field(
        0.3, ge=0, le=1, description="Below this calibrated probability the category falls back to 'other'."
    )
    head: str | None = Field(None, description="A head trained with `semrouter train domain`; default: shipped.")
    fallback: str = "other"

    @field_validator("head")
    @classmethod
    def _head_exists(cls, value: str | None) -> str | None:
        if value is not None and not Path(value).is_file():
            raise ValueError(f"no head file at '{value}' (train one with `semrouter train domain`)")
        return value


class ComplexityConfig(SignalConfig):
    type: Literal["complexity"]
    hard_examples: list[str] = Field(min_length=1)
    easy_examples: list[str] = Field(min_length=1)
    margin: float = Field(0.0, description="How much closer to 'hard' than to 'easy' a request must be.")


# -- language -------------------------------------------------------------------------------------


class LanguageConfig(SignalConfig):
    type: Literal["language"]
    languages: list[str] = Field(default_factory=list, description="ISO 639-1 codes that match (e.g. [de, fr]).")
    min_confidence: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Below this probability the language counts as undetermined (short Cyrillic or "
        "Latin turns spread their probability over related languages and score 0.3-0.5 when right).",
    )

    @field_validator("languages")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        unknown = [c for c in value if c not in LANGUAGES]
        if unknown:
            raise ValueError(f"unknown language code(s) {unknown}; known: {', '.join(LANGUAGES)}")
        return value


# -- request fields (context length, headers, metadata) ----------------------------------------------


class ContextLengthConfig(SignalConfig):
    type: Literal["context_length"]
    min_tokens: int = Field(0, ge=0)
    max_tokens: int | None = Field(None, ge=0, description="Inclusive upper bound; none: unbounded.")


class HeaderConfig(SignalConfig, ValueMatch):
    type: Literal["header"]
    header: str = Field(min_length=1)


class MetadataConfig(SignalConfig, ValueMatch):
    type: Literal["metadata"]
    field: str = Field(min_length=1, description="Dotted body path: user, metadata.tier, ...")


SIGNAL_CONFIGS: tuple[type[SignalConfig], ...] = (
    KeywordConfig,
    SimilarityConfig,
    DomainConfig,
    ComplexityConfig,
    ContextLengthConfig,
    HeaderConfig,
    MetadataConfig,
    LanguageConfig,
)
"""One config class per signal ``type``; :data:`semrouter.signals.registry.SIGNALS` pairs each with its evaluator."""

if TYPE_CHECKING:
    AnySignalConfig = SignalConfig
else:  # a discriminated union of every config class, so YAML errors name the right type
    AnySignalConfig = Annotated[Union[SIGNAL_CONFIGS], Field(discriminator="type")]  # noqa: UP007
