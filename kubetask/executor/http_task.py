"""The built-in `http` handler: one HTTP call per attempt, with `http.client` (standard library only).

The rules (params, classes of failure, Retry-After, credentials, redaction, the result) are pure, in
`http_rules`; this module does the calling: one connection per hop, redirects followed by hand (so
the cap, the final URL and dropping credentials on another origin are ours, not urllib's), the
whole call within `timeoutSeconds`, and each failure raised as the class another attempt deserves.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from kubetask.executor import http_rules as rules
from kubetask.executor._registry import handler
from kubetask.executor.errors import PermanentError, RetryableError

VERSION = "1"
USER_AGENT = f"kubetask-http/{VERSION}"  # http.client sends none of its own
CHUNK = 64 * 1024


@dataclass(frozen=True)
class _Response:
    status: int
    reason: str
    headers: list[tuple[str, str]]
    head: bytes  # the first JSON_PARSE_BYTES + 1 bytes of the body
    size: int
    sha256: str
    first_byte: float  # monotonic seconds


def _exchange(
    call: rules.Call, headers: Mapping[str, str], *, deadline: float, clock: Callable[[], float]
) -> _Response:
    parts = urlsplit(call.url)
    remaining = deadline - clock()
    if remaining <= 0:
        raise TimeoutError
    conn: http.client.HTTPConnection
    if parts.scheme == "https":
        conn = http.client.HTTPSConnection(
            parts.hostname or "", parts.port, timeout=remaining, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=remaining)
    try:
        path = parts.path or "/"
        conn.request(
            call.method, f"{path}?{parts.query}" if parts.query else path, body=call.body, headers=dict(headers)
        )
        resp = conn.getresponse()
        first_byte = clock()
        digest, head, size = hashlib.sha256(), bytearray(), 0
        while chunk := resp.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
            if len(head) <= rules.JSON_PARSE_BYTES:
                head += chunk[: rules.JSON_PARSE_BYTES + 1 - len(head)]
            left = deadline - clock()
            if left <= 0:
                raise TimeoutError
            if conn.sock is not None:
                conn.sock.settimeout(left)
        return _Response(resp.status, resp.reason, resp.getheaders(), bytes(head), size, digest.hexdigest(), first_byte)
    finally:
        conn.close()


def _network_failure(e: BaseException, call: rules.Call, secrets: tuple[str, ...]) -> RetryableError:
    where = f"{call.method} {rules.redact_url(call.url, secrets)}"
    if isinstance(e, socket.gaierror):
        kind, what = "DNS", f"name {urlsplit(call.url).hostname!r} does not resolve ({e.strerror or e})"
    elif isinstance(e, TimeoutError | socket.timeout):
        kind, what = "Timeout", f"no answer within {call.timeout_seconds:g}s"
    elif isinstance(e, ssl.SSLError | ssl.CertificateError):
        kind, what = "TLS", str(e)
    elif isinstance(e, ConnectionRefusedError):
        kind, what = "Connect", "connection refused"
    elif isinstance(e, http.client.HTTPException | ConnectionError):
        kind, what = "Connect", f"connection failed: {type(e).__name__}: {e}"
    else:
        kind, what = "Network", f"{type(e).__name__}: {e}"
    return RetryableError(str(rules.scrub(f"{where}: {what}", secrets)), kind=kind)


def _status_failure(r: _Response, call: rules.Call, secrets: tuple[str, ...], now: datetime) -> Exception:
    excerpt = " ".join(r.head[: rules.MESSAGE_EXCERPT].decode("utf-8", errors="replace").split())
    text = f"HTTP {r.status} {r.reason} from {call.method} {rules.redact_url(call.url, secrets)}"
    message = str(rules.scrub(f"{text}: {excerpt}" if excerpt else text, secrets))
    if not rules.status_is_retryable(r.status):
        return PermanentError(message, kind="HTTPStatus")
    header = next((v for k, v in r.headers if k.lower() == "retry-after"), None)
    return RetryableError(message, kind="HTTPStatus", retry_after=rules.retry_after_seconds(header, now=now))


def perform(
    params: Any,
    *,
    env: Mapping[str, str],
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    clock: Callable[[], float] = time.monotonic,
) -> dict[str, Any]:
    """Make the call the params describe; return its result or raise its failure's class."""
    try:
        call = rules.parse_call(params, task_uid=env.get("KUBETASK_TASK_UID"))
    except rules.ParamsError as e:
        raise PermanentError(f"params: {e}", kind="InvalidParams") from None
    start = clock()
    deadline = start + call.timeout_seconds
    secrets: tuple[str, ...] = ()
    hops = 0
    while True:
        added: dict[str, str] = {}
        if call.auth is not None:
            try:
                stamp = str(int(now().timestamp()))
                added = rules.credential_headers(call.auth, env, timestamp=stamp, body=call.body or b"")
            except KeyError as e:
                msg = f"auth: env var {e.args[0]} is not set (set it from a Secret in the template's env)"
                raise PermanentError(msg, kind="MissingCredential") from None
            secrets = tuple(sorted({*secrets, *rules.secrets_of(call.auth, env, added)}, key=len, reverse=True))
        sent = clock()
        try:
            agent = {} if any(k.lower() == "user-agent" for k in call.headers) else {"User-Agent": USER_AGENT}
            r = _exchange(call, {**agent, **call.headers, **added}, deadline=deadline, clock=clock)
        except (OSError, http.client.HTTPException) as e:
            raise _network_failure(e, call, secrets) from None
        location = next((v for k, v in r.headers if k.lower() == "location"), None)
        if r.status in rules.REDIRECT_STATUS and location and call.max_redirects > 0:
            if hops >= call.max_redirects:
                where = rules.redact_url(call.url, secrets)
                msg = f"more than {call.max_redirects} redirects; the last from {where} (HTTP {r.status})"
                raise PermanentError(str(rules.scrub(msg, secrets)), kind="TooManyRedirects")
            call = rules.redirect(call, r.status, location, url=call.url)
            hops += 1
            continue
        break
    done = clock()
    if not rules.is_success(r.status, call.success):
        raise _status_failure(r, call, secrets, now())
    content_type = next((v for k, v in r.headers if k.lower() == "content-type"), None)
    result = {
        "status": r.status,
        "ok": 200 <= r.status < 300,
        "url": rules.redact_url(call.url, secrets),
        "redirects": hops,
        "headers": rules.redact_headers(r.headers, secrets),
        "body": rules.body_summary(r.head, size=r.size, sha256=r.sha256, content_type=content_type, secrets=secrets),
        "timing": {"firstByteMs": round((r.first_byte - sent) * 1000, 1), "totalMs": round((done - start) * 1000, 1)},
    }
    return rules.fit(result)


@handler("http", version=VERSION)
def http_call(params: Any) -> Any:
    """Make one HTTP call (see README "HTTP tasks"); credentials from the env vars the params name."""
    return perform(params, env=os.environ)


__all__ = ["VERSION", "http_call", "perform"]
