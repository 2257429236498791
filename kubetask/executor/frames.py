"""Frames: what the runtime says to the operator through the pod's log, beside the handler's output.

A result too large for the termination message (4 KiB) travels in the container's stdout, as
lines the operator reads with the log it keeps anyway (operator/logs.py); the
termination report then carries only a reference (`report.ResultRef`: size, sha256, preview).
Progress (`ctx.progress`) travels the same way. Both sides import this module, so the format
has one home (next to `report`, whose envelope names the result). Standard library only.

    #kubetask:frame:1 result <sha256 hex> <i>/<n> <base64 of chunk i>
    #kubetask:frame:1 progress {"current": 3, "total": 10, "message": "...", "time": "..."}

Why lines of at most `MAX_LINE` (4000) bytes: a write of at most PIPE_BUF (4096) bytes to the
container's stdout pipe is atomic, so a line cannot be torn by the handler's own threads writing
at the same time; and the kubelet splits longer lines into 16 KiB partial entries in its CRI log
(pods/log joins them again, but a short line never depends on that). A 1 MiB result is about
370 lines. The marker may follow a partial line of the handler's (`print("x", end="")`): the
reader finds it anywhere in a line, keeps what came before as output, and takes the rest as
the frame. A line that merely looks like a frame but does not parse is output. Every result
line names the result's sha256, so stray or forged lines of another value are ignored, and
the reader checks size and digest of what it put together (`FrameReader.result`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

# the operator tells the executor the largest result it reads from the log (absent or 0: none beyond 4 KiB)
RESULT_MAX_ENV = "KUBETASK_RESULT_MAX_BYTES"
MARKER = b"#kubetask:frame:1 "
MAX_LINE = 4000  # bytes, newline included: below PIPE_BUF (atomic writes) and the kubelet's 16 KiB split
CHUNK_BYTES = 2880  # raw bytes per result line: 3840 base64 characters, plus about 90 of header
_RESULT = re.compile(rb"result ([0-9a-f]{64}) ([1-9][0-9]{0,6})/([1-9][0-9]{0,6}) ([A-Za-z0-9+/=]*)")
_PROGRESS = re.compile(rb"progress (\{.*\})")
_PENDING_MAX = 64 * 1024  # a partial line longer than this, without a marker, is passed on as output


def digest(payload: bytes) -> str:
    """The sha256 (hex) the frames and the report name a result by."""
    return hashlib.sha256(payload).hexdigest()


def result_lines(payload: bytes) -> list[bytes]:
    """The result's frame lines, each ending in a newline, in order."""
    sha = digest(payload).encode()
    chunks = [payload[i : i + CHUNK_BYTES] for i in range(0, len(payload), CHUNK_BYTES)] or [b""]
    n = len(chunks)
    return [MARKER + b"result %s %d/%d %s\n" % (sha, i, n, base64.b64encode(c)) for i, c in enumerate(chunks, 1)]


@dataclass(frozen=True)
class Progress:
    """How far a handler got, as it said last: `current` of `total` (either may be unknown)."""

    current: float | None
    total: float | None = None
    message: str | None = None
    time: str | None = None  # RFC 3339, the pod's clock

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key in ("current", "total", "message", "time"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


MAX_PROGRESS_MESSAGE = 1024  # characters; a longer message is cut, so the line stays within MAX_LINE


def progress_line(p: Progress) -> bytes:
    """One progress frame line, newline included."""
    if p.message is not None and len(p.message) > MAX_PROGRESS_MESSAGE:
        p = Progress(p.current, p.total, p.message[: MAX_PROGRESS_MESSAGE - 1] + "…", p.time)
    body = json.dumps(p.to_json(), separators=(",", ":"), ensure_ascii=True)
    return MARKER + b"progress " + body.encode() + b"\n"


def parse_progress(body: bytes) -> Progress | None:
    """The progress a frame's body (`progress {...}`) says, or None when it is none."""
    m = _PROGRESS.fullmatch(body)
    if m is None:
        return None
    try:
        raw = json.loads(m.group(1))
    except ValueError:
        return None
    if not isinstance(raw, dict):
        return None
    message, time = raw.get("message"), raw.get("time")
    return Progress(
        current=_number(raw.get("current")),
        total=_number(raw.get("total")),
        message=message if isinstance(message, str) else None,
        time=time if isinstance(time, str) else None,
    )


class FramesMissing(ValueError):
    """The frames of a result the report names are not all in the log, or do not add up to it."""


class FrameReader:
    """Feed a log's bytes in order: frame lines are taken out, everything else passes through.

    `feed` returns the output to keep (the handler's own lines, unchanged but for a newline put
    after a partial line a frame followed); `finish` returns what is left at the end. Result
    chunks are collected by the digest they name, up to `max_bytes` of decoded result in all
    (more is dropped and the result reported missing); `progress` is the last progress said.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._pending = b""
        self._chunks: dict[str, dict[int, bytes]] = {}
        self._counts: dict[str, int] = {}
        self._held = 0
        self.overflow = False
        self.progress: Progress | None = None
        self.frames = 0

    def feed(self, chunk: bytes) -> bytes:
        data = self._pending + chunk
        out = bytearray()
        start = 0
        while True:
            end = data.find(b"\n", start)
            if end < 0:
                break
            out += self._line(data[start : end + 1])
            start = end + 1
        rest = data[start:]
        if len(rest) > _PENDING_MAX:  # no newline for long: pass it on, keeping a frame that may start
            at = rest.find(MARKER)
            if at < 0:
                keep = len(MARKER) - 1
                out += rest[: len(rest) - keep]
                rest = rest[len(rest) - keep :]
            elif at > 0:
                out += rest[:at]
                rest = rest[at:]
            elif len(rest) > MAX_LINE:  # starts like a frame but is far too long for one: output
                out += rest
                rest = b""
        self._pending = rest
        return bytes(out)

    def finish(self) -> bytes:
        """The output left after the last chunk (a last line without a newline, or a frame there)."""
        rest, self._pending = self._pending, b""
        return self._line(rest) if rest else b""

    def _line(self, line: bytes) -> bytes:
        at = line.find(MARKER)
        if at < 0 or len(line) - at > MAX_LINE:
            return line
        body = line[at + len(MARKER) :].rstrip(b"\r\n")
        if not self._take(body):
            return line
        self.frames += 1
        return line[:at] + b"\n" if at > 0 else b""

    def _take(self, body: bytes) -> bool:
        m = _RESULT.fullmatch(body)
        if m is not None:
            sha, i, n = m.group(1).decode(), int(m.group(2)), int(m.group(3))
            try:
                raw = base64.b64decode(m.group(4), validate=True)
            except (binascii.Error, ValueError):
                return False
            if i > n:
                return False
            if self._held + len(raw) > self.max_bytes:
                self.overflow = True
                return True
            chunks = self._chunks.setdefault(sha, {})
            if i not in chunks:
                chunks[i] = raw
                self._held += len(raw)
            self._counts[sha] = max(self._counts.get(sha, 0), n)
            return True
        progress = parse_progress(body)
        if progress is not None:
            self.progress = progress
            return True
        return False

    def result(self, sha256: str, size: int) -> bytes:
        """The result named `sha256` of `size` bytes, put together; FramesMissing says what is wrong."""
        chunks = self._chunks.get(sha256)
        if not chunks:
            extra = f" (frames over the limit of {self.max_bytes} bytes were dropped)" if self.overflow else ""
            raise FramesMissing(f"no frame of the result (sha256 {sha256[:12]}…) is in the pod's log{extra}")
        n = self._counts[sha256]
        missing = [i for i in range(1, n + 1) if i not in chunks]
        if missing:
            shown = ", ".join(str(i) for i in missing[:5]) + (", …" if len(missing) > 5 else "")
            raise FramesMissing(f"{len(missing)} of the result's {n} frames are missing from the pod's log ({shown})")
        payload = b"".join(chunks[i] for i in range(1, n + 1))
        if len(payload) != size:
            raise FramesMissing(f"the result's frames hold {len(payload)} bytes; its report says {size}")
        got = digest(payload)
        if got != sha256:
            raise FramesMissing(f"the result's frames do not match its sha256 (got {got[:12]}…, want {sha256[:12]}…)")
        return payload
