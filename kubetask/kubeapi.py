"""Plain-JSON calls to the Kubernetes API over a `kubernetes.client.ApiClient`'s connection pool, TLS
settings and credentials (kubeconfig token, client certificate, in-cluster token refresh).

The generated client (v30 and later) validates every call's arguments with pydantic and converts
request and response bodies to and from its models. kubetask builds and reads bodies as dicts
anyway, so that conversion is pure overhead, and in the operator's dispatch profile it was one of
the largest costs (bench/README.md, "Why the code is shaped this way"); these calls send the dict
as JSON and return the decoded JSON, decoded with orjson because the operator's big LISTs (a
restart's resync) are dominated by decoding. Errors are the client's own `ApiException`
subclasses (404 `NotFoundException`, 409 `ConflictException`, ...), so callers keep catching those.
"""

from __future__ import annotations

import os
from typing import Any, cast
from urllib.parse import quote, urlencode

import orjson
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

Body = dict[str, Any]
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


def load_client(user_agent: str | None = None) -> client.ApiClient:
    """A client with in-cluster credentials when in a pod (and no $KUBECONFIG), else $KUBECONFIG or
    ~/.kube/config; `user_agent` goes into its default headers, which `JsonApi` sends too."""
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not os.environ.get("KUBECONFIG"):
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        api = client.ApiClient()
    else:
        cfg = client.Configuration()
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG"), client_configuration=cfg)  # type: ignore[no-untyped-call]
        api = client.ApiClient(cfg)
    if user_agent:
        api.user_agent = user_agent
    return api


def namespace_terminating(e: ApiException) -> bool:
    """Whether a create was refused because its namespace is being deleted (403, cause
    NamespaceTerminating): nothing new can be made there, and what is there goes with it."""
    if e.status != 403 or not e.body:
        return False
    try:
        causes = (orjson.loads(e.body).get("details") or {}).get("causes") or []
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return any(c.get("reason") == "NamespaceTerminating" for c in causes if isinstance(c, dict))


def resource_path(
    group: str,
    version: str,
    plural: str,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    """`/api/v1/namespaces/ns/pods/x` or `/apis/group/version/...`; group "" is the core group."""
    out = f"/apis/{group}/{version}" if group else f"/api/{version}"
    if namespace is not None:
        out += f"/namespaces/{quote(namespace, safe='')}"
    out += f"/{plural}"
    if name is not None:
        out += f"/{quote(name, safe='')}"
    if subresource is not None:
        out += f"/{subresource}"
    return out


class JsonApi:
    """Requests with dict bodies; one instance is safe to share between threads (urllib3's pool is)."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = JSON,
        decode: bool = True,
    ) -> Any:
        """One call; the decoded JSON answer (None when `decode` is false: the body is read and dropped)."""
        url = str(self.api.configuration.host) + path
        if query:
            url += "?" + urlencode(query)
        headers = {**self.api.default_headers, "Accept": JSON, "Content-Type": content_type}
        self.api.update_params_for_auth(headers, [], ["BearerToken"], path, method, body)
        response = self.api.call_api(method, url, headers, body)
        data = response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=data.decode("utf-8", "replace"), data=None)
        return orjson.loads(data) if decode and data else None

    def get(self, path: str) -> Body | None:
        """The object, or None when it does not exist."""
        try:
            return cast(Body, self.request("GET", path))
        except ApiException as e:
            if e.status == 404:
                return None
            raise

    def list(self, path: str, label_selector: str | None = None, *, cached: bool = False) -> list[Body]:
        """The items; `cached` serves them from the apiserver's watch cache (`resourceVersion=0`): no
        etcd read, but possibly a moment behind it."""
        query = {"labelSelector": label_selector} if label_selector else {}
        if cached:
            query["resourceVersion"] = "0"
        return cast(list[Body], self.request("GET", path, query=query or None)["items"])

    def create(self, path: str, body: Body, *, decode: bool = True) -> Body | None:
        return cast(Body | None, self.request("POST", path, body=body, decode=decode))

    def replace(self, path: str, body: Body) -> Body:
        return cast(Body, self.request("PUT", path, body=body))

    def merge_patch(self, path: str, patch: Body) -> Body:
        return cast(Body, self.request("PATCH", path, body=patch, content_type=MERGE_PATCH))

    def delete(
        self, path: str, *, propagation: str = "Background", decode: bool = True, missing_ok: bool = False
    ) -> Body | None:
        """Delete; dependents go in the background by default (as `kubectl delete` does). With
        `missing_ok`, an object that is already gone is no error (None is returned)."""
        try:
            return cast(
                Body | None, self.request("DELETE", path, body={"propagationPolicy": propagation}, decode=decode)
            )
        except ApiException as e:
            if missing_ok and e.status == 404:
                return None
            raise
