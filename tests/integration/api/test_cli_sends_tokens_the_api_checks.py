"""The CLI against the API with authentication on (KUBETASK_API_AUTH=kubernetes) and the suite's real
apiserver reviewing: the kubeconfig's token by default, a ServiceAccount's from KUBETASK_TOKEN; no
token, a garbage token and a missing permission each end in one line saying what to do, exit 3, and
the token never shows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, create, service_account_token, template
from kubetask.testing.rbac import grant_in_namespace
from kubetask.testing.serve import serve

VIEWER = "viewer"


@pytest.fixture
def checking_api(cluster: Cluster, tmp_path: Path) -> Iterator[str]:
    """The API on a loopback port, reviewing every token with the suite's apiserver (no operator:
    a submit answers once its Task is created, and history is the empty database's)."""
    settings = ApiSettings(database_url=f"sqlite:///{tmp_path / 'kubetask.db'}", auth="kubernetes")
    with serve(create_app(settings, api=cluster.api())) as url:
        yield url


@pytest.fixture
def cli_env(checking_api: str, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI aimed at the checking API, with no token from anywhere unless a test gives one."""
    monkeypatch.setenv("KUBETASK_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("KUBETASK_API_URL", checking_api)
    monkeypatch.setenv("KUBETASK_NAMESPACE", namespace)
    monkeypatch.delenv("KUBETASK_TOKEN", raising=False)
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("HOME", str(tmp_path))


def _viewer_token(cluster: Cluster, ns: str) -> str:
    """ServiceAccount NS/viewer, allowed to read kubetask's resources in NS only (a Role), and its token."""
    grant_in_namespace(cluster, ns, VIEWER, ["tasks", "tasktemplates"], ["get", "list"])
    return service_account_token(cluster, ns, VIEWER)


def kt(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.usefixtures("cli_env")
def test_the_kubeconfig_token_is_sent_when_nothing_else_gives_one(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    r = kt("list")
    assert r.exit_code == 3, r.output
    assert r.stderr.startswith("error: unauthorized: the API needs a bearer token and none was sent; pass --token")
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))  # the suite's admin (system:masters)
    r = kt("list")
    assert r.exit_code == 0, r.stderr


@pytest.mark.usefixtures("cli_env")
def test_a_token_without_the_right_is_told_what_it_lacks_and_a_garbage_one_is_refused(
    cluster: Cluster, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    token = _viewer_token(cluster, namespace)
    monkeypatch.setenv("KUBETASK_TOKEN", token)
    assert kt("list").exit_code == 0
    r = kt("submit", "echo", "-p", "message=hi")
    assert r.exit_code == 3, r.output
    user = f"system:serviceaccount:{namespace}:{VIEWER}"
    assert r.stderr.startswith(f'error: forbidden: User "{user}" cannot create resource "tasks"'), r.stderr
    assert "(with the token from KUBETASK_TOKEN)" in r.stderr and "\n" not in r.stderr.rstrip("\n")
    r = kt("list", "-n", "default")
    assert r.exit_code == 3 and 'in the namespace "default"' in r.stderr, r.stderr
    r = kt("list", "--token", "garbage")
    assert r.exit_code == 3
    assert r.stderr.startswith("error: unauthorized: the API refused the token from --token"), r.stderr
    for out in (r.stdout, r.stderr):
        assert token not in out and "garbage" not in out
