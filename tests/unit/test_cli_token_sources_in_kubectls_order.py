"""The CLI's bearer token: --token, else KUBETASK_TOKEN, else the context's, else the current kubeconfig
user's (found and merged as kubectl does); 401 and 403 say what to do, and never show the token."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from kubetask.cli._client import Api, auth_line
from kubetask.cli._config import Config, Context, Target, resolve
from kubetask.cli._errors import ApiError, ExitCode, UsageProblem
from kubetask.cli._kubeconfig import current_user_token, load, paths, user_token

SERVER = {"name": "local", "cluster": {"server": "https://10.0.0.1:6443"}}


def kubeconfig(
    path: Path,
    *,
    current: str | None = None,
    contexts: dict[str, str] | None = None,
    users: dict[str, Any] | None = None,
) -> Path:
    """A kubeconfig at `path`: contexts name -> user, users name -> settings."""
    doc: dict[str, Any] = {"apiVersion": "v1", "kind": "Config", "clusters": [SERVER]}
    if current:
        doc["current-context"] = current
    doc["contexts"] = [{"name": n, "context": {"cluster": "local", "user": u}} for n, u in (contexts or {}).items()]
    doc["users"] = [{"name": n, "user": u} for n, u in (users or {}).items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(doc))
    return path


def kube_token(env: dict[str, str]) -> tuple[str | None, str | None]:
    t = current_user_token(env)
    return (t.token, t.source) if t else (None, None)


@pytest.fixture
def kube_env(tmp_path: Path) -> dict[str, str]:
    """An environment whose KUBECONFIG names a file where the current user has token `kube-token`."""
    path = kubeconfig(
        tmp_path / "kc", current="dev", contexts={"dev": "admin"}, users={"admin": {"token": "kube-token"}}
    )
    return {"KUBECONFIG": str(path), "HOME": str(tmp_path / "home")}


def _resolve(env: dict[str, str], config: Config | None = None, **flags: str) -> Target:
    return resolve(config or Config(), env, kubeconfig=lambda: current_user_token(env), **flags)


CONTEXT = Config(current="prod", contexts={"prod": Context(token="context-token"), "bare": Context()})


@pytest.mark.parametrize(
    ("flags", "extra_env", "config", "token", "source"),
    [
        pytest.param(
            {"token": "flag-token"}, {"KUBETASK_TOKEN": "env-token"}, CONTEXT, "flag-token", "--token", id="flag"
        ),
        pytest.param({}, {"KUBETASK_TOKEN": "env-token"}, CONTEXT, "env-token", "KUBETASK_TOKEN", id="environment"),
        pytest.param({}, {}, CONTEXT, "context-token", 'the context "prod"', id="context"),
        pytest.param({"context": "bare"}, {}, CONTEXT, "kube-token", "kubeconfig", id="context without one"),
        pytest.param({}, {}, Config(), "kube-token", "kubeconfig", id="no context"),
    ],
)
def test_the_first_source_with_a_token_wins(
    kube_env: dict[str, str], flags: dict[str, str], extra_env: dict[str, str], config: Config, token: str, source: str
) -> None:
    t = _resolve({**kube_env, **extra_env}, config, **flags)
    assert t.token == token
    assert t.token_source is not None and source in t.token_source


def test_the_kubeconfig_is_not_read_when_an_earlier_source_has_a_token(tmp_path: Path) -> None:
    (tmp_path / "kc").write_text("{not yaml")  # would be a UsageProblem if it were read
    env = {"KUBECONFIG": str(tmp_path / "kc"), "KUBETASK_TOKEN": "env-token"}
    assert _resolve(env).token == "env-token"
    with pytest.raises(UsageProblem, match=r"kubeconfig .*kc: not valid YAML"):
        _resolve({"KUBECONFIG": str(tmp_path / "kc")})


def test_without_kubeconfig_the_file_is_home_kube_config(tmp_path: Path) -> None:
    assert paths({"HOME": "/h"}) == [Path("/h/.kube/config")]
    assert paths({"KUBECONFIG": "/a::/b", "HOME": "/h"}) == [Path("/a"), Path("/b")]
    kubeconfig(tmp_path / ".kube" / "config", current="c", contexts={"c": "u"}, users={"u": {"token": "home-token"}})
    assert kube_token({"HOME": str(tmp_path)})[0] == "home-token"
    assert kube_token({"HOME": str(tmp_path / "nobody")}) == (None, None)  # no file: no token, no error


def test_several_kubeconfig_files_merge_first_value_wins(tmp_path: Path) -> None:
    first = kubeconfig(tmp_path / "a", current="ctx-b", users={"shared": {"token": "from-a"}})
    second = kubeconfig(
        tmp_path / "b",
        current="ctx-ignored",
        contexts={"ctx-b": "shared", "ctx-ignored": "other"},
        users={"shared": {"token": "from-b"}, "other": {"token": "other"}},
    )
    env = {"KUBECONFIG": f"{tmp_path / 'missing'}:{first}:{second}"}
    token, source = kube_token(env)
    # current-context from a (the first to set it), the context from b, the user from a (first by name)
    assert token == "from-a" and source is not None and str(first) in source and '"shared"' in source


def test_a_token_file_is_read_relative_to_its_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "sa.token").write_text("file-token\n")
    path = kubeconfig(
        tmp_path / "conf" / "kc", current="c", contexts={"c": "u"}, users={"u": {"tokenFile": "sa.token"}}
    )
    token, source = kube_token({"KUBECONFIG": str(path)})
    assert token == "file-token" and source is not None and "sa.token" in source
    absolute = {"tokenFile": str(tmp_path / "conf" / "sa.token")}
    path = kubeconfig(tmp_path / "kc2", current="c", contexts={"c": "u"}, users={"u": absolute})
    assert kube_token({"KUBECONFIG": str(path)})[0] == "file-token"
    path = kubeconfig(tmp_path / "kc3", current="c", contexts={"c": "u"}, users={"u": {"tokenFile": "gone"}})
    with pytest.raises(UsageProblem, match=r"cannot read its tokenFile .*gone"):
        kube_token({"KUBECONFIG": str(path)})


@pytest.mark.parametrize(
    ("current", "contexts", "users"),
    [
        pytest.param(None, {"c": "u"}, {"u": {"token": "t"}}, id="no current context"),
        pytest.param("c", {}, {"u": {"token": "t"}}, id="current context not defined"),
        pytest.param("c", {"c": "nobody"}, {"u": {"token": "t"}}, id="its user not defined"),
        pytest.param(
            "c", {"c": "u"}, {"u": {"client-certificate": "/x.crt", "client-key": "/x.key"}}, id="certificates"
        ),
        pytest.param("c", {"c": "u"}, {"u": {"exec": {"command": "get-token"}}}, id="exec plugin, not run"),
    ],
)
def test_no_token_when_the_current_user_has_none(
    tmp_path: Path, current: str | None, contexts: dict[str, str], users: dict[str, Any]
) -> None:
    path = kubeconfig(tmp_path / "kc", current=current, contexts=contexts, users=users)
    assert user_token(load([path])) is None
    assert _resolve({"KUBECONFIG": str(path)}).token is None


def test_a_kubeconfig_that_is_not_a_mapping_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "kc").write_text("- a\n- b\n")
    with pytest.raises(UsageProblem, match=r"^kubeconfig .*kc: expected a mapping, got list$"):
        load([tmp_path / "kc"])
    (tmp_path / "empty").write_text("")
    assert load([tmp_path / "empty"]) == []


def _api(target: Target, status: int, body: dict[str, Any], seen: list[httpx.Request]) -> Api:
    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(status, content=json.dumps(body), headers={"content-type": "application/problem+json"})

    return Api(target, transport=httpx.MockTransport(answer))


FORBIDDEN = {
    "title": "Forbidden",
    "status": 403,
    "detail": 'User "system:serviceaccount:a:viewer" cannot create resource "tasks" in API group "kubetask.io" '
    'in the namespace "a"',
}


def test_the_kubeconfig_token_is_sent_and_a_403_names_the_missing_right_not_the_token(
    kube_env: dict[str, str],
) -> None:
    seen: list[httpx.Request] = []
    target = _resolve(kube_env)
    with _api(target, 403, FORBIDDEN, seen) as api, pytest.raises(ApiError) as e:
        api.call("POST", api.ns("tasks"), json={})
    assert seen[0].headers["authorization"] == "Bearer kube-token"
    assert e.value.exit_code == ExitCode.API and e.value.status == 403
    assert e.value.message.startswith(f"forbidden: {FORBIDDEN['detail']} (with the token from the kubeconfig ")
    assert "kube-token" not in e.value.message and "kube-token" not in repr(target)


def test_a_401_without_a_token_lists_the_sources_and_with_one_names_where_it_came_from() -> None:
    seen: list[httpx.Request] = []
    nobody = Target(api_url="http://api", token=None, namespace="a", context=None)
    body = {"title": "Unauthorized", "status": 401, "detail": "a bearer token is required"}
    with _api(nobody, 401, body, seen) as api, pytest.raises(ApiError) as e:
        api.call("GET", api.ns("tasks"))
    assert "authorization" not in seen[0].headers
    assert e.value.message.startswith("unauthorized: the API needs a bearer token and none was sent; pass --token, ")
    assert "KUBETASK_TOKEN" in e.value.message and "kubeconfig" in e.value.message
    refused = auth_line(401, {"detail": "the token is not valid"}, token_source="KUBETASK_TOKEN")
    assert refused == (
        "unauthorized: the API refused the token from KUBETASK_TOKEN: the token is not valid; "
        "pass a valid one with --token"
    )
