"""Each operator replica names itself on every apiserver request: the audit log tells replicas apart
by User-Agent, so the default must carry the identity and kopf's client must send it too."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetask.kubeapi import load_client
from kubetask.operator.main import _AgentConnection
from kubetask.operator.settings import OperatorSettings


def test_the_default_user_agent_names_the_version_and_the_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETASK_OPERATOR_IDENTITY", "replica-b")
    monkeypatch.delenv("KUBETASK_OPERATOR_USER_AGENT", raising=False)
    assert OperatorSettings().user_agent == "kubetask-operator/0.1.0 (replica-b)"


def test_an_explicit_user_agent_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETASK_OPERATOR_USER_AGENT", "ops-probe/1")
    assert OperatorSettings().user_agent == "ops-probe/1"


def test_kopfs_session_headers_carry_the_user_agent_next_to_the_credentials() -> None:
    info = _AgentConnection(server="https://127.0.0.1:6443", token="abc", user_agent="kubetask-operator/0.1.0 (a)")
    assert info.as_http_headers() == {"Authorization": "Bearer abc", "User-Agent": "kubetask-operator/0.1.0 (a)"}


def test_the_operators_api_client_sends_it_on_our_json_calls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: k, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: k, user: u}}]\n"
    )
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    api = load_client("kubetask-operator/0.1.0 (a)")
    # JsonApi.request sends the client's default_headers with each call
    assert api.default_headers["User-Agent"] == "kubetask-operator/0.1.0 (a)"
