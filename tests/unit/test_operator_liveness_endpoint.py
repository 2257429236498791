"""The operator serves kopf's liveness endpoint only when asked to (the chart asks, on port 8081): a
process on a host, such as the test suite's operator, opens no port by default."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from kubetask.operator.main import liveness_endpoint
from kubetask.operator.settings import OperatorSettings


def test_no_liveness_endpoint_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBETASK_OPERATOR_LIVENESS_PORT", raising=False)
    settings = OperatorSettings()
    assert settings.liveness_port is None
    assert liveness_endpoint(settings) is None


def test_a_liveness_port_serves_healthz_on_every_address(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBETASK_OPERATOR_LIVENESS_PORT", "8081")
    settings = OperatorSettings()
    assert settings.liveness_port == 8081
    assert liveness_endpoint(settings) == "http://0.0.0.0:8081/healthz"  # a kubelet probes the pod's IP


@pytest.mark.parametrize("port", ["0", "65536", "http"])
def test_a_port_that_cannot_be_listened_on_is_refused_at_start(monkeypatch: pytest.MonkeyPatch, port: str) -> None:
    monkeypatch.setenv("KUBETASK_OPERATOR_LIVENESS_PORT", port)
    with pytest.raises(ValidationError, match="liveness_port"):
        OperatorSettings()
