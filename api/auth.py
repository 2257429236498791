"""Who calls and what they may do, as FastAPI dependencies: the wiring of `auth_reviews`.

Every /api/v1 router gets `authorize` as a dependency, run before the route's own parameters are
read: it takes the bearer token, has it reviewed, checks the operation's `permissions.Rule` in the
path's namespace (rules of scope "cluster" are the route's to apply, per namespace, through
`Access`) and leaves the caller's `Access` on the request for the route. `KUBETASK_API_AUTH=none`
gives every request an `Access` that allows everything and names no one.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Annotated

from fastapi import Depends, Request

from .audit_policy import mutating
from .audit_trail import AuditTrail
from .auth_reviews import Reviewer, token_hash
from .permissions import LIST_TASKS, NO_TOKEN, NOT_BEARER, Identity, Permission, rule
from .problems import ProblemError, unauthorized

log = logging.getLogger("kubetask.api.auth")


class Access:
    """The caller's rights for one request: checks answered by the reviewer (or all allowed)."""

    def __init__(self, reviewer: Reviewer | None, who: Identity | None, token: str | None) -> None:
        self.reviewer = reviewer
        self.who = who
        self.token = token  # its hash: the bucket that pays for this caller's reviews

    @property
    def username(self) -> str | None:
        """The caller's Kubernetes user name; None without authentication."""
        return self.who.username if self.who else None

    def require(self, namespace: str, needs: Iterable[Permission]) -> None:
        """403 unless the caller has every one of `needs` in `namespace`."""
        if self.reviewer is not None and self.who is not None and self.token is not None:
            self.reviewer.require(self.who, namespace, needs, ration=self.token)

    def may(self, namespace: str, needs: Iterable[Permission]) -> bool:
        try:
            self.require(namespace, needs)
        except ProblemError as e:
            if e.status == 403:
                return False
            raise
        return True

    def namespaces(
        self, present: Iterable[str], needs: Iterable[Permission] = (), *, base: Permission = LIST_TASKS
    ) -> list[str] | None:
        """Of the namespaces `present`, those where the caller has `base` (may `list tasks`) and `needs`
        (one cached review each, not rationed: see auth_reviews); None when that is all of them:
        nothing to filter (no authentication, or the permissions granted cluster-wide)."""
        if self.reviewer is None or self.who is None:
            return None
        wanted = (base, *(p for p in needs if p != base))
        if all(self.reviewer.allowed(self.who, "", p, ration=None) for p in wanted):
            return None
        return [ns for ns in present if all(self.reviewer.allowed(self.who, ns, p, ration=None) for p in wanted)]


EVERYONE = Access(None, None, None)


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise unauthorized(NO_TOKEN)
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise unauthorized(NOT_BEARER)
    return token.strip()


def authorize(request: Request) -> None:
    """Authenticate the caller, check the operation's permission and, for a mutating request, write
    its audit row before the route acts (a plain `def`: reviews and the row's write block)."""
    trail: AuditTrail = request.app.state.audit
    # the template from the OpenAPI document's paths, as the metrics take it (api/metrics.py, Routes)
    operation = request.app.state.routes.of(request.scope["path"])
    found = rule(request.method, operation)
    state = trail.open(request, operation, found)
    reviewer: Reviewer | None = request.app.state.reviewer
    if reviewer is None:
        access = EVERYONE
    else:
        try:
            token = _bearer(request)
            who = reviewer.authenticate(token)
            trail.identify(state, who)
            if found is None:  # create_app refuses to start with an operation the table lacks: a hidden route
                raise ProblemError(500, "internal", "Internal error", "this operation has no permission rule")
            access = Access(reviewer, who, token_hash(token))
            if found.scope == "namespace":
                access.require(str(request.path_params["ns"]), found.needs)
        except ProblemError as e:
            state.review_failed = e.status == 503
            raise
    if mutating(request.method):
        trail.begin(state)
    request.state.access = access


def _access(request: Request) -> Access:
    access: Access | None = getattr(request.state, "access", None)
    if access is None:  # a route outside the authorized routers asked: refuse rather than allow
        raise ProblemError(500, "internal", "Internal error", "the request was not authorized")
    return access


AccessDep = Annotated[Access, Depends(_access)]
