"""Schemathesis generates requests from the OpenAPI schema; none may end in a 5xx."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.testing.cluster import Cluster, create, template


def test_no_request_gets_a_server_error(cluster: Cluster, namespace: str, tmp_path: Path) -> None:
    # One real namespace with a template, so some generated requests reach deep paths.
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo", paramSchema={"type": "object"}))
    app = create_app(ApiSettings(database_url=f"sqlite:///{tmp_path / 'fuzz.db'}"), api=cluster.api())
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    calls = 0

    for op in operations:

        @given(case=op.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: Any) -> None:
            nonlocal calls
            if "ns" in case.path_parameters and calls % 3 == 0:
                case.path_parameters["ns"] = namespace  # reach existing objects too, not only 404s
            calls += 1
            case.call_and_validate(checks=[not_a_server_error])

        check()

    assert len(operations) >= 14 and calls >= 14 * 10
