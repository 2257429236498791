"""`kubetask config ...` edits the contexts file as kubectl config does; tokens stay out of sight."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner, Result

from kubetask.cli import app


@pytest.fixture
def kt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("KUBETASK_CONFIG", str(tmp_path / "kubetask" / "config.yaml"))

    def run(*args: str) -> Result:
        return CliRunner().invoke(app, ["config", *args])

    return run


def test_set_use_view_and_delete_contexts(kt, tmp_path: Path) -> None:
    assert kt("set-context", "prod", "--api-url", "https://p.example", "--token", "s3cr3t").stdout == (
        'Context "prod" created.\n'
    )
    assert kt("set-context", "dev", "--api-url", "http://127.0.0.1:9000", "-n", "team").exit_code == 0
    assert kt("current-context").stdout == "prod\n"  # the first context becomes the current one
    assert kt("set-context", "prod", "--namespace", "a").stdout == 'Context "prod" modified.\n'
    assert kt("use-context", "dev").stdout == 'Switched to context "dev".\n'
    assert kt("current-context").stdout == "dev\n"

    on_disk = yaml.safe_load((tmp_path / "kubetask" / "config.yaml").read_text())
    assert on_disk == {
        "current-context": "dev",
        "contexts": {
            "dev": {"api-url": "http://127.0.0.1:9000", "namespace": "team"},
            "prod": {"api-url": "https://p.example", "token": "s3cr3t", "namespace": "a"},
        },
    }
    shown = yaml.safe_load(kt("view").stdout)
    assert shown["contexts"]["prod"]["token"] == "REDACTED"
    assert yaml.safe_load(kt("view", "--raw").stdout) == on_disk
    assert json.loads(kt("view", "-o", "json").stdout)["current-context"] == "dev"

    table = kt("get-contexts").stdout.splitlines()
    assert [line.split() for line in table] == [
        ["CURRENT", "NAME", "API-URL", "NAMESPACE"],
        ["*", "dev", "http://127.0.0.1:9000", "team"],
        ["prod", "https://p.example", "a"],
    ]
    listed = json.loads(kt("get-contexts", "-o", "json").stdout)["items"]
    assert [(c["name"], c["current"], c.get("token")) for c in listed] == [
        ("dev", True, None),
        ("prod", False, "REDACTED"),
    ]

    assert kt("delete-context", "dev").stdout == 'Deleted context "dev".\n'
    assert kt("current-context").exit_code == 2
    assert kt("get-contexts", "-o", "name").stdout == "prod\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["use-context", "nope"], "error: no context 'nope' (known: none yet)"),
        (["set-context", "x", "--api-url", "localhost:8080"], "error: --api-url 'localhost:8080': give an http://"),
        (["delete-context", "nope"], "error: no context 'nope' in "),
        (["view", "-o", "table"], "error: -o: config view prints yaml, json or jsonpath"),
    ],
)
def test_config_errors_are_one_line_exit_2(kt, args: list[str], message: str) -> None:
    r = kt(*args)
    assert r.exit_code == 2 and r.stdout == ""
    assert r.stderr.startswith(message) and len(r.stderr.splitlines()) == 1


def test_a_malformed_config_file_names_the_file_and_field(kt, tmp_path: Path) -> None:
    path = tmp_path / "kubetask" / "config.yaml"
    path.parent.mkdir()
    path.write_text("contexts:\n  a: {url: x}\n")
    r = kt("current-context")
    assert (r.exit_code, r.stderr) == (
        2,
        f"error: {path}: /contexts/a/url is not a setting; use api-url, token, namespace\n",
    )
