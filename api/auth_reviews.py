"""TokenReview and SubjectAccessReview through the API's own Kubernetes client: a thin adapter.

Who the caller is: a TokenReview (authentication.k8s.io/v1) of its bearer token, the way the
apiserver itself authenticates kubectl's token. What it may do: a SubjectAccessReview
(authorization.k8s.io/v1) for the reviewed user, uid, groups and extra and one `Permission` in a
namespace, as `kubectl auth can-i` asks. The API's ServiceAccount needs `create` on both (the
`system:auth-delegator` ClusterRole).

Decisions (README, "Authentication and authorization"):
- A review that cannot be made (apiserver unreachable, timed out, answering 5xx, or refusing the
  API's own review) is a 503 problem: never "allowed", and never "denied" either (a 401 would tell
  a client with a good token to throw it away).
- Answers are cached (`auth_limits.TtlCache`): an accepted token and an allowed permission for
  `auth_cache_seconds`, refusals for `auth_denial_cache_seconds`; tokens are keyed by their
  SHA-256, never kept. A revoked RoleBinding or token is obeyed within that time.
- Every review the cache cannot answer takes a token from the caller's bucket (keyed by the token's
  hash) and from the bucket of all reviews (`auth_limits.Buckets`): over the first, a 429; over
  the second, a 503 (the API as a whole is at its limit); both with Retry-After. The reviews that
  filter a cluster-wide list (one per namespace present in history) are cached but not rationed:
  their number is set by history, not by the request, and a caller allowed cluster-wide needs one.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubetask.kubeapi import JsonApi, timed_out

from .auth_limits import Buckets, TtlCache, retry_after
from .permissions import (
    GROUP,
    PER_TOKEN_LIMIT,
    TOKEN_REFUSED,
    TOTAL_LIMIT,
    Identity,
    Permission,
    forbidden_detail,
)
from .problems import forbidden, too_many_requests, unauthorized, unavailable
from .settings import ApiSettings

log = logging.getLogger("kubetask.api.auth")
TOKEN_REVIEWS = "/apis/authentication.k8s.io/v1/tokenreviews"
ACCESS_REVIEWS = "/apis/authorization.k8s.io/v1/subjectaccessreviews"
AccessKey = tuple[Identity, str, Permission]  # (who, namespace or "" for the cluster, what)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def identity_of(user: dict[str, Any]) -> Identity:
    """The TokenReview's `status.user`."""
    extra = user.get("extra") or {}
    return Identity(
        username=str(user.get("username", "")),
        uid=str(user.get("uid") or ""),
        groups=tuple(str(g) for g in user.get("groups") or ()),
        extra=tuple(sorted((str(k), tuple(str(v) for v in vs or ())) for k, vs in extra.items())),
    )


class Reviewer:
    """Authenticates tokens and checks permissions, with caches and rate limits (module docstring)."""

    def __init__(self, json: JsonApi, settings: ApiSettings, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.json = json
        self.settings = settings
        self.clock = clock
        self.tokens: TtlCache[str, Identity] = TtlCache()  # by token hash; _REFUSED for a refused one
        self.access: TtlCache[AccessKey, bool] = TtlCache()
        self.per_token: Buckets[str] = Buckets(settings.auth_reviews_per_token)
        self.total: Buckets[None] = Buckets(settings.auth_reviews_per_second)
        self.reviews = 0  # made, of either kind (for tests and metrics)

    # -- rationing ---------------------------------------------------------------------------

    def _ration(self, key: str, now: float) -> None:
        """Take a review from `key`'s bucket and from the total one, or refuse (429 / 503)."""
        wait = self.per_token.take(key, now=now)
        if wait:
            raise too_many_requests(PER_TOKEN_LIMIT, retry_after=retry_after(wait))
        wait = self.total.take(None, now=now)
        if wait:
            raise unavailable(TOTAL_LIMIT, retry_after=retry_after(wait))

    def _review(self, what: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """One review's `status`; a 503 problem when it cannot be made."""
        self.reviews += 1
        try:
            answer = self.json.request("POST", path, body=body)
        except ApiException as e:
            if e.status in (401, 403):
                detail = (
                    f"{what}: the API may not make reviews ({e.status}: grant its ServiceAccount system:auth-delegator)"
                )
            else:
                detail = f"{what}: Kubernetes answered {e.status}: {e.reason}"
            raise unavailable(detail) from e
        except HTTPError as e:
            if timed_out(e):
                raise unavailable(f"{what}: Kubernetes did not answer within {self.json.timeout:g} s") from e
            raise unavailable(f"{what}: Kubernetes is unreachable: {e}") from e
        status = (answer or {}).get("status")
        return status if isinstance(status, dict) else {}

    # -- who ---------------------------------------------------------------------------------

    def authenticate(self, token: str) -> Identity:
        """The token's identity (401 when the apiserver does not accept it)."""
        key = token_hash(token)
        now = self.clock()
        identity = self.tokens.get(key, now=now)
        if identity is None:
            identity = self._token_review(key, token, now)
        if identity is _REFUSED:
            raise unauthorized(TOKEN_REFUSED)
        return identity

    def _token_review(self, key: str, token: str, now: float) -> Identity:
        self._ration(key, now)
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}
        status = self._review("authenticating the bearer token", TOKEN_REVIEWS, body)
        user = status.get("user") or {}
        if status.get("authenticated") is True and user.get("username"):
            identity = identity_of(user)
            self.tokens.put(key, identity, ttl=self.settings.auth_cache_seconds, now=now)
            return identity
        log.info("a bearer token was refused: %s", status.get("error") or "not authenticated")
        self.tokens.put(key, _REFUSED, ttl=self.settings.auth_denial_cache_seconds, now=now)
        return _REFUSED

    # -- what --------------------------------------------------------------------------------

    def allowed(self, who: Identity, namespace: str, permission: Permission, *, ration: str | None) -> bool:
        """Whether `who` has `permission` in `namespace` ("" for the cluster). `ration`: the token hash
        whose bucket pays for a review the cache cannot answer (None: not rationed)."""
        key = (who, namespace, permission)
        now = self.clock()
        cached = self.access.get(key, now=now)
        if cached is not None:
            return cached
        if ration is not None:
            self._ration(ration, now)
        attributes: dict[str, str] = {"group": GROUP, "verb": permission.verb, "resource": permission.resource}
        if namespace:
            attributes["namespace"] = namespace
        spec: dict[str, Any] = {"resourceAttributes": attributes, "user": who.username, "groups": list(who.groups)}
        if who.uid:
            spec["uid"] = who.uid
        if who.extra:
            spec["extra"] = {k: list(v) for k, v in who.extra}
        body = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec}
        status = self._review(f"checking whether {who.username} may {permission}", ACCESS_REVIEWS, body)
        allowed = status.get("allowed") is True
        ttl = self.settings.auth_cache_seconds if allowed else self.settings.auth_denial_cache_seconds
        self.access.put(key, allowed, ttl=ttl, now=now)
        return allowed

    def require(self, who: Identity, namespace: str, needs: Iterable[Permission], *, ration: str) -> None:
        """403 naming the first of `needs` that `who` lacks in `namespace`."""
        for permission in needs:
            if not self.allowed(who, namespace, permission, ration=ration):
                raise forbidden(forbidden_detail(who.username, permission, namespace or None))


_REFUSED = Identity(username="")  # the cached answer of a refused token (no user has an empty name)
