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


@dataclass
class Stack:
    http: TestClient
    database_url: str
    cluster: Cluster


def _client(cluster: Cluster, url: str, **settings: object) -> TestClient:
    app = create_app(ApiSettings(database_url=url, **settings), api=cluster.api())  # type: ignore[arg-type]
    return TestClient(app, raise_server_exceptions=False)


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
