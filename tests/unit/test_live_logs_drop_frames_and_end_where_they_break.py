"""A live log read from a real HTTP server on 127.0.0.1 standing in for the apiserver's `pods/log`
(chunked, cut wherever the test says): frame lines are taken out wherever the chunks split them,
an unfollowed `tail` is cut after the frames are out (the apiserver is not asked for `tailLines`),
a followed log is passed on line by line as it comes, and a body that breaks off mid-stream (the
pod deleted under a follower) ends the log with what was read instead of raising."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from kubernetes import client

from kubetask.api.pod_logs import LogQuery, PodLogs
from kubetask.executor.frames import Progress, progress_line, result_lines

CUT = object()  # in a script: drop the connection here, mid-body (no last chunk)
OUTPUT = b"one\ntwo\nthree\n"


def _framed() -> bytes:
    """Output and frames as the runtime interleaves them: a progress frame after a partial line,
    a result of 5 frame lines before the last line."""
    return (
        b"one\n"
        + progress_line(Progress(1, 3, "a third"))
        + b"two"
        + progress_line(Progress(2, 3))
        + b"".join(result_lines(b'{"x":"' + b"y" * 14000 + b'"}'))
        + b"three\n"
    )


@dataclass
class Script:
    """What the server writes, in order: bytes (one chunk each), an Event to wait for, or CUT."""

    steps: list[Any]
    queries: list[dict[str, list[str]]] = field(default_factory=list)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    script: Script


class Handler(BaseHTTPRequestHandler):
    server: Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002  (http.server's name)
        pass

    def do_GET(self) -> None:  # noqa: N802  (http.server's name)
        script = self.server.script
        script.queries.append(parse_qs(urlsplit(self.path).query))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for step in script.steps:
            if step is CUT:
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if isinstance(step, threading.Event):
                assert step.wait(30), "the reader did not get the lines before it"
                continue
            self.wfile.write(b"%x\r\n%s\r\n" % (len(step), step))
            self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


@pytest.fixture
def server() -> Iterator[Server]:
    srv = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield srv
    srv.shutdown()
    srv.server_close()


def _pods(srv: Server) -> PodLogs:
    config = client.Configuration(host=f"http://127.0.0.1:{srv.server_address[1]}")
    return PodLogs(client.ApiClient(config), timeout=10)


def _read(srv: Server, script: Script, query: LogQuery, seen: list[bytes] | None = None) -> bytes:
    srv.script = script

    async def read() -> bytes:
        live = await _pods(srv).open("ns", "t-1-abcde", query)
        out = b""
        async for line in live.lines():
            out += line
            if seen is not None:
                seen.append(line)
        return out

    return asyncio.run(read())


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


@pytest.mark.parametrize("size", [1, 7, 1000, 100_000], ids=lambda n: f"chunks of {n} bytes")
def test_frame_lines_are_taken_out_wherever_the_chunks_split_them(server: Server, size: int) -> None:
    assert _read(server, Script(_chunks(_framed(), size)), LogQuery()) == OUTPUT


@pytest.mark.parametrize(("tail", "expected"), [(2, b"two\nthree\n"), (1, b"three\n"), (0, b""), (9, OUTPUT)])
def test_an_unfollowed_tail_counts_lines_of_output_not_frames(server: Server, tail: int, expected: bytes) -> None:
    script = Script(_chunks(_framed(), 999))
    assert _read(server, script, LogQuery(tail_lines=tail)) == expected
    assert "tailLines" not in script.queries[0]  # cut here: the apiserver's would count the frames


def test_a_followed_log_comes_line_by_line_and_asks_the_apiserver_for_its_tail(server: Server) -> None:
    first_read = threading.Event()
    script = Script([b"one\n" + progress_line(Progress(1, 2)), first_read, b"two\n"])
    seen: list[bytes] = []

    def watch() -> None:  # the server sends the rest only once the reader has had "one"
        while not seen:
            threading.Event().wait(0.01)
        first_read.set()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    assert _read(server, script, LogQuery(follow=True, tail_lines=5), seen) == b"one\ntwo\n"
    assert seen[0] == b"one\n"
    assert (script.queries[0]["follow"], script.queries[0]["tailLines"]) == (["true"], ["5"])


@pytest.mark.parametrize("follow", [True, False], ids=["followed", "unfollowed"])
def test_a_log_that_breaks_off_mid_body_ends_with_what_was_read(server: Server, follow: bool) -> None:
    framed = _framed()
    cut_at = framed.index(b"three")  # inside nothing: the frames before are whole, "three" never comes
    script = Script([framed[:cut_at], b"thr", CUT])
    assert _read(server, script, LogQuery(follow=follow)) == b"one\ntwo\nthr"


def test_a_tail_of_a_log_that_breaks_off_is_the_last_lines_read(server: Server) -> None:
    script = Script([b"a\nb\n" + progress_line(Progress(1)) + b"c\n", CUT])
    assert _read(server, script, LogQuery(tail_lines=2)) == b"b\nc\n"
