"""The pure rules of the `http` handler: params, success and failure classes, Retry-After, signing,
redaction and the result's shape. No I/O and no clock (times are arguments); `http_task` calls.

Classification, as users of HTTP schedulers expect (and fault Cloud Scheduler, Cloud Tasks and
EventBridge for not doing): a timeout, a name that does not resolve, a refused or reset connection,
a TLS failure, 5xx, 429 and 408 may go better on another attempt; every other status outside
`successStatus` is the request's own fault and is permanent, as are invalid params, a missing
credential and a redirect chain longer than the cap. `Retry-After` (delay-seconds or an HTTP date,
RFC 9110 §10.2.3) says when another attempt may come.

Credentials come only from env vars the params name (set from a Secret in the template's env), so
the params, the Task and its history never hold them; every value derived from them is scrubbed
from the result and from failure messages, and credential and cookie headers are redacted by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit, urlunsplit

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
IDEMPOTENCY_METHODS = frozenset({"POST", "PATCH"})  # the ones RFC 9110 §9.2.2 does not make idempotent
MAX_REDIRECTS = 5
DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_TIMEOUT_SECONDS = 3600.0
DEFAULT_SUCCESS = "2xx"
RETRYABLE_STATUS = frozenset({408, 429})  # and every 5xx
REDACTED = "[redacted]"
# Headers that carry credentials or session state, whatever their value.
SENSITIVE_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "proxy-authenticate",
        "www-authenticate",
        "cookie",
        "set-cookie",
        "set-cookie2",
        "x-api-key",
        "x-auth-token",
        "x-csrf-token",
        "x-amz-security-token",
    }
)
RESULT_BUDGET = 3400  # bytes of the result's JSON: the report's envelope (4 KiB in all) needs the rest
EXCERPT_BYTES = 1024
JSON_PARSE_BYTES = 64 * 1024  # a larger body is hashed and excerpted, not parsed
MESSAGE_EXCERPT = 200  # characters of a failing response's body in the failure message
_STATUS_PATTERN = re.compile(r"^([1-5])xx$|^([1-5]\d\d)(?:-([1-5]\d\d))?$")


class ParamsError(ValueError):
    """The params are not a valid HTTP call: every problem, each with its JSON pointer."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Auth:
    """Where the credentials are: names of env vars, never the values."""

    type: str  # bearer | basic | hmac
    token_env: str | None = None
    username_env: str | None = None
    password_env: str | None = None
    secret_env: str | None = None
    header: str = "X-Signature"
    timestamp_header: str = "X-Signature-Timestamp"

    def env_names(self) -> tuple[str, ...]:
        return tuple(n for n in (self.token_env, self.username_env, self.password_env, self.secret_env) if n)


@dataclass(frozen=True)
class Call:
    """A validated HTTP call."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    max_redirects: int = MAX_REDIRECTS
    success: tuple[str, ...] = (DEFAULT_SUCCESS,)
    auth: Auth | None = None


def _str_map(value: Any, path: str, problems: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        problems.append(f"{path}: must be an object of strings")
        return {}
    bad = [k for k, v in value.items() if any(ch in k + v for ch in "\r\n") or not k.strip()]
    problems.extend(f"{path}/{k}: a header name and value hold no line breaks" for k in bad)
    return dict(value)


def _query(value: Any, problems: list[str]) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, dict):
        problems.append("/query: must be an object")
        return []
    pairs: list[tuple[str, str]] = []
    for k, v in value.items():
        for item in v if isinstance(v, list) else [v]:
            if isinstance(item, bool):
                pairs.append((k, "true" if item else "false"))
            elif isinstance(item, str | int | float):
                pairs.append((k, str(item)))
            else:
                problems.append(f"/query/{k}: must be a string, number, boolean or a list of them")
    return pairs


def _has(headers: Mapping[str, str], name: str) -> bool:
    return any(h.lower() == name.lower() for h in headers)


def _body(p: Mapping[str, Any], headers: dict[str, str], problems: list[str]) -> bytes | None:
    given = [k for k in ("json", "body", "bodyBase64") if k in p]
    if len(given) > 1:
        problems.append(f"/{given[1]}: give one of json, body, bodyBase64, not {' and '.join(given)}")
        return None
    if not given:
        return None
    key = given[0]
    if key == "json":
        if not _has(headers, "content-type"):
            headers["Content-Type"] = "application/json"
        return json.dumps(p["json"], separators=(",", ":")).encode()
    if not isinstance(p[key], str):
        problems.append(f"/{key}: must be a string")
        return None
    if key == "body":
        return str(p[key]).encode()
    try:
        return base64.b64decode(p[key], validate=True)
    except ValueError:
        problems.append("/bodyBase64: not valid base64")
        return None


_AUTH_NEEDS = {"bearer": ("tokenEnv",), "basic": ("usernameEnv", "passwordEnv"), "hmac": ("secretEnv",)}


def _auth(value: Any, problems: list[str]) -> Auth | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, dict) else None
    if not isinstance(kind, str) or kind not in _AUTH_NEEDS:
        problems.append("/auth/type: must be one of bearer, basic, hmac")
        return None
    assert isinstance(value, dict)
    missing = [k for k in _AUTH_NEEDS[kind] if not isinstance(value.get(k), str) or not value.get(k)]
    problems.extend(f"/auth/{k}: required for {kind}: the name of an env var (set from a Secret)" for k in missing)
    if missing:
        return None
    return Auth(
        type=kind,
        token_env=value.get("tokenEnv"),
        username_env=value.get("usernameEnv"),
        password_env=value.get("passwordEnv"),
        secret_env=value.get("secretEnv"),
        header=str(value.get("header") or Auth.header),
        timestamp_header=str(value.get("timestampHeader") or Auth.timestamp_header),
    )


def _redirects(value: Any, problems: list[str]) -> int:
    if value is True:
        return MAX_REDIRECTS
    if value is False:
        return 0
    if isinstance(value, int) and 0 <= value <= MAX_REDIRECTS:
        return value
    problems.append(f"/followRedirects: true, false or a number of redirects up to {MAX_REDIRECTS}")
    return 0


def parse_call(params: Any, *, task_uid: str | None) -> Call:
    """The call the params describe; ParamsError lists every problem at once."""
    if not isinstance(params, dict):
        raise ParamsError(["/: params must be an object"])
    problems: list[str] = []
    method = params.get("method", "GET")
    method = method.upper() if isinstance(method, str) else ""
    if method not in METHODS:
        problems.append(f"/method: must be one of {', '.join(sorted(METHODS))}")
    url = params.get("url")
    parts = urlsplit(url) if isinstance(url, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append("/url: must be an absolute http:// or https:// URL")
    headers = _str_map(params.get("headers"), "/headers", problems)
    query = _query(params.get("query"), problems)
    body = _body(params, headers, problems)
    timeout = params.get("timeoutSeconds", DEFAULT_TIMEOUT_SECONDS)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= MAX_TIMEOUT_SECONDS:
        problems.append(f"/timeoutSeconds: must be a number of seconds in (0, {MAX_TIMEOUT_SECONDS:g}]")
    redirects = _redirects(params.get("followRedirects", True), problems)
    success = params.get("successStatus", DEFAULT_SUCCESS)
    success_list = success if isinstance(success, list) else [success]
    if not success_list or not all(isinstance(s, str) and _STATUS_PATTERN.match(s) for s in success_list):
        problems.append('/successStatus: "2xx", "204", "200-299", or a list of them')
    auth = _auth(params.get("auth"), problems)
    key = params.get("idempotencyKey")
    if key is not None and (not isinstance(key, str) or not key or any(ch in key for ch in "\r\n")):
        problems.append("/idempotencyKey: must be a non-empty string on one line")
    if problems:
        raise ParamsError(problems)
    assert parts is not None and isinstance(url, str)
    if query:
        url = urlunsplit(parts._replace(query="&".join(x for x in (parts.query, urlencode(query)) if x)))
    key = key if key is not None else (task_uid if method in IDEMPOTENCY_METHODS else None)
    if key and not _has(headers, "idempotency-key"):
        headers["Idempotency-Key"] = key
    return Call(
        method=method,
        url=url,
        headers=headers,
        body=body,
        timeout_seconds=float(timeout),
        max_redirects=redirects,
        success=tuple(success_list),
        auth=auth,
    )


def is_success(status: int, patterns: Iterable[str]) -> bool:
    """Whether `status` matches one of "2xx", "204", "200-299"."""
    for p in patterns:
        m = _STATUS_PATTERN.match(p)
        if m is None:
            continue
        cls, low, high = m.groups()
        if cls is not None and status // 100 == int(cls):
            return True
        if low is not None and int(low) <= status <= int(high or low):
            return True
    return False


def status_is_retryable(status: int) -> bool:
    """408, 429 and 5xx: another attempt may get another answer; any other failing status will not."""
    return status >= 500 or status in RETRYABLE_STATUS


def retry_after_seconds(value: str | None, *, now: datetime) -> float | None:
    """A Retry-After header as seconds from `now`: delay-seconds or an HTTP date; None if unreadable."""
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})


def redirect(call: Call, status: int, location: str, *, url: str) -> Call:
    """The call to make after a redirect from `url`: 303 (and 301/302 of a POST) become a bodiless GET,
    as browsers and curl do; credentials are not sent to another origin."""
    base = urlsplit(url)
    nxt = urljoin(url, location)
    method, body, headers = call.method, call.body, dict(call.headers)
    if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
        method, body = "GET", None
        headers = {k: v for k, v in headers.items() if k.lower() not in ("content-type", "content-length")}
    new = urlsplit(nxt)
    same_origin = (new.scheme, new.hostname, new.port) == (base.scheme, base.hostname, base.port)
    auth = call.auth if same_origin else None
    if not same_origin:
        headers = {k: v for k, v in headers.items() if k.lower() not in SENSITIVE_HEADERS}
    return Call(
        method=method,
        url=nxt,
        headers=headers,
        body=body,
        timeout_seconds=call.timeout_seconds,
        max_redirects=call.max_redirects,
        success=call.success,
        auth=auth,
    )


def hmac_signature(secret: str, timestamp: str, body: bytes) -> str:
    """Hex HMAC-SHA256 over `<timestamp>.<body>` (the timestamp binds the signature to a moment)."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def credential_headers(auth: Auth, env: Mapping[str, str], *, timestamp: str, body: bytes) -> dict[str, str]:
    """The request headers `auth` adds, from the env vars it names (KeyError names a missing one)."""
    if auth.type == "bearer":
        return {"Authorization": f"Bearer {env[str(auth.token_env)]}"}
    if auth.type == "basic":
        pair = f"{env[str(auth.username_env)]}:{env[str(auth.password_env)]}"
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}
    signature = hmac_signature(env[str(auth.secret_env)], timestamp, body)
    return {auth.timestamp_header: timestamp, auth.header: f"sha256={signature}"}


def secrets_of(auth: Auth | None, env: Mapping[str, str], added: Mapping[str, str]) -> tuple[str, ...]:
    """Every string that must not appear in a result or message: the env values and what became of them."""
    if auth is None:
        return ()
    values = [env[n] for n in auth.env_names() if env.get(n)]
    for k, v in added.items():
        if k.lower() == "authorization":
            values += [v, v.split(" ", 1)[-1]]
        elif k == auth.header:
            values += [v, v.split("=", 1)[-1]]
    # longest first, so that a secret inside another is not half-replaced; short ones are not
    # scrubbed (a 1-character password would blank every such letter), only redacted by header
    return tuple(sorted({v for v in values if len(v) >= 4}, key=len, reverse=True))


def scrub(value: Any, secrets: tuple[str, ...]) -> Any:
    """`value` with every secret in its strings replaced by [redacted] (recursively)."""
    if isinstance(value, str):
        for s in secrets:
            value = value.replace(s, REDACTED)
        return value
    if isinstance(value, list):
        return [scrub(v, secrets) for v in value]
    if isinstance(value, dict):
        return {scrub(k, secrets): scrub(v, secrets) for k, v in value.items()}
    return value


def redact_headers(headers: Iterable[tuple[str, str]], secrets: tuple[str, ...]) -> dict[str, str]:
    """Response headers by lower-case name (repeats joined by ", "); credentials and cookies redacted."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        shown = REDACTED if key in SENSITIVE_HEADERS else scrub(value, secrets)
        out[key] = shown if key not in out or shown == REDACTED else f"{out[key]}, {shown}"
    return out


def redact_url(url: str, secrets: tuple[str, ...]) -> str:
    """The URL without its userinfo, secrets in it redacted."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        host = parts.hostname or ""
        parts = parts._replace(netloc=f"{host}:{parts.port}" if parts.port else host)
    return str(scrub(urlunsplit(parts), secrets))


def is_json(content_type: str | None) -> bool:
    """application/json, or any `+json` type."""
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    return mime == "application/json" or mime.endswith("+json")


def body_summary(
    data: bytes, *, size: int, sha256: str, content_type: str | None, secrets: tuple[str, ...]
) -> dict[str, Any]:
    """The result's `body`: size and sha256 of all of it, an excerpt, and the parsed JSON when it is JSON.

    `data` is the start of the body (at least JSON_PARSE_BYTES of it, when that long)."""
    excerpt = data[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    out: dict[str, Any] = {"size": size, "sha256": sha256, "excerpt": scrub(excerpt, secrets)}
    if size > EXCERPT_BYTES:
        out["truncated"] = True
    if content_type:
        out["contentType"] = content_type
    if is_json(content_type) and size <= JSON_PARSE_BYTES:
        try:
            out["json"] = scrub(json.loads(data.decode("utf-8")), secrets)
        except ValueError:
            pass
    return out


def _size(result: dict[str, Any]) -> int:
    return len(json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode())


def fit(result: dict[str, Any], budget: int = RESULT_BUDGET) -> dict[str, Any]:
    """The result within `budget` bytes: drop the parsed JSON, then shorten the excerpt, then headers."""
    body = dict(result.get("body") or {})
    out = {**result, "body": body}
    if _size(out) > budget and "json" in body:
        del body["json"]
        body["jsonOmitted"] = True
    while _size(out) > budget and body.get("excerpt"):
        text = str(body["excerpt"])
        body["excerpt"] = text[: len(text) // 2]
        body["truncated"] = True
    headers = dict(out.get("headers") or {})
    while _size({**out, "headers": headers}) > budget and headers:
        del headers[max(headers, key=lambda k: len(headers[k]))]
        out["headersOmitted"] = True
    return {**out, "headers": headers}
