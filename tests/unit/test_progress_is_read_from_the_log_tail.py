"""The task detail's progress: the last frame in a log's tail, only for the attempt that is Running,
and none (never an error) when the pod's log cannot be read."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from kubernetes import client

from kubetask.api.bodies import ProgressPublic
from kubetask.api.progress_service import LIMIT_BYTES, ProgressReader, last_progress, public, running
from kubetask.executor.frames import Progress, progress_line, result_lines
from kubetask.history import AttemptRecord

STAMP = "2026-12-03T08:00:00.250Z"


def _attempt(number: int, phase: str, *, pod: str | None = "p-1", finished: bool = False) -> AttemptRecord:
    end = datetime(2026, 12, 3, tzinfo=UTC) if finished else None
    return AttemptRecord(number, f"t-{number}", pod, phase, None, None, None, None, end, None)


def test_the_last_frame_in_the_tail_wins_whatever_is_printed_around_it() -> None:
    log = (
        b"starting\n"
        + progress_line(Progress(1, 10, "one", STAMP))
        + b"half a line"
        + progress_line(Progress(4, 10, "four", STAMP))
        + b"".join(result_lines(b'{"big": true}'))
        + b"more output\n"
    )
    assert last_progress(log) == Progress(4, 10, "four", STAMP)
    assert last_progress(b"no frames here\n") is None
    assert last_progress(b"") is None


def test_the_public_progress_names_its_attempt_and_parses_the_time() -> None:
    assert public(Progress(3, 10, "x", STAMP), 2) == ProgressPublic(
        current=3, total=10, message="x", time=datetime(2026, 12, 3, 8, 0, 0, 250000, tzinfo=UTC), attempt=2
    )
    assert public(Progress(3, None, None, "not a time"), 1) == ProgressPublic(current=3, attempt=1)
    assert public(Progress(None, 10), 1) is None  # a frame without `current` says nothing


@pytest.mark.parametrize(
    ("attempts", "read"),
    [
        ([], None),
        ([_attempt(1, "Running")], 1),
        ([_attempt(1, "Pending")], None),
        ([_attempt(1, "Running", pod=None)], None),
        ([_attempt(1, "Failed", finished=True), _attempt(2, "Running")], 2),
        ([_attempt(1, "Running"), _attempt(2, "Pending")], None),
        ([_attempt(1, "Succeeded", finished=True)], None),
    ],
    ids=["no-attempt", "running", "pending", "no-pod", "second-running", "newer-pending", "ended"],
)
def test_only_the_latest_attempt_running_in_its_pod_is_read(attempts: list[AttemptRecord], read: int | None) -> None:
    found = running(attempts)
    assert (found.number if found else None) == read


class _Answers(BaseHTTPRequestHandler):
    status = 200
    body = b""
    seen: list[str] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.path)
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def apiserver() -> Iterator[tuple[ProgressReader, type[_Answers]]]:
    """A loopback HTTP server answering pods/log as told (an apiserver's faults on cue)."""
    answers = type("Answers", (_Answers,), {"seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield ProgressReader(client.ApiClient(cfg), timeout=5), answers
    finally:
        server.shutdown()
        server.server_close()


def test_the_tail_is_asked_bounded_and_read(apiserver: tuple[ProgressReader, type[_Answers]]) -> None:
    reader, answers = apiserver
    answers.body = b"work\n" + progress_line(Progress(2, 5, "two", STAMP))
    assert reader.read("ns", _attempt(3, "Running")) == public(Progress(2, 5, "two", STAMP), 3)
    [path] = answers.seen
    assert path == f"/api/v1/namespaces/ns/pods/p-1/log?container=main&tailLines=256&limitBytes={LIMIT_BYTES}"


def test_a_tail_cut_by_the_byte_cap_is_asked_again_with_fewer_lines(
    apiserver: tuple[ProgressReader, type[_Answers]],
) -> None:
    reader, answers = apiserver
    answers.body = b"x" * LIMIT_BYTES
    assert reader.read("ns", _attempt(1, "Running")) is None
    assert [p.split("tailLines=")[1].split("&")[0] for p in answers.seen] == ["256", "16"]


@pytest.mark.parametrize("status", [404, 400, 403, 500, 503])
def test_a_log_that_cannot_be_read_gives_no_progress(
    apiserver: tuple[ProgressReader, type[_Answers]], status: int
) -> None:
    reader, answers = apiserver
    answers.status, answers.body = status, b'{"kind":"Status"}'
    assert reader.read("ns", _attempt(1, "Running")) is None


def test_an_unreachable_apiserver_gives_no_progress() -> None:
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = client.Configuration()
    cfg.host = f"http://127.0.0.1:{port}"
    assert ProgressReader(client.ApiClient(cfg), timeout=2).read("ns", _attempt(1, "Running")) is None
