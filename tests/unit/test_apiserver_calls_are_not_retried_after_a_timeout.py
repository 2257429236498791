"""A timed-out apiserver call fails at once; a refused connect or a dropped pooled connection is
retried as urllib3 does by default (kubetask.kubeapi.RETRIES)."""

from __future__ import annotations

import pytest
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProtocolError, ReadTimeoutError

from kubetask.kubeapi import RETRIES


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ReadTimeoutError(None, "/api", "Read timed out."), id="read"),  # type: ignore[arg-type]
        pytest.param(ConnectTimeoutError("TLS handshake timed out"), id="connect"),
    ],
)
def test_a_timeout_is_raised_at_once(error: Exception) -> None:
    with pytest.raises(type(error)):
        RETRIES.increment("GET", "/api", error=error)


@pytest.mark.parametrize(
    ("method", "error"),
    [
        pytest.param("GET", ProtocolError("Connection aborted."), id="dropped"),
        pytest.param("POST", NewConnectionError(None, "Connection refused"), id="refused"),  # type: ignore[arg-type]
    ],
)
def test_a_broken_connection_is_retried_three_times(method: str, error: Exception) -> None:
    retry = RETRIES
    for left in (2, 1, 0):
        retry = retry.increment(method, "/api", error=error)
        assert retry.total == left
    with pytest.raises(Exception, match="Max retries exceeded"):
        retry.increment(method, "/api", error=error)
