"""Thin Kubernetes adapter of the API: Task and TaskTemplate custom resources.

Third-party errors are wrapped once here: a missing object becomes `NotFound`, a name collision
`Conflict`, the apiserver's own validation `InvalidRequest` (with its causes), an unreachable
apiserver `Unavailable`.
"""

from __future__ import annotations

from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from kubetask.models import GROUP, VERSION

from .problems import FieldProblem, ProblemError, conflict, invalid, not_found, unavailable

Body = dict[str, Any]


def _wrap(e: ApiException, what: str) -> ProblemError:
    import json

    try:
        status = json.loads(e.body or "{}")
    except ValueError:
        status = {}
    message = status.get("message") or e.reason or "error"
    if e.status == 404:
        return not_found(f"{what}: {message}")
    if e.status == 409:
        return conflict(f"{what}: {message}")
    if e.status in (400, 422):
        causes = (status.get("details") or {}).get("causes") or []
        errors = [FieldProblem("/" + str(c.get("field", "")).replace(".", "/"), str(c.get("message"))) for c in causes]
        return invalid(f"{what}: {message}", errors)
    return unavailable(f"{what}: Kubernetes answered {e.status}: {message}")


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.custom = client.CustomObjectsApi(api)
        self.version = client.VersionApi(api)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Body:
        try:
            return cast(Body, fn(*args, **kwargs))
        except ApiException as e:
            raise _wrap(e, what) from e
        except HTTPError as e:
            raise unavailable(f"{what}: Kubernetes is unreachable: {e}") from e

    def get(self, ns: str, plural: str, name: str) -> Body | None:
        try:
            return cast(Body, self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, plural, name))
        except ApiException as e:
            if e.status == 404:
                return None
            raise _wrap(e, f"reading {plural} {ns}/{name}") from e
        except HTTPError as e:
            raise unavailable(f"Kubernetes is unreachable: {e}") from e

    def create(self, ns: str, plural: str, body: Body) -> Body:
        return self._call(f"creating {plural} in {ns}", self.custom.create_namespaced_custom_object,
                          GROUP, VERSION, ns, plural, body)  # fmt: skip

    def replace(self, ns: str, plural: str, name: str, body: Body) -> Body:
        return self._call(f"replacing {plural} {ns}/{name}", self.custom.replace_namespaced_custom_object,
                          GROUP, VERSION, ns, plural, name, body)  # fmt: skip

    def patch(self, ns: str, plural: str, name: str, patch: Body) -> Body:
        return self._call(f"patching {plural} {ns}/{name}", self.custom.patch_namespaced_custom_object,
                          GROUP, VERSION, ns, plural, name, patch)  # fmt: skip

    def delete(self, ns: str, plural: str, name: str) -> Body:
        return self._call(f"deleting {plural} {ns}/{name}", self.custom.delete_namespaced_custom_object,
                          GROUP, VERSION, ns, plural, name)  # fmt: skip

    def list(self, ns: str, plural: str) -> list[Body]:
        out = self._call(f"listing {plural} in {ns}", self.custom.list_namespaced_custom_object,
                         GROUP, VERSION, ns, plural)  # fmt: skip
        return cast(list[Body], out["items"])

    def ping(self) -> str:
        try:
            return str(self.version.get_code().git_version)
        except (ApiException, HTTPError) as e:
            raise unavailable(f"Kubernetes is unreachable: {e}") from e
