"""Guard settings: PII and jailbreak detection (global), and the policy overrides decisions and models carry.

Detection is global (one detector per router, run once per request) while the *policy* — what to do
with a finding — can differ per decision and per model: a decision for an internal HR assistant may
allow PERSON names that a public chat decision masks. The effective policy is the global one, then the
model's overrides, then the decision's (the most specific wins).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

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


class GuardsConfig(Strict):
    pii: PiiConfig = Field(default_factory=PiiConfig)
    jailbreak: JailbreakConfig = Field(default_factory=JailbreakConfig)
