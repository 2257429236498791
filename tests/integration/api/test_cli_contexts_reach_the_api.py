"""Contexts pick the API, namespace and token; the environment overrides them, flags override both."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from kubetask.cli import app as cli
from kubetask.testing.cluster import Cluster, create, get_task, template


@pytest.fixture
def clean_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETASK_CONFIG", str(tmp_path / "config.yaml"))
    for key in ("KUBETASK_API_URL", "KUBETASK_TOKEN", "KUBETASK_NAMESPACE"):
        monkeypatch.delenv(key, raising=False)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[tuple[str, str | None]]]]:
    """A loopback server that records (path, Authorization) and answers an empty task list: the API
    checks no tokens yet (authentication comes later), so only this shows what the CLI sends."""
    seen: list[tuple[str, str | None]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append((self.path.split("?")[0], self.headers.get("Authorization")))
            body = json.dumps({"items": [], "nextCursor": None}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


@pytest.mark.usefixtures("clean_env")
def test_context_then_environment_then_flags(
    cluster: Cluster, namespace: str, api_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    assert run("config", "set-context", "local", "--api-url", api_url, "-n", namespace).exit_code == 0

    sub = run("submit", "echo", "--name", "via-context", "-p", "message=x")  # URL and namespace from the context
    assert sub.exit_code == 0, sub.stderr
    assert get_task(cluster, namespace, "via-context")["spec"]["params"] == {"message": "x"}

    monkeypatch.setenv("KUBETASK_NAMESPACE", "default")  # the environment wins over the context...
    assert run("get", "via-context").exit_code == 3
    assert run("get", "via-context", "-n", namespace).exit_code == 0  # ...and a flag over both
    monkeypatch.setenv("KUBETASK_API_URL", "http://127.0.0.1:9")
    assert run("get", "via-context", "-n", namespace).exit_code == 3
    assert run("get", "via-context", "-n", namespace, "--api-url", api_url).exit_code == 0

    unknown = run("get", "via-context", "--context", "nope")
    assert unknown.exit_code == 2 and unknown.stderr.startswith("error: --context: no context 'nope' (known: local)")


@pytest.mark.usefixtures("clean_env")
def test_the_token_is_sent_as_a_bearer_header(recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    url, seen = recorder
    run("config", "set-context", "a", "--api-url", url, "--token", "from-context", "-n", "ns-a")
    run("config", "set-context", "b", "--api-url", url, "-n", "ns-b")

    assert run("list", "--context", "a").exit_code == 0
    assert run("list", "--context", "b").exit_code == 0
    monkeypatch.setenv("KUBETASK_TOKEN", "from-env")
    assert run("list", "--context", "a").exit_code == 0
    assert run("list", "--context", "a", "--token", "from-flag").exit_code == 0
    assert seen == [
        ("/api/v1/namespaces/ns-a/tasks", "Bearer from-context"),
        ("/api/v1/namespaces/ns-b/tasks", None),
        ("/api/v1/namespaces/ns-a/tasks", "Bearer from-env"),
        ("/api/v1/namespaces/ns-a/tasks", "Bearer from-flag"),
    ]
