"""The `http` handler on the real node, against servers of the test on the cluster bridge's address.

Every scenario of issue 16 runs at once in one namespace (the module takes about as long as its
longest one): 2xx, 500 then 200, 404 under retryOn, 429 with Retry-After in seconds and as an HTTP
date, a server that never answers, a name that does not resolve (the test's DNS server, through the
template's dnsConfig), redirects followed and capped, credentials from a Secret that appear nowhere
(status, SQL, Events, result), and a schedule of http calls every 10 s with its results in SQL.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubetask.models import GROUP, VERSION
from kubetask.testing.bridge import NxdomainServer, bridge_address
from kubetask.testing.cluster import (
    Cluster,
    OperatorProcess,
    create,
    get_task,
    task,
    wait_for,
    wait_namespace_ready,
    wait_task,
)
from kubetask.testing.timestamps import parse_instant

ROOT = Path(__file__).resolve().parents[2]
TOKEN = f"tok-{uuid.uuid4().hex}"
PASSWORD = f"pw-{uuid.uuid4().hex}"
SIGNING = f"sig-{uuid.uuid4().hex}"
SECRETS = (TOKEN, PASSWORD, SIGNING, base64.b64encode(f"robot:{PASSWORD}".encode()).decode())
RETRY_AFTER = 8


@dataclass
class Seen:
    """What the test's HTTP server saw: each request with its arrival, each answer with its time."""

    requests: dict[str, list[tuple[float, dict[str, str], bytes]]] = field(default_factory=dict)
    answered: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    seen: Seen


class Handler(BaseHTTPRequestHandler):
    server: Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (http.server's name)
        pass

    def _send(self, key: str, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()
        with self.server.seen.lock:
            self.server.seen.answered.setdefault(key, []).append(time.time())

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?", 1)[0]
        key = path.strip("/")
        with self.server.seen.lock:
            n = len(self.server.seen.requests.setdefault(key, []))
            self.server.seen.requests[key].append((time.time(), dict(self.headers), body))
        kind, _, arg = key.partition("/")
        if kind == "ok":  # echoes the credential back, in its body and a header, to see it redacted
            auth = self.headers.get("Authorization") or self.headers.get("X-Signature") or ""
            echo = json.dumps({"hello": arg, "auth": auth}).encode()
            headers = {"Content-Type": "application/json", "Set-Cookie": f"session={TOKEN}", "X-Echo": auth}
            self._send(key, 200, echo, headers)
        elif kind == "flaky":
            self._send(key, 500 if n == 0 else 200, b"try again" if n == 0 else b"fine")
        elif kind == "status":
            self._send(key, int(arg), b"no such thing")
        elif kind == "busy":
            if n:
                self._send(key, 200, b"done")
                return
            # an HTTP date has whole seconds: the next one after now + 8 s, so never less than 8 s away
            date = datetime.fromtimestamp(math.floor(time.time()) + RETRY_AFTER + 1, UTC)
            after = str(RETRY_AFTER) if arg == "seconds" else format_datetime(date, usegmt=True)
            self._send(key, 429, b"slow down", {"Retry-After": after})
        elif kind == "silent":
            time.sleep(30)
        elif kind == "hop":
            left = int(arg)
            self._send(key, 302, headers={"Location": f"/hop/{left - 1}" if left > 1 else "/ok/redirected"})
        else:
            self._send(key, 404)

    do_GET = do_POST = _serve  # noqa: N815  (http.server's names)


def _http(name: str, **params: Any) -> dict[str, Any]:
    return task(name, templateRef={"name": "http"}, params=params)


def _retry(name: str, retry: dict[str, Any], **params: Any) -> dict[str, Any]:
    body = _http(name, **params)
    body["spec"]["retry"] = retry
    return body


@dataclass
class Run:
    ns: str
    base: str
    seen: Seen
    dns: NxdomainServer


@pytest.fixture(scope="module")
def run(cluster: Cluster, operator: OperatorProcess) -> Iterator[Run]:
    del operator
    address = bridge_address(cluster)
    server = Server((address, 0), Handler)
    server.seen = Seen()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
    base = f"http://{address}:{server.server_address[1]}"
    core = cluster.core()
    ns = f"http-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": ns}})
    try:
        with NxdomainServer(address) as dns:
            wait_namespace_ready(core, ns)
            data = {"token": TOKEN, "username": "robot", "password": PASSWORD, "signingSecret": SIGNING}
            core.create_namespaced_secret(ns, {"metadata": {"name": "http-credentials"}, "stringData": data})
            tpl = yaml.safe_load((ROOT / "examples/http.yaml").read_text())
            tpl["spec"]["dnsConfig"] = {"nameservers": [address], "options": [{"name": "attempts", "value": "1"}]}
            create(cluster, ns, "tasktemplates", tpl)
            for body in _tasks(base):
                create(cluster, ns, "tasks", body)
            schedule = {
                "schedule": "*/10 * * * * *",
                "task": {"templateRef": {"name": "http"}, "params": {"url": f"{base}/ok/tick"}},
            }
            create(
                cluster,
                ns,
                "taskschedules",
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "TaskSchedule",
                    "metadata": {"name": "every10"},
                    "spec": schedule,
                },
            )
            yield Run(ns=ns, base=base, seen=server.seen, dns=dns)
    finally:
        core.delete_namespace(ns)
        server.shutdown()
        server.server_close()


ONE = {"maxAttempts": 1}
TWO_NOW = {"maxAttempts": 2, "delaySeconds": 0, "jitter": "none"}


def _tasks(base: str) -> list[dict[str, Any]]:
    return [
        _http("bearer", url=f"{base}/ok/bearer", auth={"type": "bearer", "tokenEnv": "HTTP_TOKEN"}),
        _http(
            "basic",
            url=f"{base}/ok/basic",
            auth={"type": "basic", "usernameEnv": "HTTP_USERNAME", "passwordEnv": "HTTP_PASSWORD"},
        ),
        _http(
            "signed",
            method="POST",
            url=f"{base}/ok/signed",
            json={"n": 1},
            auth={"type": "hmac", "secretEnv": "HTTP_SIGNING_SECRET"},
        ),
        _retry("flaky", {"maxAttempts": 3, "delaySeconds": 1, "jitter": "none"}, url=f"{base}/flaky/1"),
        _retry("gone", {"maxAttempts": 3, "delaySeconds": 0, "retryOn": ["NonZeroExit"]}, url=f"{base}/status/404"),
        _retry("busy-seconds", TWO_NOW, url=f"{base}/busy/seconds"),
        _retry("busy-date", TWO_NOW, url=f"{base}/busy/date"),
        _retry("silent", TWO_NOW, url=f"{base}/silent", timeoutSeconds=2),
        _retry("nxdomain", TWO_NOW, url="http://no-such-host.test/"),
        _retry("hops", ONE, url=f"{base}/hop/5"),
        _retry("too-many", {"maxAttempts": 3, "delaySeconds": 0}, url=f"{base}/hop/6"),
    ]


def _status(cluster: Cluster, run: Run, name: str, timeout: float = 150) -> dict[str, Any]:
    st: dict[str, Any] = wait_task(cluster, run.ns, name, timeout=timeout)["status"]
    return st


def test_a_2xx_answer_is_recorded_as_the_result(cluster: Cluster, run: Run) -> None:
    st = _status(cluster, run, "bearer")
    assert (st["phase"], st["attemptCount"]) == ("Succeeded", 1)
    r = st["result"]
    assert (r["status"], r["ok"], r["url"], r["redirects"]) == (200, True, f"{run.base}/ok/bearer", 0)
    assert r["body"]["json"] == {"hello": "bearer", "auth": "[redacted]"}
    assert r["headers"]["set-cookie"] == "[redacted]" and r["headers"]["x-echo"] == "[redacted]"
    handler = st["attempts"][0]["handler"]
    assert (handler["name"], handler["version"]) == ("http", "1")
    _, headers, _ = run.seen.requests["ok/bearer"][0]
    assert headers["Authorization"] == f"Bearer {TOKEN}"


def test_basic_and_hmac_credentials_reach_the_server(cluster: Cluster, run: Run) -> None:
    for name in ("basic", "signed"):
        assert _status(cluster, run, name)["phase"] == "Succeeded"
    _, basic, _ = run.seen.requests["ok/basic"][0]
    assert basic["Authorization"] == f"Basic {SECRETS[3]}"
    _, signed, body = run.seen.requests["ok/signed"][0]
    stamp = signed["X-Signature-Timestamp"]
    expected = hmac.new(SIGNING.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    assert signed["X-Signature"] == f"sha256={expected}" and body == b'{"n":1}'
    uid = get_task(cluster, run.ns, "signed")["metadata"]["uid"]
    assert signed["Idempotency-Key"] == uid  # POST: the task's uid


def test_500_then_200_is_retried_and_succeeds(cluster: Cluster, run: Run) -> None:
    st = _status(cluster, run, "flaky")
    assert (st["phase"], st["attemptCount"], st["result"]["status"]) == ("Succeeded", 2, 200)
    first = st["attempts"][0]
    assert (first["reason"], first["handler"]["failureKind"], first["handler"]["retryable"]) == (
        "NonZeroExit",
        "HTTPStatus",
        True,
    )
    assert "HTTP 500" in first["message"]


def test_404_fails_permanently_after_one_attempt_even_with_retry_on(cluster: Cluster, run: Run) -> None:
    st = _status(cluster, run, "gone")
    assert (st["phase"], st["reason"], st["attemptCount"]) == ("Failed", "PermanentFailure", 1)
    assert "HTTP 404" in st["message"] and len(run.seen.requests["status/404"]) == 1


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_429_with_retry_after_waits_at_least_that_long(cluster: Cluster, run: Run, form: str) -> None:
    name, key = f"busy-{form}", f"busy/{form}"

    def retrying() -> dict[str, Any] | None:
        st = get_task(cluster, run.ns, name).get("status") or {}
        return st if st.get("nextAttemptTime") or st.get("phase") in ("Succeeded", "Failed", "DeadLettered") else None

    pending = wait_for(f"{name} retrying", retrying, timeout=150)
    st = _status(cluster, run, name)
    assert (st["phase"], st["attemptCount"], st["result"]["status"]) == ("Succeeded", 2, 200)
    said = st["attempts"][0]["handler"]
    assert said["retryable"] is True and said["retryAfterSeconds"] >= RETRY_AFTER - 1  # the date: >= 8 s away
    raised = parse_instant(said["time"])
    if pending.get("nextAttemptTime"):
        assert parse_instant(pending["nextAttemptTime"]) >= raised + timedelta(seconds=RETRY_AFTER)
    answered_429 = run.seen.answered[key][0]
    second_request = run.seen.requests[key][1][0]
    assert second_request - answered_429 >= RETRY_AFTER, (second_request, answered_429)


def test_a_server_that_never_answers_is_a_retryable_timeout(cluster: Cluster, run: Run) -> None:
    st = _status(cluster, run, "silent")
    assert (st["phase"], st["attemptCount"]) == ("DeadLettered", 2)
    for a in st["attempts"]:
        assert (a["handler"]["failureKind"], a["handler"]["retryable"]) == ("Timeout", True)


def test_a_name_that_does_not_resolve_is_retryable(cluster: Cluster, run: Run) -> None:
    st = _status(cluster, run, "nxdomain")
    assert (st["phase"], st["attemptCount"]) == ("DeadLettered", 2)
    assert all(a["handler"]["failureKind"] == "DNS" for a in st["attempts"])
    assert "no-such-host.test" in run.dns.names  # asked through the template's dnsConfig, answered here


def test_a_redirect_chain_is_followed_and_capped(cluster: Cluster, run: Run) -> None:
    ok = _status(cluster, run, "hops")
    assert (ok["phase"], ok["result"]["redirects"], ok["result"]["url"]) == (
        "Succeeded",
        5,
        f"{run.base}/ok/redirected",
    )
    capped = _status(cluster, run, "too-many")
    assert (capped["phase"], capped["reason"], capped["attemptCount"]) == ("Failed", "PermanentFailure", 1)
    assert capped["attempts"][0]["handler"]["failureKind"] == "TooManyRedirects"


def test_a_schedule_of_http_calls_every_10_s_runs_three_times_with_results_in_sql(
    run: Run, operator: OperatorProcess
) -> None:
    db = operator.database_url.removeprefix("sqlite:///")

    def three() -> list[tuple[str, Any]] | None:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
            rows = conn.execute(
                "SELECT name, result FROM tasks WHERE namespace = ? AND schedule = ? AND phase = 'Succeeded'",
                (run.ns, "every10"),
            ).fetchall()
        return rows if len(rows) >= 3 else None

    rows = wait_for("three succeeded runs of the schedule in SQL", three, timeout=120)
    for _, result in rows:
        r = json.loads(result)
        assert (r["status"], r["body"]["json"]["hello"]) == (200, "tick")


def test_credentials_appear_nowhere_the_task_is_recorded(cluster: Cluster, run: Run, operator: OperatorProcess) -> None:
    for name in ("bearer", "basic", "signed"):
        _status(cluster, run, name)
    tasks = cluster.custom().list_namespaced_custom_object(GROUP, VERSION, run.ns, "tasks")["items"]
    events = [e.message or "" for e in cluster.core().list_namespaced_event(run.ns).items]
    db = operator.database_url.removeprefix("sqlite:///")
    time.sleep(2)  # the mirror writes after the status; it is read whole below
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        dump = "\n".join(conn.iterdump())
    assert run.ns in dump  # the dump holds this run's rows
    places = {"status": json.dumps([t.get("status") for t in tasks]), "events": "\n".join(events), "sql": dump}
    places["results"] = json.dumps([(t.get("status") or {}).get("result") for t in tasks])
    for where, text in places.items():
        for secret in SECRETS:
            assert secret not in text, where
