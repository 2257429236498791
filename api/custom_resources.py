"""The API's access to Task and TaskTemplate custom resources, errors as problem details.

Third-party errors are wrapped once here: a missing object becomes `NotFound`, a name collision
`Conflict`, the apiserver's own validation `InvalidRequest` (with its causes), an unreachable
apiserver or one that does not answer within the timeout `Unavailable` (503 either way, as the
lead decided; the detail says which). Every call has the one timeout: the API reads single objects
and one namespace's templates, and creates, patches and deletes single objects, all answered in
milliseconds by a live apiserver; no call of the API watches or streams.
"""

from __future__ import annotations

import json
from typing import Any, cast
from urllib.parse import quote

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubetask.kubeapi import JSON, MERGE_PATCH, JsonApi, resource_path, timed_out
from kubetask.models import GROUP, VERSION

from .permissions import Identity
from .problems import FieldProblem, ProblemError, conflict, forbidden, invalid, not_found, unavailable

Body = dict[str, Any]


def _wrap(e: ApiException, what: str) -> ProblemError:
    try:
        status = json.loads(e.body or "{}")
    except ValueError:
        status = {}
    message = status.get("message") or e.reason or "error"
    if e.status == 404:
        return not_found(f"{what}: {message}")
    if e.status == 403:  # the API's own rights, or the caller's when it impersonates: the apiserver's words
        return forbidden(f"{what}: {message}")
    if e.status == 409:
        return conflict(f"{what}: {message}")
    if e.status in (400, 422):
        causes = (status.get("details") or {}).get("causes") or []
        errors = [FieldProblem("/" + str(c.get("field", "")).replace(".", "/"), str(c.get("message"))) for c in causes]
        return invalid(f"{what}: {message}", errors)
    return unavailable(f"{what}: Kubernetes answered {e.status}: {message}")


def _path(ns: str, plural: str, name: str | None = None) -> str:
    return resource_path(GROUP, VERSION, plural, ns, name)


class CustomResources:
    """Task and TaskTemplate CRs by namespace, plural and name; every error is a `ProblemError`.

    `acting_as(identity)` is the same access whose writes (create, replace, patch, delete) carry
    the identity's impersonation headers, so the apiserver checks and audits them as that user's;
    reads stay the API's own (the API has checked the caller's right to read already)."""

    def __init__(self, api: client.ApiClient, *, timeout: float, json_api: JsonApi | None = None) -> None:
        self.json = json_api or JsonApi(api, timeout=timeout)
        self.timeout = timeout
        self.write_headers: list[tuple[str, str]] = []

    def acting_as(self, identity: Identity) -> CustomResources:
        acting = CustomResources(self.json.api, timeout=self.timeout, json_api=self.json)
        acting.write_headers = identity.impersonation()
        return acting

    def _call(self, what: str, method: str, path: str, body: Body | None = None, content_type: str = JSON) -> Body:
        headers = self.write_headers if method != "GET" else []
        try:
            return cast(Body, self.json.request(method, path, body=body, content_type=content_type, headers=headers))
        except ApiException as e:
            raise _wrap(e, what) from e
        except HTTPError as e:
            if timed_out(e):
                raise unavailable(f"{what}: Kubernetes did not answer within {self.timeout:g} s") from e
            raise unavailable(f"{what}: Kubernetes is unreachable: {e}") from e

    def get(self, ns: str, plural: str, name: str) -> Body | None:
        try:
            return self._call(f"reading {plural} {ns}/{name}", "GET", _path(ns, plural, name))
        except ProblemError as e:
            if e.status == 404:
                return None
            raise

    def create(self, ns: str, plural: str, body: Body) -> Body:
        return self._call(f"creating {plural} in {ns}", "POST", _path(ns, plural), body)

    def replace(self, ns: str, plural: str, name: str, body: Body) -> Body:
        return self._call(f"replacing {plural} {ns}/{name}", "PUT", _path(ns, plural, name), body)

    def patch(self, ns: str, plural: str, name: str, patch: Body) -> Body:
        return self._call(f"patching {plural} {ns}/{name}", "PATCH", _path(ns, plural, name), patch, MERGE_PATCH)

    def delete(self, ns: str, plural: str, name: str) -> Body:
        background = {"propagationPolicy": "Background"}  # as `kubectl delete` does
        return self._call(f"deleting {plural} {ns}/{name}", "DELETE", _path(ns, plural, name), background)

    def list(self, ns: str, plural: str, *, label_selector: str | None = None) -> list[Body]:
        path = _path(ns, plural) + (f"?labelSelector={quote(label_selector, safe='')}" if label_selector else "")
        return cast(list[Body], self._call(f"listing {plural} in {ns}", "GET", path)["items"])

    def ping(self) -> str:
        return str(self._call("reading the version", "GET", "/version").get("gitVersion"))
