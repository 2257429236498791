"""The report an executor leaves for the operator: one JSON envelope in the termination message.

Both sides import this module, so the format has one home: the runtime writes it (`encode`); the
operator's pure reading of a finished pod (`kubetask.observe`) reads it back (`decode`). Standard
library only, as the whole runtime.

    {"kubetaskReport": 1, "handler": {"name": "http", "version": "1"},
     "time": "2026-12-02T08:00:00.123Z", "result": {...}}                  exit 0: the return value
    {"kubetaskReport": 1, "handler": {...}, "time": "...",
     "failure": {"kind": "HTTPStatus", "message": "HTTP 503 ...",
                 "retryable": true, "retryAfterSeconds": 8}}              exit != 0

A result too large for the termination message travels as frames in the pod's log
(`kubetask.executor.frames`); the envelope then holds `resultRef` instead of `result`:

    {"kubetaskReport": 1, "handler": {...}, "time": "...",
     "resultRef": {"size": 614400, "sha256": "9f2c...", "preview": "{\"rows\":[..."}}   exit 0

Made to be extended: `kubetaskReport` is the format's version and grows only when an older reader
would misread a newer envelope; new keys (a large result's frame in the log, progress) go beside
`result` and `failure`, and `decode` ignores keys it does not know. `time` is when the handler
returned or raised, by the pod's clock with milliseconds (Kubernetes' `finishedAt` has whole seconds,
rounded down): a `retryAfterSeconds` counts from it. A termination message that is no envelope (a
plain command's JSON or text, an executor older than this format) decodes to None and is read as
before.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

VERSION = 1
MARKER = "kubetaskReport"
MAX_BYTES = 4096  # Kubernetes truncates termination messages to 4096 bytes


@dataclass(frozen=True)
class Failure:
    """How a handler failed: `kind` names what failed, `retryable` whether another attempt may help."""

    kind: str
    message: str
    retryable: bool = True  # not classified: the task's retry policy decides, as for any exit
    retry_after_seconds: float | None = None  # not before this long after `Report.time`


PREVIEW_BYTES = 1024  # a large result's preview: its JSON text's first bytes, cut at a character


@dataclass(frozen=True)
class ResultRef:
    """A result framed in the log: its JSON text's size in bytes, sha256 (hex) and first bytes."""

    size: int
    sha256: str
    preview: str


def preview(text: str) -> str:
    """The first PREVIEW_BYTES bytes of `text`, cut at a character boundary."""
    return text.encode()[:PREVIEW_BYTES].decode(errors="ignore")


@dataclass(frozen=True)
class Report:
    """One attempt's report: the handler, and its result or its failure."""

    handler: str
    version: str | None = None
    time: datetime | None = None
    result: Any = None
    failure: Failure | None = None
    result_ref: ResultRef | None = None  # the result is in the log's frames, not here


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def to_json(report: Report) -> dict[str, Any]:
    """The envelope as a JSON object (the keys above; unset ones left out)."""
    handler: dict[str, Any] = {"name": report.handler}
    if report.version is not None:
        handler["version"] = report.version
    out: dict[str, Any] = {MARKER: VERSION, "handler": handler}
    if report.time is not None:
        out["time"] = _iso(report.time)
    if report.failure is not None:
        f = report.failure
        failure: dict[str, Any] = {"kind": f.kind, "message": f.message, "retryable": f.retryable}
        if f.retry_after_seconds is not None:
            failure["retryAfterSeconds"] = f.retry_after_seconds
        out["failure"] = failure
    elif report.result_ref is not None:
        ref = report.result_ref
        out["resultRef"] = {"size": ref.size, "sha256": ref.sha256, "preview": ref.preview}
    else:
        out["result"] = report.result
    return out


def encode(report: Report) -> str:
    """The envelope as compact JSON text."""
    return json.dumps(to_json(report), separators=(",", ":"), ensure_ascii=False)


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        return None
    return float(value)


def _failure(raw: Any) -> Failure:
    raw = raw if isinstance(raw, dict) else {}
    retryable = raw.get("retryable")
    return Failure(
        kind=str(raw.get("kind") or "Error"),
        message=str(raw.get("message") or ""),
        retryable=retryable if isinstance(retryable, bool) else True,
        retry_after_seconds=_seconds(raw.get("retryAfterSeconds")),
    )


def _result_ref(raw: Any) -> ResultRef | None:
    if not isinstance(raw, dict):
        return None
    size, sha, shown = raw.get("size"), raw.get("sha256"), raw.get("preview")
    if isinstance(size, bool) or not isinstance(size, int) or size < 0 or not isinstance(sha, str):
        return None
    return ResultRef(size=size, sha256=sha.lower(), preview=shown if isinstance(shown, str) else "")


def decode(text: str | None) -> Report | None:
    """The report in a termination message, or None when the message is not an envelope."""
    if not text or MARKER not in text:
        return None
    try:
        raw = json.loads(text)
    except ValueError:
        return None
    if not isinstance(raw, dict) or isinstance(raw.get(MARKER), bool) or not isinstance(raw.get(MARKER), int):
        return None
    if raw[MARKER] < 1:
        return None
    given = raw.get("handler")
    handler: dict[str, Any] = given if isinstance(given, dict) else {}
    version = handler.get("version")
    return Report(
        handler=str(handler.get("name") or ""),
        version=str(version) if version is not None else None,
        time=_parse_time(raw.get("time")),
        result=raw.get("result"),
        failure=_failure(raw["failure"]) if "failure" in raw else None,
        result_ref=_result_ref(raw.get("resultRef")) if "failure" not in raw else None,
    )
