"""API fixtures: the FastAPI app in-process (real SQL, real cluster), optionally with the operator."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.testing.cluster import Cluster, OperatorProcess
from kubetask.testing.postgres import PostgresServer


@dataclass
class Stack:
    http: TestClient
    database_url: str
    cluster: Cluster


def _client(cluster: Cluster, url: str, **settings: object) -> TestClient:
    app = create_app(ApiSettings(database_url=url, **settings), api=cluster.api())  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def stack(
    request: pytest.FixtureRequest, cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> Iterator[Stack]:
    """API + operator mirroring to the same database, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'kubetask.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.new_database()
    operator.use_database(url)
    with _client(cluster, url) as http:
        yield Stack(http, url, cluster)


@pytest.fixture
def http(cluster: Cluster, tmp_path: Path) -> Iterator[TestClient]:
    """The API alone (no operator): for validation paths that must create nothing."""
    with _client(cluster, f"sqlite:///{tmp_path / 'kubetask.db'}", max_params_bytes=4096) as client:
        yield client
