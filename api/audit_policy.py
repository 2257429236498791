"""What the API's audit trail records, and when: pure (no I/O; the adapter is `audit_trail`).

A request is audited when it mutates (POST, PUT, PATCH, DELETE under /api/v1) or is refused (401,
403, 429: the caller was not let through). A mutating request's row is written before it acts
(fail closed: no row, no action) and gets its status once answered; a refused read's row is
written with its status. A row holds who (user and groups as the TokenReview named them; none
without an identity), what (the operation's permission: verb and resource, with namespace and
name), the decision and status, the request id and the peer address as received.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from .permissions import Identity, Rule

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
REFUSED = {401: "unauthenticated", 403: "forbidden", 429: "throttled"}
ALLOWED = "allowed"
UNAVAILABLE = "unavailable"  # a review could not be made: the API answered 503, never "allowed"
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
PURGE_EVERY_SECONDS = 3600.0  # how often a replica deletes rows older than the retention


@dataclass(frozen=True)
class Entry:
    """One row of the trail, before its status is known (`status` None) or with it."""

    time: datetime
    verb: str
    resource: str
    operation: str  # "POST /api/v1/namespaces/{ns}/tasks"
    request_id: str
    namespace: str | None = None
    name: str | None = None
    user: str | None = None
    groups: tuple[str, ...] = ()
    source: str | None = None
    decision: str = ALLOWED
    status: int | None = None


def mutating(method: str) -> bool:
    return method.upper() in MUTATING


def audited(method: str, status: int) -> bool:
    """Whether an answered request belongs in the trail."""
    return mutating(method) or status in REFUSED


def decision(status: int | None, *, review_failed: bool = False) -> str:
    """The decision a status stands for: a refusal's kind, `unavailable` when the caller's review
    could not be made (a 503 before the route ran), else `allowed` (the route ran, whatever it said)."""
    if review_failed:
        return UNAVAILABLE
    return REFUSED.get(status or 0, ALLOWED)


def request_id(given: str | None) -> str:
    """The client's `X-Request-Id` when it is a sane token (1-64 of letters, digits and `._:-`), else
    a new random one: the id ties a client's request to its audit row and is echoed in the answer."""
    if given and REQUEST_ID.fullmatch(given):
        return given
    return uuid.uuid4().hex


def target(rule: Rule | None, method: str) -> tuple[str, str]:
    """The (verb, resource) a row names: the operation's first permission (cancel is `patch tasks`);
    an operation without a rule (none reaches a route) is named by its method."""
    if rule is None or not rule.needs:
        return method.lower(), ""
    first = rule.needs[0]
    return first.verb, first.resource


def entry(
    *,
    time: datetime,
    method: str,
    operation: str,
    rule: Rule | None,
    path_params: dict[str, str],
    request_id: str,
    who: Identity | None,
    source: str | None,
) -> Entry:
    verb, resource = target(rule, method)
    return Entry(
        time=time,
        verb=verb,
        resource=resource,
        operation=operation,
        request_id=request_id,
        namespace=path_params.get("ns"),
        name=path_params.get("name"),
        user=who.username if who else None,
        groups=who.groups if who else (),
        source=source,
    )


def created_name(location: str | None) -> str | None:
    """The name a create made, from its answer's `Location` (`…/tasks/NAME`)."""
    if not location:
        return None
    name = location.rstrip("/").rsplit("/", 1)[-1]
    return name or None


def purge_due(last: float | None, now: float, every: float = PURGE_EVERY_SECONDS) -> bool:
    """Whether a replica that last purged at `last` (monotonic seconds; None: never) purges now."""
    return last is None or now - last >= every


def cutoff(now: datetime, retention_days: int) -> datetime | None:
    """Rows older than this go; None keeps everything (a retention of 0 days)."""
    return now - timedelta(days=retention_days) if retention_days > 0 else None
