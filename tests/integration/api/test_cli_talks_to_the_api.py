"""`kubetask submit` / `kubetask list` against a real uvicorn server: output, exit codes, one-line errors."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from kubetask.api.app import create_app
from kubetask.api.settings import ApiSettings
from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, OperatorProcess, create, get_task, template, wait_for, wait_task
from kubetask.testing.timestamps import parse_instant


@pytest.fixture
def api_url(cluster: Cluster, operator: OperatorProcess, tmp_path: Path) -> Iterator[str]:
    """The API on a loopback port, reading the history the session's operator mirrors."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    operator.use_database(url)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(ApiSettings(database_url=url), api=cluster.api())
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def test_submit_prints_the_name_and_errors_are_one_line(cluster: Cluster, namespace: str, api_url: str) -> None:
    schema = {"type": "object", "required": ["message"]}
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo", paramSchema=schema))
    run = CliRunner().invoke

    ok = run(cli, ["submit", "echo", "-n", namespace, "-p", '{"message": "cli"}', "--api", api_url])
    assert ok.exit_code == 0, ok.output
    assert get_task(cluster, namespace, ok.output.strip())["spec"]["params"] == {"message": "cli"}

    bad_json = run(cli, ["submit", "echo", "-n", namespace, "-p", "{nope", "--api", api_url])
    assert bad_json.exit_code == 1 and "--params is not JSON" in bad_json.output

    bad_params = run(cli, ["submit", "echo", "-n", namespace, "-p", "{}", "--api", api_url])
    assert bad_params.exit_code == 1
    assert bad_params.output.strip().splitlines() == ["error: 422: /params: 'message' is a required property"]

    down = run(cli, ["list", "--api", "http://127.0.0.1:9"])
    assert down.exit_code == 1 and "cannot reach the kubetask API" in down.output

    # the one task created (the refused ones created nothing), as the CR says once it finished
    name = ok.output.strip()
    st = wait_task(cluster, namespace, name)["status"]
    took = (parse_instant(st["completionTime"]) - parse_instant(st["startTime"])).total_seconds()
    expected = [namespace, name, "echo", "Succeeded", "1", f"{took:.0f}s", '{"message": "cli"}']

    def rows() -> list[list[str]] | None:
        listed = run(cli, ["list", "-n", namespace, "--api", api_url])
        assert listed.exit_code == 0, listed.output
        lines = listed.output.splitlines()
        assert lines[0].split() == ["NAMESPACE", "NAME", "TEMPLATE", "PHASE", "ATTEMPTS", "DURATION", "RESULT"]
        found = [line.rstrip().split(None, 6) for line in lines[1:] if line.strip()]
        return found if found and found[0][3] == "Succeeded" else None  # the mirror has the final state

    assert wait_for("the finished task in `kubetask list`", rows) == [expected]
