"""The CLI's one way to the REST API: `@with_api` connects a command, `Api.call()` does a request.

A command that talks to the API is decorated with `with_api` and takes a keyword-only `api`:

    @app.command()
    @with_api
    def get(name: NameArg, output: OutputOpt = None, *, api: Api) -> None:
        fmt = parse_format(output)
        emit(api.call("GET", api.ns("tasks", name)), fmt, task_columns())

`with_api` appends the four connection options (`-n/--namespace`, `--api-url`, `--token`,
`--context`: `CONNECTION_OPTIONS`) to the command's own, so they go after the command as with
kubectl (`kubetask get x -n ns`) and mix freely with its arguments, and hands it an `Api` for the
target they name (`resolve()`: flag > environment > config file). A command that declares one of
the four itself keeps its own definition and is given the value too (`templates apply` compares
`-n` with its manifests); `@with_api(namespace=...)` defines `--namespace` otherwise (`end2end`,
whose `-n` is its count).
Rejected: the options on a root or group callback (they would have to come before the verb,
`kubetask -n ns get x`); the aliases listed in every command (the same four lines and the same
connect block in each of the 17 commands).

The `Api` resolves its target at its first use, not when the command starts, so the command's
own usage errors (a bad `-o`, a bad file) are reported before a bad context. `Api.call` returns
the decoded JSON or raises `ApiError` (exit 3) with one line: the problem's status, title and
detail and every field pointer. The token is sent as `Authorization: Bearer <token>` whenever
one is set (from `--token`, `KUBETASK_TOKEN`, the context or the current kubeconfig's user:
kubetask.cli._config). A 401 or 403 says, on its one line, what to do about it: which token was
refused, or that none was sent and where one can come from; the token itself is never printed.
"""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated, Any, overload
from urllib.parse import quote

import httpx
import typer

from . import _config, _kubeconfig
from ._errors import ApiError

ApiUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--api-url", "--api", help="Base URL of the kubetask API [env: KUBETASK_API_URL].", show_default=False
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token",
        help="Bearer token [env: KUBETASK_TOKEN; else the context's, else the current kubeconfig user's].",
        show_default=False,
    ),
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

# the options `with_api` adds to a command, by parameter name (the names completion reads, too)
CONNECTION_OPTIONS: dict[str, Any] = {
    "namespace": NamespaceOpt,
    "api_url": ApiUrlOpt,
    "token": TokenOpt,
    "context": ContextOpt,
}

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


NO_TOKEN_HINT = (
    "pass --token, set KUBETASK_TOKEN, give the context one (kubetask config set-context NAME --token ...) "
    "or use a kubeconfig whose current user has a token"
)


def auth_line(status: int, body: Any, *, token_source: str | None) -> str:
    """The line for a 401 or 403: the API's detail and what to do (see the module docstring)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if status == 403:
        as_whom = f" (with the token from {token_source})" if token_source else ""
        what = detail or "the API refused the request"
        return f"forbidden: {what}{as_whom}; ask for a RoleBinding granting it (e.g. to edit or view in the namespace)"
    if token_source is None:
        return f"unauthorized: the API needs a bearer token and none was sent; {NO_TOKEN_HINT}"
    why = f": {detail}" if detail else ""
    return f"unauthorized: the API refused the token from {token_source}{why}; pass a valid one with --token"


def _problem(r: httpx.Response, target: _config.Target) -> ApiError:
    try:
        body = r.json()
    except ValueError:
        body = None
    if r.status_code in (401, 403):
        return ApiError(auth_line(r.status_code, body, token_source=target.token_source), status=r.status_code)
    return ApiError(problem_line(r.status_code, body, r.text), status=r.status_code)


class Api:
    """An HTTP client bound to one target (URL, token, namespace), given resolved or as the function
    that resolves it at first use; a context manager that closes its connections on exit."""

    def __init__(
        self, target: _config.Target | Callable[[], _config.Target], *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self._target = target
        self._transport = transport
        self._client: httpx.Client | None = None

    def __enter__(self) -> Api:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._client is not None:
            self._client.close()

    @property
    def target(self) -> _config.Target:
        if not isinstance(self._target, _config.Target):
            self._target = self._target()
        return self._target

    @property
    def namespace(self) -> str:
        return self.target.namespace

    def _http(self) -> httpx.Client:
        if self._client is None:
            headers = {"Authorization": f"Bearer {self.target.token}"} if self.target.token else {}
            self._client = httpx.Client(
                base_url=self.target.api_url, headers=headers, timeout=TIMEOUT_SECONDS, transport=self._transport
            )
        return self._client

    def ns(self, *parts: str, namespace: str | None = None) -> str:
        """The path `/api/v1/namespaces/<ns>/<parts...>` (each part URL-quoted)."""
        tail = "/".join(quote(p, safe="") for p in parts)
        return f"/api/v1/namespaces/{quote(namespace or self.namespace, safe='')}/{tail}"

    @contextmanager
    def stream(self, path: str, *, params: Any = None) -> Iterator[httpx.Response]:
        """GET `path` as it comes (no read timeout: a followed log may be quiet for long); a problem
        or no answer, also while reading, is an ApiError as for `call`."""
        try:
            with self._http().stream(
                "GET", path, params=params, timeout=httpx.Timeout(TIMEOUT_SECONDS, read=None)
            ) as r:
                if r.status_code >= 400:
                    r.read()
                    raise _problem(r, self.target)
                yield r
        except httpx.HTTPError as e:
            raise ApiError(f"cannot read from the kubetask API at {self.target.api_url}: {e}") from e

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
        http = self._http()
        try:
            r = http.request(method, path, params=params, json=json, headers=headers)
        except httpx.HTTPError as e:
            raise ApiError(f"cannot reach the kubetask API at {self.target.api_url}: {e}") from e
        if r.status_code >= 400:
            raise _problem(r, self.target)
        if not r.content:
            return None
        try:
            return r.json()
        except ValueError as e:
            raise ApiError(f"{r.status_code}: the API answered something that is not JSON: {r.text[:200]}") from e


def resolve(
    *,
    api_url: str | None = None,
    token: str | None = None,
    namespace: str | None = None,
    context: str | None = None,
) -> _config.Target:
    """The target the flags, environment and config file name (see kubetask.cli._config)."""
    env = dict(os.environ)
    config = _config.load(_config.config_path(env))
    kube = functools.partial(_kubeconfig.current_user_token, env)
    return _config.resolve(
        config, env, api_url=api_url, token=token, namespace=namespace, context=context, kubeconfig=kube
    )


@overload
def with_api(command: Callable[..., None], /) -> Callable[..., None]: ...


@overload
def with_api(*, namespace: Any) -> Callable[[Callable[..., None]], Callable[..., None]]: ...


def with_api(command: Callable[..., None] | None = None, /, *, namespace: Any = NamespaceOpt) -> Any:
    """`command` with the connection options after its own parameters, called with `api=` (see the
    module docstring); `namespace=` replaces the definition of `-n/--namespace` (an `Annotated`
    option like `NamespaceOpt`)."""
    if command is None:
        return functools.partial(_connected, options={**CONNECTION_OPTIONS, "namespace": namespace})
    return _connected(command, options=CONNECTION_OPTIONS)


def _connected(command: Callable[..., None], *, options: dict[str, Any]) -> Callable[..., None]:
    own = inspect.signature(command, eval_str=True)
    params = [p for name, p in own.parameters.items() if name != "api"]
    declared = {p.name for p in params}
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=option)
        for name, option in options.items()
        if name not in declared
    ]

    @functools.wraps(command)
    def run(**kwargs: Any) -> None:
        flags = {name: kwargs[name] if name in declared else kwargs.pop(name) for name in options}
        with Api(functools.partial(resolve, **flags)) as api:
            command(**kwargs, api=api)

    every = [*params, *added]
    run.__signature__ = own.replace(parameters=every)  # type: ignore[attr-defined]
    run.__annotations__ = {p.name: p.annotation for p in every} | {"return": own.return_annotation}
    return run
