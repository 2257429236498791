"""Which policies are in force for a Task: its own values, else its template's, else the defaults (pure).

Resolved once, when the first attempt is accepted, and kept in `status.policy`, so a template
edited later never changes a Task already under way.
"""

from __future__ import annotations

from kubetask.models import (
    DEFAULT_PENDING_TIMEOUT,
    DEFAULT_TTL_AFTER_FINISHED,
    ResolvedPolicy,
    RetryPolicy,
    TaskSpec,
    TaskTemplateSpec,
)

__all__ = ["DEFAULT_PENDING_TIMEOUT", "DEFAULT_TTL_AFTER_FINISHED", "merge_retry", "resolve_policy"]


def resolve_policy(spec: TaskSpec, template: TaskTemplateSpec | None) -> ResolvedPolicy:
    """Retry and time policies in force: the Task's values, else the template's, else defaults."""
    t = template
    retry = merge_retry(t.retry if t else None, spec.retry).model_dump(exclude_none=True)

    def pick(name: str, default: int | None = None) -> int | None:
        value: int | None = getattr(spec, name)
        if value is None and t is not None:
            value = getattr(t, name)
        return value if value is not None else default

    return ResolvedPolicy(
        **retry,
        timeout_seconds=pick("timeout_seconds"),
        pending_timeout_seconds=pick("pending_timeout_seconds", DEFAULT_PENDING_TIMEOUT),
        deadline_seconds=pick("deadline_seconds"),
        ttl_seconds_after_finished=pick("ttl_seconds_after_finished", DEFAULT_TTL_AFTER_FINISHED),
    )


def merge_retry(template: RetryPolicy | None, task: RetryPolicy | None) -> RetryPolicy:
    """Field-by-field: the Task's value, else the template's (unset stays unset)."""
    merged = (template or RetryPolicy()).model_dump(exclude_none=True)
    merged.update((task or RetryPolicy()).model_dump(exclude_none=True))
    return RetryPolicy.model_validate(merged)
