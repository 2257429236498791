"""The live log (`GET …/attempts/{n}/logs` while the pod exists) shows no `#kubetask:frame:` line,
followed or not, as the kept one does not: the runtime's frames (a large result, progress) are for
the operator. `tail` counts the output's lines, not the frames among them.

The pod writes frames with the runtime's own functions (`kubetask.executor.frames`): progress
lines, a progress frame after a partial line of output, and a result of about 14 KiB (5 frame
lines) just before its last line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
from typer.testing import Result

from kubetask.testing.cluster import Cluster, create, get_task, python_spec, task, wait_for, wait_task
from kubetask.testing.tokens import admin_headers

CODE = """
import sys, time
from kubetask.executor.frames import Progress, progress_line, result_lines
out = sys.stdout.buffer
def say(b):
    out.write(b); out.flush()
say(b"one\\n")
say(progress_line(Progress(1, 3, "a third")))
say(b"two")
say(progress_line(Progress(2, 3)))
time.sleep(4)
for line in result_lines(b'{"x":"' + b"y" * 14000 + b'"}'):
    say(line)
say(b"three\\n")
time.sleep(2)
"""
OUTPUT = "one\ntwo\nthree\n"
MARKER = "#kubetask:frame:"


def _url(ns: str, name: str) -> str:
    return f"/api/v1/namespaces/{ns}/tasks/{name}/attempts/1/logs"


def _attempt(cluster: Cluster, ns: str, name: str) -> dict[str, Any]:
    attempts = (get_task(cluster, ns, name).get("status") or {}).get("attempts") or [{}]
    first: dict[str, Any] = attempts[0]
    return first


def test_live_logs_show_no_frame_lines_followed_or_not(
    cluster: Cluster, namespace: str, api_url: str, kt: Callable[..., Result]
) -> None:
    create(cluster, namespace, "tasks", task("framed", **python_spec(CODE)))
    wait_for("the attempt running", lambda: _attempt(cluster, namespace, "framed").get("phase") == "Running")
    url = _url(namespace, "framed")
    with httpx.Client(base_url=api_url, timeout=httpx.Timeout(30, read=60), headers=admin_headers(cluster)) as http:
        with http.stream("GET", url, params={"follow": "true"}) as r:
            assert (r.status_code, r.headers["x-kubetask-log-source"]) == (200, "live")
            followed = "".join(r.iter_text())
        assert followed == OUTPUT

        wait_task(cluster, namespace, "framed")
        whole = http.get(url)
        assert (whole.headers["x-kubetask-log-source"], whole.text) == ("live", OUTPUT)
        # the apiserver's own tailLines=2 would be the last frame line and "three"
        assert http.get(url, params={"tail": 2}).text == "two\nthree\n"
        assert http.get(url, params={"tail": 0}).text == ""
        assert http.get(url, params={"sinceSeconds": 600}).text == OUTPUT

    cli = kt("logs", "framed")
    assert (cli.exit_code, cli.stdout) == (0, OUTPUT), cli.stderr
    assert MARKER not in followed + whole.text + cli.stdout
