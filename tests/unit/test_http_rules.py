"""The http handler's pure rules: which status succeeds or is retried, Retry-After, redaction, the size cap."""

from __future__ import annotations

import json
import socket
import ssl
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubetask.executor import http_rules as rules
from kubetask.executor.http_task import _network_failure

NOW = datetime(2026, 12, 2, 8, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("status", "patterns", "expected"),
    [
        (200, ["2xx"], True),
        (299, ["2xx"], True),
        (301, ["2xx"], False),
        (204, ["204"], True),
        (200, ["204"], False),
        (250, ["200-299"], True),
        (404, ["2xx", "404"], True),
    ],
)
def test_success_status_patterns(status: int, patterns: list[str], expected: bool) -> None:
    assert rules.is_success(status, patterns) is expected


@pytest.mark.parametrize(
    ("status", "retryable"),
    [(500, True), (503, True), (599, True), (429, True), (408, True), (400, False), (404, False), (302, False)],
)
def test_which_failing_status_is_retried(status: int, retryable: bool) -> None:
    assert rules.status_is_retryable(status) is retryable


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("8", 8.0),
        (" 120 ", 120.0),
        ("Wed, 02 Dec 2026 08:00:08 GMT", 8.0),
        ("Wed, 02 Dec 2026 07:59:00 GMT", 0.0),  # a date in the past: at once
        ("soon", None),
        ("-5", None),
        (None, None),
    ],
    ids=["seconds", "padded", "http-date", "past-date", "garbage", "negative", "absent"],
)
def test_retry_after_as_seconds_or_an_http_date(header: str | None, seconds: float | None) -> None:
    assert rules.retry_after_seconds(header, now=NOW) == seconds


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (socket.gaierror(socket.EAI_NONAME, "Name or service not known"), "DNS"),
        (TimeoutError("timed out"), "Timeout"),
        (ssl.SSLCertVerificationError("certificate verify failed"), "TLS"),
        (ConnectionRefusedError(111, "refused"), "Connect"),
        (ConnectionResetError(104, "reset"), "Connect"),
        (OSError(101, "Network is unreachable"), "Network"),
    ],
)
def test_every_network_failure_is_retryable_and_named(error: OSError, kind: str) -> None:
    call = rules.parse_call({"url": "http://api.test/x"}, task_uid=None)
    failure = _network_failure(error, call, ())
    assert failure.retryable and failure.kind == kind and "GET http://api.test/x" in str(failure)


def test_userinfo_and_secrets_leave_the_url() -> None:
    assert rules.redact_url("https://u:pw@h.test:8443/p?token=abcd1234", ("abcd1234",)) == (
        "https://h.test:8443/p?token=[redacted]"
    )


def test_credential_and_cookie_headers_are_redacted_by_name() -> None:
    headers = [("Set-Cookie", "a=1"), ("set-cookie", "b=2"), ("WWW-Authenticate", "Bearer"), ("X-Id", "7")]
    assert rules.redact_headers(headers, ()) == {
        "set-cookie": "[redacted]",
        "www-authenticate": "[redacted]",
        "x-id": "7",
    }


@given(
    excerpt=st.text(max_size=3000),
    headers=st.dictionaries(st.text(min_size=1, max_size=30), st.text(max_size=400), max_size=20),
    parsed=st.recursive(st.text(max_size=50) | st.integers(), lambda x: st.lists(x, max_size=20), max_leaves=80),
)
def test_a_result_always_fits_its_budget(excerpt: str, headers: dict[str, str], parsed: object) -> None:
    result = {"status": 200, "ok": True, "url": "http://h.test/", "redirects": 0, "headers": headers}
    result["body"] = {"size": 1, "sha256": "0" * 64, "excerpt": excerpt, "json": parsed}
    fitted = rules.fit(result)
    assert len(json.dumps(fitted, separators=(",", ":"), ensure_ascii=False).encode()) <= rules.RESULT_BUDGET
    assert fitted["status"] == 200 and fitted["body"]["sha256"] == "0" * 64


def test_every_bad_param_is_named_at_once() -> None:
    params = {
        "url": "http://h.test",
        "headers": {"A": 1},
        "query": [],
        "auth": {"type": "basic"},
        "successStatus": "2x",
    }
    with pytest.raises(rules.ParamsError) as e:
        rules.parse_call(params, task_uid="u")
    assert e.value.problems == [
        "/headers: must be an object of strings",
        "/query: must be an object",
        '/successStatus: "2xx", "204", "200-299", or a list of them',
        "/auth/usernameEnv: required for basic: the name of an env var (set from a Secret)",
        "/auth/passwordEnv: required for basic: the name of an env var (set from a Secret)",
    ]
