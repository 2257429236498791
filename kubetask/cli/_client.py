"""The CLI's one way to the REST API: `connect()` resolves the target, `Api.call()` does a request.

Every command that talks to the API takes the four connection options below (`ApiUrlOpt`,
`TokenOpt`, `ContextOpt`, `NamespaceOpt`) and passes them to `connect()`:

    def get(name: str, namespace: NamespaceOpt = None, api_url: ApiUrlOpt = None,
            token: TokenOpt = None, context: ContextOpt = None) -> None:
        with connect(api_url=api_url, token=token, namespace=namespace, context=context) as api:
            task = api.call("GET", api.ns("tasks", name))

The options sit on each command rather than on the root so they go after the command, as with
kubectl (`kubetask get x -n ns`). `Api.call` returns the decoded JSON or raises `ApiError`
(exit 3) with one line: the problem's status, title and detail and every field pointer. The token
is sent as `Authorization: Bearer <token>` whenever one is set.
"""

from __future__ import annotations

import os
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer

from . import _config
from ._errors import ApiError

ApiUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--api-url", "--api", help="Base URL of the kubetask API [env: KUBETASK_API_URL].", show_default=False
    ),
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="Bearer token [env: KUBETASK_TOKEN].", show_default=False)
]
ContextOpt = Annotated[
    str | None, typer.Option("--context", help="Context of the config file to use.", show_default=False)
]
NamespaceOpt = Annotated[
    str | None,
    typer.Option(
        "--namespace", "-n", help="Namespace [env: KUBETASK_NAMESPACE; default: default].", show_default=False
    ),
]

TIMEOUT_SECONDS = 30.0  # one request; the API answers within its own database/apiserver deadlines


def problem_line(status: int, body: Any, text: str) -> str:
    """One line from an error answer: `422 Request is invalid: <detail> [/params/n: <detail>; ...]`."""
    if not isinstance(body, dict):
        return f"{status}: {text[:200] or 'no body'}"
    title = body.get("title") or ""
    detail = body.get("detail") or ""
    line = f"{status} {title}: {detail}" if title and detail else f"{status}: {title or detail or text[:200]}"
    fields = [e for e in body.get("errors") or [] if isinstance(e, dict) and e.get("pointer")]
    if fields and not all(f"{e['pointer']}: " in detail for e in fields):
        line += " [" + "; ".join(f"{e['pointer']}: {e.get('detail', '')}" for e in fields) + "]"
    return line


class Api:
    """An HTTP client bound to one resolved target (URL, token, namespace); a context manager that
    closes its connections on exit."""

    def __init__(self, target: _config.Target, *, transport: httpx.BaseTransport | None = None) -> None:
        self.target = target
        headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        self._http = httpx.Client(
            base_url=target.api_url, headers=headers, timeout=TIMEOUT_SECONDS, transport=transport
        )

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    @property
    def namespace(self) -> str:
        return self.target.namespace

    def ns(self, *parts: str, namespace: str | None = None) -> str:
        """The path `/api/v1/namespaces/<ns>/<parts...>` (each part URL-quoted)."""
        tail = "/".join(quote(p, safe="") for p in parts)
        return f"/api/v1/namespaces/{quote(namespace or self.namespace, safe='')}/{tail}"

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        """The decoded JSON answer (None for an empty one); ApiError for a problem or no answer."""
        try:
            r = self._http.request(method, path, params=params, json=json, headers=headers)
        except httpx.HTTPError as e:
            raise ApiError(f"cannot reach the kubetask API at {self.target.api_url}: {e}") from e
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = None
            raise ApiError(problem_line(r.status_code, body, r.text), status=r.status_code)
        if not r.content:
            return None
        try:
            return r.json()
        except ValueError as e:
            raise ApiError(f"{r.status_code}: the API answered something that is not JSON: {r.text[:200]}") from e


def connect(
    *,
    api_url: str | None = None,
    token: str | None = None,
    namespace: str | None = None,
    context: str | None = None,
) -> Api:
    """An Api for the target the flags, environment and config file name (see kubetask.cli._config)."""
    env = dict(os.environ)
    config = _config.load(_config.config_path(env))
    target = _config.resolve(config, env, api_url=api_url, token=token, namespace=namespace, context=context)
    return Api(target)
