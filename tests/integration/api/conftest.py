"""API fixtures: the FastAPI app in-process (real SQL, real cluster), optionally with the operator;
`api_url`: the app served by uvicorn on loopback, and `kt`: the CLI in process, aimed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, OperatorProcess
from kubetask.testing.serve import serve
from kubetask.testing.tokens import admin_headers


@pytest.fixture(autouse=True)
def _cli_finds_the_admin_token(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """KUBECONFIG names the suite's kubeconfig, whose user's token (the admin's) the CLI sends when no
    flag, variable or context gives one, as kubectl would: in process and in the CLI's subprocesses
    alike. A test about tokens sets its own KUBECONFIG."""
    if "cluster" in request.fixturenames:
        monkeypatch.setenv("KUBECONFIG", str(request.getfixturevalue("cluster").kubeconfig))


@dataclass
class Stack:
    http: TestClient
    database_url: str
    cluster: Cluster


def _client(cluster: Cluster, url: str, **settings: object) -> TestClient:
    """The app with authentication on, every request sending the cluster admin's token."""
    app = create_app(ApiSettings(database_url=url, **settings), api=cluster.api())  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False, headers=admin_headers(cluster))


@pytest.fixture
def stack(database_url: str, cluster: Cluster, operator: OperatorProcess) -> Iterator[Stack]:
    """API + operator mirroring to the same database, on SQLite and on PostgreSQL (`database_url`'s two)."""
    operator.use_database(database_url)
    with _client(cluster, database_url) as http:
        yield Stack(http, database_url, cluster)


@pytest.fixture
def http(cluster: Cluster, tmp_path: Path) -> Iterator[TestClient]:
    """The API alone (no operator): for validation paths that must create nothing."""
    with _client(cluster, f"sqlite:///{tmp_path / 'kubetask.db'}", max_params_bytes=4096) as client:
        yield client


@pytest.fixture
def api_url(cluster: Cluster, operator: OperatorProcess) -> Iterator[str]:
    """The API on a loopback port with authentication on, reading the history the session's operator
    mirrors (its current database, so the operator is not restarted; tests tell their tasks apart by
    namespace). Requests send `admin_headers(cluster)`; the CLI finds the same token in KUBECONFIG."""
    operator.use_database(operator.database_url)
    settings = ApiSettings(database_url=operator.database_url, auth="kubernetes")
    with serve(create_app(settings, api=cluster.api())) as url:
        yield url


@pytest.fixture
def kt(api_url: str, namespace: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """`kt("get", name)`: `kubetask ARGS...` in process (Typer's runner; stdout and stderr apart),
    aimed at `api_url` and the test's namespace through the environment, with a config file of its own."""
    monkeypatch.setenv("KUBETASK_CONFIG", str(tmp_path / "config.yaml"))
    monkeypatch.setenv("KUBETASK_API_URL", api_url)
    monkeypatch.setenv("KUBETASK_NAMESPACE", namespace)
    monkeypatch.delenv("KUBETASK_TOKEN", raising=False)

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args))

    return run
