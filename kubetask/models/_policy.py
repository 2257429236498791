"""Retry and time policies: as written on a template or Task, and as resolved for one Task."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubetask.models._common import INT_OR_STRING, KubeModel

Backoff = Literal["constant", "linear", "exponential"]
Jitter = Literal["none", "full", "proportional"]
ReasonOrCode = int | str

_MATCH = "Failure reasons (e.g. OOMKilled, NonZeroExit) or container exit codes (e.g. 3)."


class RetryPolicy(KubeModel):
    """When and how a failed attempt is retried; unset fields fall back to the template, then defaults."""

    max_attempts: int | None = Field(default=None, ge=1, le=100, description="Attempts in all (default 1).")
    backoff: Backoff | None = Field(default=None, description="Delay growth (default exponential).")
    delay_seconds: float | None = Field(default=None, ge=0, description="First delay (default 10).")
    factor: float | None = Field(default=None, ge=1, description="Growth factor of exponential backoff (default 2).")
    max_delay_seconds: float | None = Field(default=None, ge=0, description="Cap on one delay (default 600).")
    jitter: Jitter | None = Field(default=None, description="Randomisation of each delay (default proportional).")
    jitter_ratio: float | None = Field(
        default=None, ge=0, le=1, description="Spread of proportional jitter, ±ratio (default 0.1)."
    )
    retry_on: list[ReasonOrCode] | None = Field(
        default=None, description=f"Retry only these. {_MATCH}", json_schema_extra={"items": INT_OR_STRING}
    )
    no_retry_on: list[ReasonOrCode] | None = Field(
        default=None, description=f"Never retry these. {_MATCH}", json_schema_extra={"items": INT_OR_STRING}
    )


class ResolvedPolicy(KubeModel):
    """The policies in force for one Task, fixed when it is accepted (shown in its status)."""

    max_attempts: int = 1
    backoff: Backoff = "exponential"
    delay_seconds: float = 10.0
    factor: float = 2.0
    max_delay_seconds: float = 600.0
    jitter: Jitter = "proportional"
    jitter_ratio: float = 0.1
    retry_on: list[ReasonOrCode] | None = Field(default=None, json_schema_extra={"items": INT_OR_STRING})
    no_retry_on: list[ReasonOrCode] = Field(default_factory=list, json_schema_extra={"items": INT_OR_STRING})
    timeout_seconds: int | None = None
    pending_timeout_seconds: int | None = None
    deadline_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None
