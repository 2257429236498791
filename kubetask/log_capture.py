"""The capping rule for kept logs: the first `head` bytes and the last `tail` bytes of a stream, and its size.

Pure: the operator feeds it the chunks it reads from the pod's log; memory stays within about
head + 2 x tail bytes whatever the log's size. The marker that stands where bytes were dropped is
written here too, so the store and every reader show the same line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

DEFAULT_HEAD_BYTES = 64 * 1024
DEFAULT_TAIL_BYTES = 1024 * 1024


@dataclass(frozen=True)
class CappedLog:
    """What is kept of one log: bytes decoded as UTF-8 with errors replaced."""

    head: str
    tail: str
    total_bytes: int
    cut: bool


def size_text(n: int) -> str:
    """A byte count as people read it: `512 B`, `64.0 KiB`, `5.0 MiB`."""
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    if n < 1024**3:
        return f"{n / 1024**2:.1f} MiB"
    return f"{n / 1024**3:.1f} GiB"


def cut_marker(dropped_bytes: int, total_bytes: int) -> str:
    """The line standing where `dropped_bytes` of a `total_bytes` log were not kept."""
    return f"\n[kubetask: {size_text(dropped_bytes)} cut here; the log was {size_text(total_bytes)}]\n"


def joined(head: str, tail: str, total_bytes: int, cut: bool) -> str:
    """A kept log as one text: head, the marker if bytes were dropped, tail."""
    if not cut:
        return head + tail
    kept = len(head.encode("utf-8", errors="replace")) + len(tail.encode("utf-8", errors="replace"))
    return head + cut_marker(max(total_bytes - kept, 0), total_bytes) + tail


# what the kubelet writes into a log stream, as if it were the container's, when the container
# is gone: a deleted pod's log read after the kubelet removed it, or followed while it does
KUBELET_GONE = (
    b"unable to retrieve container logs for ",
    b"rpc error: code = NotFound desc = an error occurred when try to find container ",
)


class LogCap:
    """Feed chunks in order; `result()` gives the head, the tail, the total and whether bytes were dropped."""

    def __init__(self, head_bytes: int = DEFAULT_HEAD_BYTES, tail_bytes: int = DEFAULT_TAIL_BYTES) -> None:
        if head_bytes < 0 or tail_bytes < 0:
            raise ValueError("head and tail sizes must be >= 0")
        self._head_max = head_bytes
        self._tail_max = tail_bytes
        self._head = bytearray()
        self._tail = bytearray()
        self.total_bytes = 0

    def feed(self, chunk: bytes) -> None:
        self.total_bytes += len(chunk)
        room = self._head_max - len(self._head)
        if room > 0:
            self._head += chunk[:room]
            chunk = chunk[room:]
        if not chunk or self._tail_max == 0:
            return
        self._tail += chunk
        if len(self._tail) > 2 * self._tail_max:  # trim now and then, not on every chunk
            del self._tail[: len(self._tail) - self._tail_max]

    def drop_kubelet_error(self) -> bool:
        """Remove a last line that is the kubelet's "container gone" message (KUBELET_GONE), not the
        container's output; whether one was removed."""
        buf = self._tail if self._tail else self._head
        end = len(buf) - 1 if buf.endswith(b"\n") else len(buf)
        start = buf.rfind(b"\n", 0, end) + 1
        if not any(bytes(buf[start : start + len(p)]) == p for p in KUBELET_GONE):
            return False
        self.total_bytes -= len(buf) - start
        del buf[start:]
        return True

    def result(self) -> CappedLog:
        tail = bytes(self._tail[-self._tail_max :]) if self._tail_max else b""
        kept = len(self._head) + len(tail)
        return CappedLog(
            head=bytes(self._head).decode("utf-8", errors="replace"),
            tail=tail.decode("utf-8", errors="replace"),
            total_bytes=self.total_bytes,
            cut=self.total_bytes > kept,
        )


def capped(chunks: list[bytes] | tuple[bytes, ...], head_bytes: int, tail_bytes: int) -> CappedLog:
    """The rule applied to a whole sequence of chunks (for tests and small logs)."""
    cap = LogCap(head_bytes, tail_bytes)
    for chunk in chunks:
        cap.feed(chunk)
    return cap.result()


def container_ended(pod: Mapping[str, Any], container: str) -> bool:
    """Whether the pod's log is complete: the container terminated, the pod finished, or the pod is
    being deleted with no container running (it never started, or was killed)."""
    status = pod.get("status") or {}
    if status.get("phase") in ("Succeeded", "Failed"):
        return True
    states = {s.get("name"): s.get("state") or {} for s in status.get("containerStatuses") or []}
    if "terminated" in states.get(container, {}):
        return True
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    return deleting and not any("running" in s for s in states.values())


def ended_at(pod: Mapping[str, Any], container: str) -> str | None:
    """When the container's log ended (its termination), else when the pod's deletion was asked; RFC 3339."""
    for s in (pod.get("status") or {}).get("containerStatuses") or []:
        finished = ((s.get("state") or {}).get("terminated") or {}).get("finishedAt")
        if s.get("name") == container and finished:
            return str(finished)
    deleted = (pod.get("metadata") or {}).get("deletionTimestamp")
    return str(deleted) if deleted else None
