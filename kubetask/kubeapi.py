"""Plain-JSON calls to the Kubernetes API over a `kubernetes.client.ApiClient`'s connection pool, TLS
settings and credentials (kubeconfig token, client certificate, in-cluster token refresh).

The generated client (v30 and later) validates every call's arguments with pydantic and converts
request and response bodies to and from its models. kubetask builds and reads bodies as dicts
anyway, so that conversion is pure overhead, and in the operator's dispatch profile it was one of
the largest costs (bench/README.md, "Why the code is shaped this way"); these calls send the dict
as JSON and return the decoded JSON, decoded with orjson because the operator's big LISTs (a
restart's resync) are dominated by decoding. Errors are the client's own `ApiException`
subclasses (404 `NotFoundException`, 409 `ConflictException`, ...), so callers keep catching those.

Every call has a timeout (urllib3's `total`: connecting, TLS and waiting for the answer's headers;
then each read of the body), `JsonApi`'s own unless the call names another. A hung apiserver
(connections accepted, nothing answered) would otherwise hold the calling thread for as long as it
lasts. Retries: urllib3 retries a failed connect or a dropped pooled connection up to 3 times (at
once, no backoff), as the client did before, but a timed-out attempt is final (`_Retry`): retrying
it would multiply the wait by four, so a caller could not promise an answer within its timeout.
Watches and log streams must not get a timeout; kubetask makes none through this module (kopf runs
its own watches).
"""

from __future__ import annotations

import enum
import json
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Literal, cast
from urllib.parse import quote, urlencode

import orjson
import urllib3
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from kubernetes.client.rest import RESTResponse
from urllib3 import HTTPHeaderDict
from urllib3.exceptions import NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util.retry import Retry

Body = dict[str, Any]
Items = list[Body]  # (a name of its own: `list` is a method of the API class)
JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


class _Default(enum.Enum):
    TIMEOUT = "the JsonApi's own timeout"


DEFAULT_TIMEOUT: Final = _Default.TIMEOUT
Timeout = float | None | Literal[_Default.TIMEOUT]


def timed_out(error: BaseException | None) -> bool:
    """Whether urllib3's `error` is a timeout. Its NewConnectionError (a refused connect, say)
    subclasses ConnectTimeoutError for historical reasons, but nothing waited for it."""
    return isinstance(error, Urllib3Timeout) and not isinstance(error, NewConnectionError)


class _Retry(Retry):
    """urllib3's default retries, except that a timeout is raised at once instead of retried."""

    def increment(self, *args: Any, **kwargs: Any) -> _Retry:
        error = kwargs.get("error")
        if timed_out(error):
            raise error  # type: ignore[misc]
        return super().increment(*args, **kwargs)


# urllib3's default: 3 retries of connects and of reads that broke off (a pooled connection the
# server closed); reads of POST and PATCH are never retried (urllib3's allowed_methods)
RETRIES = _Retry(3, redirect=False)


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


_VERBS = {"GET": "get", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def request_kind(method: str, path: str) -> tuple[str, str]:
    """The Kubernetes verb and resource of a request, as the apiserver's own metrics name them:
    ("list", "tasks") for GET /apis/kubetask.io/v1alpha1/namespaces/ns/tasks, ("patch", "tasks/status")
    for its status; never a namespace or an object's name."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    rest = parts[2:] if parts[:1] == ["api"] else parts[3:] if parts[:1] == ["apis"] else parts
    if len(rest) >= 3 and rest[0] == "namespaces":
        rest = rest[2:]
    resource = "/".join(rest[:1] + rest[2:3]) or "unknown"
    verb = _VERBS.get(method.upper(), method.lower())
    if len(rest) == 1 and verb in ("get", "delete"):
        verb = "list" if verb == "get" else "deletecollection"
    return verb, resource


class JsonApi:
    """Requests with dict bodies; one instance is safe to share between threads (urllib3's pool is).

    `timeout` (seconds; None: none) bounds each call that names no timeout of its own. `observe`, when
    set, is told of every request: (verb, resource, answer code or 0 for none, seconds)."""

    def __init__(self, api: client.ApiClient, *, timeout: float | None = None) -> None:
        self.api = api
        self.timeout = timeout
        self.observe: Callable[[str, str, int, float], None] | None = None

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: dict[str, str] | None = None,
        content_type: str = JSON,
        decode: bool = True,
        timeout: Timeout = DEFAULT_TIMEOUT,
        headers: Sequence[tuple[str, str]] = (),
    ) -> Any:
        """One call; the decoded JSON answer (None when `decode` is false: the body is read and dropped).
        `headers`: extra request headers, a name may repeat (Impersonate-Group, once per group).

        Raises `ApiException` for an answer outside 2xx, urllib3's `TimeoutError` when the apiserver
        did not answer within `timeout` (default: the instance's; tell it from a refused connect with
        `timed_out`), another urllib3 `HTTPError` when it could not be reached."""
        url = str(self.api.configuration.host) + path
        if query:
            url += "?" + urlencode(query)
        sent = {**self.api.default_headers, "Accept": JSON, "Content-Type": content_type}
        self.api.update_params_for_auth(sent, [], ["BearerToken"], path, method, body)
        all_headers = HTTPHeaderDict(sent)
        for name, value in headers:
            all_headers.add(name, value)
        seconds = self.timeout if timeout is DEFAULT_TIMEOUT else timeout
        started, code = time.monotonic(), 0
        try:
            # the pool directly, not ApiClient.call_api: its rest client gives no say over retries
            raw = self.api.rest_client.pool_manager.request(
                method,
                url,
                body=None if body is None else json.dumps(body),
                headers=all_headers,
                timeout=urllib3.Timeout(total=seconds) if seconds is not None else None,
                retries=RETRIES,
                preload_content=False,
            )
            response = RESTResponse(raw)
            data = response.read()  # type: ignore[no-untyped-call]
            code = int(response.status)
        finally:
            if self.observe is not None:
                self.observe(*request_kind(method, path), code, time.monotonic() - started)
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

    def list(
        self,
        path: str,
        label_selector: str | None = None,
        *,
        cached: bool = False,
        timeout: Timeout = DEFAULT_TIMEOUT,
    ) -> list[Body]:
        """The items; `cached` serves them from the apiserver's watch cache (`resourceVersion=0`): no
        etcd read, but possibly a moment behind it. `timeout`: for listings larger than one call's."""
        return self.list_at(path, label_selector, cached=cached, timeout=timeout)[0]

    def list_at(
        self,
        path: str,
        label_selector: str | None = None,
        *,
        cached: bool = False,
        timeout: Timeout = DEFAULT_TIMEOUT,
    ) -> tuple[Items, int]:
        """The items and the list's resourceVersion (the etcd revision it was read at; -1 if unreadable)."""
        query = {"labelSelector": label_selector} if label_selector else {}
        if cached:
            query["resourceVersion"] = "0"
        answer = self.request("GET", path, query=query or None, timeout=timeout)
        version = str((answer.get("metadata") or {}).get("resourceVersion", ""))
        return cast(Items, answer["items"]), int(version) if version.isdigit() else -1

    def list_in(
        self,
        path: Callable[[str | None], str],
        namespaces: Sequence[str] = (),
        label_selector: str | None = None,
        *,
        timeout: Timeout = DEFAULT_TIMEOUT,
    ) -> tuple[Items, int]:
        """One cluster-wide LIST of `path(None)`, or with `namespaces` one LIST per namespace (namespaced
        RBAC refuses a cluster-wide one); the version is then the oldest one read, the one all the
        listings are newer than."""
        if not namespaces:
            return self.list_at(path(None), label_selector, timeout=timeout)
        items: Items = []
        versions = []
        for ns in namespaces:
            got, version = self.list_at(path(ns), label_selector, timeout=timeout)
            items.extend(got)
            versions.append(version)
        return items, min(versions)

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
