"""The base of every config model: unknown keys are errors (a typo gets a line number, not silence)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
