"""Retry and time policies: as written on a template or Task, and as resolved for one Task."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from kubetask.models._common import INT_OR_STRING, KubeModel
from kubetask.models._numbers import INT32_MAX, IntOrStr, OptionalInt

Backoff = Literal["constant", "linear", "exponential"]
Jitter = Literal["none", "full", "proportional"]
ReasonOrCode = int | str

_MATCH = "Failure reasons (e.g. OOMKilled, NonZeroExit) or container exit codes (e.g. 3)."

# The one home of each default: ResolvedPolicy's field defaults, the "(default …)" of the field
# descriptions (and so of the CRDs and the OpenAPI document) and `kubetask.policy` read them here.
DEFAULT_MAX_ATTEMPTS = 1  # nothing runs twice unless asked to
DEFAULT_BACKOFF: Backoff = "exponential"
DEFAULT_DELAY_SECONDS = 10.0
DEFAULT_FACTOR = 2.0
DEFAULT_MAX_DELAY_SECONDS = 600.0
DEFAULT_JITTER: Jitter = "proportional"
DEFAULT_JITTER_RATIO = 0.1
DEFAULT_PENDING_TIMEOUT = 900  # seconds a pod may stay not running before its attempt fails
DEFAULT_TTL_AFTER_FINISHED = 3600  # seconds a finished Task stays in the cluster (once in history)


def _default(text: str, value: float | str) -> str:
    """`text` with its default appended as the CRD shows it: "First delay (default 10)."."""
    shown = f"{value:g}" if isinstance(value, float) else value
    return f"{text} (default {shown})."


class RetryPolicy(KubeModel):
    """When and how a failed attempt is retried; unset fields fall back to the template, then defaults."""

    max_attempts: OptionalInt = Field(
        default=None, ge=1, le=100, description=_default("Attempts in all", DEFAULT_MAX_ATTEMPTS)
    )
    backoff: Backoff | None = Field(default=None, description=_default("Delay growth", DEFAULT_BACKOFF))
    # delays within INT32_MAX seconds: the operator adds them to a time (a larger one overflowed it)
    delay_seconds: float | None = Field(
        default=None, ge=0, le=INT32_MAX, description=_default("First delay", DEFAULT_DELAY_SECONDS)
    )
    factor: float | None = Field(
        default=None,
        ge=1,
        allow_inf_nan=False,
        description=_default("Growth factor of exponential backoff", DEFAULT_FACTOR),
    )
    max_delay_seconds: float | None = Field(
        default=None, ge=0, le=INT32_MAX, description=_default("Cap on one delay", DEFAULT_MAX_DELAY_SECONDS)
    )
    jitter: Jitter | None = Field(default=None, description=_default("Randomisation of each delay", DEFAULT_JITTER))
    jitter_ratio: float | None = Field(
        default=None, ge=0, le=1, description=_default("Spread of proportional jitter, ±ratio", DEFAULT_JITTER_RATIO)
    )
    retry_on: list[IntOrStr] | None = Field(
        default=None, description=f"Retry only these. {_MATCH}", json_schema_extra={"items": INT_OR_STRING}
    )
    no_retry_on: list[IntOrStr] | None = Field(
        default=None, description=f"Never retry these. {_MATCH}", json_schema_extra={"items": INT_OR_STRING}
    )


class ResolvedPolicy(KubeModel):
    """The policies in force for one Task, fixed when it is accepted (shown in its status)."""

    max_attempts: int = DEFAULT_MAX_ATTEMPTS
    backoff: Backoff = DEFAULT_BACKOFF
    delay_seconds: float = DEFAULT_DELAY_SECONDS
    factor: float = DEFAULT_FACTOR
    max_delay_seconds: float = DEFAULT_MAX_DELAY_SECONDS
    jitter: Jitter = DEFAULT_JITTER
    jitter_ratio: float = DEFAULT_JITTER_RATIO
    retry_on: list[ReasonOrCode] | None = Field(default=None, json_schema_extra={"items": INT_OR_STRING})
    no_retry_on: list[ReasonOrCode] = Field(default_factory=list, json_schema_extra={"items": INT_OR_STRING})
    timeout_seconds: int | None = None
    pending_timeout_seconds: int | None = None
    deadline_seconds: int | None = None
    ttl_seconds_after_finished: int | None = None
