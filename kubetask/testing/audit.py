"""Reading the local apiserver's audit log: the tests' oracle for "once" and "who wrote".

Counting Job names in a listing cannot see a Job deleted and created again for the same attempt,
and a process's own log lines or request counters can only say what that process believes it
did. The apiserver records every request it answered, with the caller's User-Agent (each
operator replica sends its own) and the answer's code, in a file that survives an apiserver
restart (scripts/cluster/cluster.sh writes it to DIR/audit.log with a policy that audits writes
to Jobs, Tasks and their status, Events, pods and Leases, and reads of kubetask's resources).

Only `ResponseComplete` entries count: one per answered request. A position in the file
(`AuditLog.mark()`) lets a test ask "what happened since".
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

WRITE_VERBS = frozenset({"create", "update", "patch", "delete", "deletecollection"})


@dataclass(frozen=True)
class AuditRequest:
    """One answered request, as the apiserver recorded it."""

    verb: str
    resource: str
    subresource: str  # "" for the object itself
    namespace: str
    name: str  # for a create, the name in the body ("" with generateName)
    user_agent: str
    code: int  # the answer's HTTP status
    received: str  # requestReceivedTimestamp (RFC 3339, microseconds)
    uri: str  # requestURI: path and query (a LIST's labelSelector says whose objects it read)
    request_object: dict[str, Any] | None  # the body, at level Request

    def label(self, key: str) -> str | None:
        """A label of the object in the request body (pods are created with generateName: their
        `job-name` label says which Job's pod it is)."""
        meta = (self.request_object or {}).get("metadata") or {}
        value = (meta.get("labels") or {}).get(key)
        return value if isinstance(value, str) else None


def parse(line: str) -> AuditRequest | None:
    """An answered request from one JSON line of the log; None for other stages."""
    event = json.loads(line)
    if event.get("stage") != "ResponseComplete":
        return None
    ref = event.get("objectRef") or {}
    body = event.get("requestObject")
    return AuditRequest(
        verb=event.get("verb", ""),
        resource=ref.get("resource", ""),
        subresource=ref.get("subresource", ""),
        namespace=ref.get("namespace", ""),
        name=ref.get("name", ""),
        user_agent=event.get("userAgent", ""),
        code=int((event.get("responseStatus") or {}).get("code", 0)),
        received=event.get("requestReceivedTimestamp", ""),
        uri=event.get("requestURI", ""),
        request_object=body if isinstance(body, dict) else None,
    )


def _matches(value: str, want: str | Collection[str] | None) -> bool:
    if want is None:
        return True
    return value == want if isinstance(want, str) else value in want


class AuditLog:
    """The apiserver's JSON audit log at `path` (one event per line)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def mark(self) -> int:
        """The current end of the log, for `requests(since=...)`."""
        return self.path.stat().st_size if self.path.exists() else 0

    def _lines(self, since: int) -> list[str]:
        if not self.path.exists():
            return []
        with self.path.open("rb") as f:
            if since > 0:
                f.seek(since - 1)
                started_mid_line = f.read(1) != b"\n"
            else:
                started_mid_line = False
            data = f.read()
        lines = data.decode("utf-8", "replace").split("\n")
        if started_mid_line:  # an entry being written at the mark belongs before it
            lines = lines[1:]
        return lines[:-1]  # the last piece is "" or an entry still being written

    def requests(
        self,
        *,
        since: int = 0,
        verb: str | Collection[str] | None = None,
        resource: str | Collection[str] | None = None,
        subresource: str | None = None,
        namespace: str | None = None,
        name: str | None = None,
        user_agent: str | None = None,
        code: int | Collection[int] | None = None,
    ) -> list[AuditRequest]:
        """Answered requests after position `since`, in log order, that match every filter given.

        `verb`/`resource`: one value or a set; `subresource`: "" means the object itself, None any;
        `user_agent`: a substring (e.g. "(replica-b)"); `code`: one status or a set of them.
        """
        out = []
        for line in self._lines(since):
            r = parse(line) if line.strip() else None
            if r is None:
                continue
            if not (_matches(r.verb, verb) and _matches(r.resource, resource)):
                continue
            if subresource is not None and r.subresource != subresource:
                continue
            if namespace is not None and r.namespace != namespace:
                continue
            if name is not None and r.name != name:
                continue
            if user_agent is not None and user_agent not in r.user_agent:
                continue
            if code is not None and not (r.code == code if isinstance(code, int) else r.code in code):
                continue
            out.append(r)
        return out
