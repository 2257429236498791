"""The `http` handler against a real http.server on 127.0.0.1: results, classes of failure, credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask import schema_check
from kubetask.executor import PermanentError, RetryableError
from kubetask.executor.http_task import perform
from kubetask.executor.report import decode
from kubetask.executor.runtime import MAX_RESULT_BYTES, run
from kubetask.models import TaskTemplateSpec

SECRET = "s3cret-token-4711"
NOW = datetime(2026, 12, 2, 8, 0, 0, tzinfo=UTC)
ENV = {"KUBETASK_TASK_UID": "uid-42", "API_TOKEN": SECRET, "API_USER": "robot", "API_PASSWORD": SECRET + "-pw"}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[dict[str, Any]]
    other: str  # base URL of a second server (another origin)


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (http.server's name)
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.seen.append(
            {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body}
        )
        path, _, query = self.path.partition("?")
        if path == "/json":
            echo = {"ok": True, "query": query, "auth": self.headers.get("Authorization")}
            headers = {"Content-Type": "application/json", "Set-Cookie": "session=abc", "X-Echo": str(echo["auth"])}
            self._send(200, json.dumps(echo).encode(), headers)
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            headers = {}
            if "after=" in query:
                headers["Retry-After"] = query.split("after=", 1)[1].replace("%20", " ")
            self._send(code, b"nope " * 3, headers)
        elif path.startswith("/hop/"):
            n = int(path.rsplit("/", 1)[1])
            self._send(302, headers={"Location": f"/hop/{n - 1}" if n > 1 else "/json"})
        elif path == "/see-other":
            self._send(303, headers={"Location": "/json"})
        elif path == "/elsewhere":
            self._send(307, headers={"Location": f"{self.server.other}/json"})
        elif path == "/big":
            self._send(200, b"x" * 200_000, {"Content-Type": "text/plain"})
        elif path == "/silent":
            threading.Event().wait(5)
        else:
            self._send(404)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_HEAD = _serve  # noqa: N815  (http.server's names)


def _start() -> tuple[Server, str]:
    server = Server(("127.0.0.1", 0), Handler)
    server.seen = []
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


@pytest.fixture
def servers() -> Iterator[tuple[Server, str, Server]]:
    main, url = _start()
    other, other_url = _start()
    main.other = other_url
    yield main, url, other
    for s in (main, other):
        s.shutdown()
        s.server_close()


@pytest.fixture
def server(servers: tuple[Server, str, Server]) -> Server:
    return servers[0]


@pytest.fixture
def base(servers: tuple[Server, str, Server]) -> str:
    return servers[1]


def _call(params: dict[str, Any], env: dict[str, str] | None = None) -> dict[str, Any]:
    return perform(params, env=ENV if env is None else env, now=lambda: NOW)


def test_a_2xx_answer_is_the_result_with_every_column(base: str) -> None:
    r = _call({"url": f"{base}/json", "query": {"a": [1, 2], "b": True}})
    assert (r["status"], r["ok"], r["url"], r["redirects"]) == (200, True, f"{base}/json?a=1&a=2&b=true", 0)
    body = r["body"]
    assert body["json"] == {"ok": True, "query": "a=1&a=2&b=true", "auth": None}
    assert body["sha256"] == hashlib.sha256(body["excerpt"].encode()).hexdigest()
    assert body["size"] == len(body["excerpt"]) and body["contentType"] == "application/json"
    assert r["headers"]["set-cookie"] == "[redacted]" and r["headers"]["content-type"] == "application/json"
    assert 0 <= r["timing"]["firstByteMs"] <= r["timing"]["totalMs"]


def test_post_and_patch_send_the_task_uid_as_idempotency_key_unless_given(server: Server, base: str) -> None:
    _call({"method": "POST", "url": f"{base}/json", "json": {"n": 1}})
    _call({"method": "PATCH", "url": f"{base}/json", "body": "x", "idempotencyKey": "mine"})
    _call({"method": "POST", "url": f"{base}/json", "headers": {"Idempotency-Key": "header"}})
    _call({"method": "PUT", "url": f"{base}/json"})
    _call({"url": f"{base}/json"})
    keys = [s["headers"].get("Idempotency-Key") for s in server.seen]
    assert keys == ["uid-42", "mine", "header", None, None]
    assert {s["headers"].get("User-Agent") for s in server.seen} == {"kubetask-http/1"}
    _call({"url": f"{base}/json", "headers": {"user-agent": "mine/2"}})
    assert server.seen[-1]["headers"]["user-agent"] == "mine/2" and "User-Agent" not in server.seen[-1]["headers"]
    assert server.seen[0]["body"] == b'{"n":1}' and server.seen[0]["headers"]["Content-Type"] == "application/json"


def test_bearer_and_basic_credentials_come_from_env_and_never_reach_the_result(server: Server, base: str) -> None:
    bearer = _call({"url": f"{base}/json", "auth": {"type": "bearer", "tokenEnv": "API_TOKEN"}})
    basic = _call(
        {"url": f"{base}/json", "auth": {"type": "basic", "usernameEnv": "API_USER", "passwordEnv": "API_PASSWORD"}}
    )
    sent = [s["headers"]["Authorization"] for s in server.seen]
    pair = base64.b64encode(f"robot:{SECRET}-pw".encode()).decode()
    assert sent == [f"Bearer {SECRET}", f"Basic {pair}"]
    for r in (bearer, basic):  # the server echoed the credential in its body and a header
        text = json.dumps(r)
        assert SECRET not in text and pair not in text
        assert r["body"]["json"]["auth"] == "[redacted]" and r["headers"]["x-echo"] == "[redacted]"


def test_an_hmac_signature_covers_timestamp_and_body(server: Server, base: str) -> None:
    auth = {"type": "hmac", "secretEnv": "API_TOKEN", "header": "X-Sig"}
    r = _call({"method": "POST", "url": f"{base}/json", "body": "payload", "auth": auth})
    seen = server.seen[0]["headers"]
    stamp = seen["X-Signature-Timestamp"]
    assert stamp == str(int(NOW.timestamp()))
    expected = hmac.new(SECRET.encode(), f"{stamp}.payload".encode(), hashlib.sha256).hexdigest()
    assert seen["X-Sig"] == f"sha256={expected}" and expected not in json.dumps(r)


def test_a_missing_credential_is_permanent(base: str) -> None:
    with pytest.raises(PermanentError, match="API_TOKEN is not set") as e:
        _call({"url": f"{base}/json", "auth": {"type": "bearer", "tokenEnv": "API_TOKEN"}}, env={})
    assert e.value.kind == "MissingCredential"


@pytest.mark.parametrize("code", [500, 502, 503, 429, 408])
def test_5xx_429_and_408_are_retryable(base: str, code: int) -> None:
    with pytest.raises(RetryableError, match=f"HTTP {code}") as e:
        _call({"url": f"{base}/status/{code}"})
    assert e.value.kind == "HTTPStatus" and e.value.retry_after is None
    assert "nope nope" in str(e.value)  # the start of the body says what the server said


@pytest.mark.parametrize("code", [400, 401, 403, 404, 409, 422])
def test_other_4xx_are_permanent(base: str, code: int) -> None:
    with pytest.raises(PermanentError, match=f"HTTP {code}") as e:
        _call({"url": f"{base}/status/{code}"})
    assert e.value.kind == "HTTPStatus"


def test_retry_after_in_seconds_or_as_an_http_date_is_passed_on(base: str) -> None:
    with pytest.raises(RetryableError) as seconds:
        _call({"url": f"{base}/status/429?after=8"})
    date = format_datetime(NOW + timedelta(seconds=8), usegmt=True).replace(" ", "%20")
    with pytest.raises(RetryableError) as http_date:
        _call({"url": f"{base}/status/503?after={date}"})
    assert (seconds.value.retry_after, http_date.value.retry_after) == (8.0, 8.0)


def test_a_success_status_list_decides_what_is_a_result(base: str) -> None:
    assert _call({"url": f"{base}/status/404", "successStatus": ["2xx", "404"]})["ok"] is False
    with pytest.raises(PermanentError):
        _call({"url": f"{base}/json", "successStatus": "201-204"})


def test_a_server_that_never_answers_is_a_retryable_timeout(base: str) -> None:
    with pytest.raises(RetryableError, match="no answer within 0.3s") as e:
        _call({"url": f"{base}/silent", "timeoutSeconds": 0.3})
    assert e.value.kind == "Timeout"


def test_a_refused_connection_is_retryable() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RetryableError, match="connection refused") as e:
        _call({"url": f"http://127.0.0.1:{port}/"})
    assert e.value.kind == "Connect"


def test_redirects_are_followed_up_to_five(base: str) -> None:
    r = _call({"url": f"{base}/hop/5"})
    assert (r["status"], r["redirects"], r["url"]) == (200, 5, f"{base}/json")
    with pytest.raises(PermanentError, match="more than 5 redirects") as e:
        _call({"url": f"{base}/hop/6"})
    assert e.value.kind == "TooManyRedirects"
    assert _call({"url": f"{base}/hop/2", "followRedirects": 2})["redirects"] == 2
    with pytest.raises(PermanentError, match="more than 2 redirects"):
        _call({"url": f"{base}/hop/3", "followRedirects": 2})
    with pytest.raises(PermanentError, match="HTTP 302"):  # not followed: a 302 is no 2xx
        _call({"url": f"{base}/hop/1", "followRedirects": False})


def test_a_303_after_post_becomes_a_get_without_body(server: Server, base: str) -> None:
    r = _call({"method": "POST", "url": f"{base}/see-other", "json": {"a": 1}})
    assert r["status"] == 200
    assert [(s["method"], s["body"]) for s in server.seen] == [("POST", b'{"a":1}'), ("GET", b"")]


def test_credentials_are_not_sent_to_another_origin(servers: tuple[Server, str, Server]) -> None:
    main, base, other = servers
    r = _call({"url": f"{base}/elsewhere", "auth": {"type": "bearer", "tokenEnv": "API_TOKEN"}})
    assert r["redirects"] == 1 and r["url"].endswith("/json")
    assert main.seen[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert "Authorization" not in other.seen[0]["headers"]


def test_a_large_body_is_summarised_within_the_termination_message(base: str, tmp_path: Path) -> None:
    r = _call({"url": f"{base}/big"})
    assert r["body"]["size"] == 200_000 and r["body"]["truncated"] is True
    assert r["body"]["sha256"] == hashlib.sha256(b"x" * 200_000).hexdigest()
    term = tmp_path / "term"
    env = {"KUBETASK_TERMINATION_PATH": str(term), "KUBETASK_PARAMS": json.dumps({"url": f"{base}/big"})}
    assert run(["http"], env) == 0
    report = decode(term.read_text())
    assert report is not None and (report.handler, report.version) == ("http", "1")
    assert len(term.read_bytes()) <= MAX_RESULT_BYTES


def test_invalid_params_are_permanent_and_name_every_field() -> None:
    with pytest.raises(PermanentError) as e:
        _call({"method": "FETCH", "url": "ftp://x", "json": {}, "body": "b", "timeoutSeconds": 0, "followRedirects": 9})
    text = str(e.value)
    assert e.value.kind == "InvalidParams"
    for pointer in ("/method", "/url", "/body", "/timeoutSeconds", "/followRedirects"):
        assert pointer in text


EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples/http.yaml").read_text())["spec"]


def test_the_example_templates_schemas_take_what_the_handler_takes_and_returns(base: str) -> None:
    assert TaskTemplateSpec.model_validate(EXAMPLE).handler == "http"
    params = {
        "method": "POST",
        "url": f"{base}/see-other",
        "headers": {"X-A": "1"},
        "query": {"a": [1, "b"], "c": True},
        "json": {"n": 1},
        "timeoutSeconds": 5,
        "followRedirects": 3,
        "successStatus": ["2xx", "404"],
        "idempotencyKey": "k",
        "auth": {"type": "hmac", "secretEnv": "API_TOKEN", "header": "X-Sig", "timestampHeader": "X-Ts"},
    }
    assert schema_check.validate(params, EXAMPLE["paramSchema"]) == []
    assert set(params) | {"body", "bodyBase64"} == set(EXAMPLE["paramSchema"]["properties"])
    result = _call(params)
    assert schema_check.validate(result, EXAMPLE["resultSchema"]) == []
    assert schema_check.validate({"url": "ftp://x", "followRedirects": 9}, EXAMPLE["paramSchema"]) != []
