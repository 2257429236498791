"""`GET .../tasks/{name}/attempts/{n}/logs` and `kubetask logs` on the real node: a running attempt's
log streams line by line while it runs (lines arrive before the attempt ends: the Task is read as
each arrives), `sinceSeconds` and `tail` cut the live log, and after the Task, its Job and its pod
are deleted the log kept in SQL answers the same URL; 404s name what is missing.

The kept log is the operator's (issue 18 item 1: it keeps each attempt's log when the attempt
ends, and the pod's finalizer holds the pod until it has)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from typer.testing import Result

from kubetask.testing.cluster import (
    FINAL,
    Cluster,
    create,
    get_task,
    list_objects,
    python_spec,
    task,
    wait_for,
)
from kubetask.testing.tokens import admin_headers

SOURCE = "x-kubetask-log-source"
# one line, a pause long enough that `sinceSeconds=3` tells it from the next, then a line a second
PRINTER = (
    "import time\n"
    "print('early', flush=True)\n"
    "time.sleep(6)\n"
    "for i in range(3):\n"
    "    print(f'line {i}', flush=True)\n"
    "    time.sleep(1)\n"
)
PRINTED = "early\nline 0\nline 1\nline 2\n"
QUIET = "import time\nprint('ready', flush=True)\ntime.sleep(40)\n"
LIMITS = httpx.Limits(max_connections=None, max_keepalive_connections=None)


def _url(ns: str, name: str, n: int = 1) -> str:
    return f"/api/v1/namespaces/{ns}/tasks/{name}/attempts/{n}/logs"


def _attempt(cluster: Cluster, ns: str, name: str) -> dict[str, Any] | None:
    attempts = (get_task(cluster, ns, name).get("status") or {}).get("attempts") or []
    return attempts[0] if attempts else None


def _phase(cluster: Cluster, ns: str, name: str) -> str | None:
    phase: str | None = (get_task(cluster, ns, name).get("status") or {}).get("phase")
    return phase


def _nothing_left(cluster: Cluster, ns: str) -> bool:
    pods, jobs = cluster.core().list_namespaced_pod(ns).items, cluster.batch().list_namespaced_job(ns).items
    return not (pods or jobs or list_objects(cluster, ns, "tasks"))


def _ok(r: Result) -> str:
    assert r.exit_code == 0, (r.exit_code, r.stdout, r.stderr)
    return r.stdout


def test_follow_streams_a_running_attempt_line_by_line(cluster: Cluster, namespace: str, api_url: str, kt) -> None:
    create(cluster, namespace, "tasks", task("printer", **python_spec(PRINTER)))
    wait_for("the attempt running", lambda: (_attempt(cluster, namespace, "printer") or {}).get("phase") == "Running")
    url = _url(namespace, "printer")
    with httpx.Client(base_url=api_url, timeout=httpx.Timeout(30, read=60), headers=admin_headers(cluster)) as http:
        with http.stream("GET", url, params={"follow": "true"}) as r:
            assert r.status_code == 200, r.read()
            assert r.headers[SOURCE] == "live"
            assert r.headers["content-type"].startswith("text/plain")
            lines = r.iter_lines()
            assert next(lines) == "early"
            assert _phase(cluster, namespace, "printer") not in FINAL  # it arrived while the attempt runs
            assert next(lines) == "line 0"
            recent = http.get(url, params={"sinceSeconds": 3})  # 'early' came 6 s before 'line 0'
            assert (recent.status_code, recent.text, recent.headers[SOURCE]) == (200, "line 0\n", "live")
            assert list(lines) == ["line 1", "line 2"]  # then the stream ends, with the container
        wait_for("the task final", lambda: _phase(cluster, namespace, "printer") in FINAL)
        assert _phase(cluster, namespace, "printer") == "Succeeded"
        whole = http.get(url)
        assert (whole.text, whole.headers[SOURCE], whole.headers["x-kubetask-log-pod"]) == (
            PRINTED,
            "live",
            _attempt(cluster, namespace, "printer")["podName"],  # type: ignore[index]
        )
        assert http.get(url, params={"tail": 2}).text == "line 1\nline 2\n"

    assert _ok(kt("logs", "printer")) == PRINTED  # the latest attempt
    assert _ok(kt("logs", "printer", "--tail", "1", "--attempt", "1")) == "line 2\n"
    followed = kt("logs", "printer", "-f", "-v")
    assert (_ok(followed), followed.stderr) == (PRINTED, "attempt 1: live log\n")  # ends with the container


FOLLOWERS = 50  # more than the thread pool's 40 (anyio's default): a follower on a thread would starve the rest


def test_followers_hold_no_thread_and_ctrl_c_ends_one_quietly(
    cluster: Cluster, namespace: str, api_url: str, tmp_path: Path
) -> None:
    create(cluster, namespace, "tasks", task("quiet", **python_spec(QUIET)))
    wait_for("the attempt running", lambda: (_attempt(cluster, namespace, "quiet") or {}).get("phase") == "Running")
    url = _url(namespace, "quiet")

    async def follow(http: httpx.AsyncClient, opened: list[httpx.Response]) -> str:
        r = await http.send(http.build_request("GET", url, params={"follow": "true"}), stream=True)
        opened.append(r)
        assert r.status_code == 200
        return await anext(r.aiter_lines())

    async def everyone() -> tuple[list[str], int]:
        opened: list[httpx.Response] = []
        async with httpx.AsyncClient(
            base_url=api_url, timeout=httpx.Timeout(30, read=120), limits=LIMITS, headers=admin_headers(cluster)
        ) as http:
            try:
                firsts = await asyncio.wait_for(asyncio.gather(*(follow(http, opened) for _ in range(FOLLOWERS))), 120)
                # every follower still open, and a route on the thread pool still answers
                detail = await http.get(f"/api/v1/namespaces/{namespace}/tasks/quiet")
                return firsts, detail.status_code
            finally:
                for r in opened:
                    await r.aclose()

    firsts, status = asyncio.run(everyone())
    assert (firsts, status) == (["ready"] * FOLLOWERS, 200)

    env = {**os.environ, "KUBETASK_CONFIG": str(tmp_path / "config.yaml"), "KUBETASK_API_URL": api_url}
    command = [str(Path(sys.executable).with_name("kubetask")), "logs", "quiet", "-f", "-n", namespace]
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as cli:
        assert cli.stdout is not None and cli.stdout.readline() == "ready\n"  # following, the task still quiet
        cli.send_signal(signal.SIGINT)
        _, err = cli.communicate(timeout=30)
    assert (cli.returncode, err) == (130, "")


def test_the_kept_log_answers_once_the_task_job_and_pod_are_gone(
    cluster: Cluster, namespace: str, api_url: str, kt
) -> None:
    create(cluster, namespace, "tasks", task("short", **python_spec("print('one'); print('two')")))
    wait_for("the task final", lambda: _phase(cluster, namespace, "short") in FINAL, 90)
    with httpx.Client(base_url=api_url, timeout=30, headers=admin_headers(cluster)) as http:
        assert http.get(_url(namespace, "short")).headers[SOURCE] == "live"
        assert http.delete(f"/api/v1/namespaces/{namespace}/tasks/short").status_code == 202
        wait_for("the Task, its Job and its pod gone", lambda: _nothing_left(cluster, namespace), 90)
        kept = http.get(_url(namespace, "short"))
        assert (kept.status_code, kept.text, kept.headers[SOURCE]) == (200, "one\ntwo\n", "kept")
        assert http.get(_url(namespace, "short"), params={"tail": 1}).text == "two\n"
        followed = http.get(_url(namespace, "short"), params={"follow": "true"})  # returned whole, and ends
        assert (followed.text, followed.headers[SOURCE]) == ("one\ntwo\n", "kept")

        ghost = http.get(_url(namespace, "ghost"))
        assert ghost.status_code == 404 and "'ghost'" in ghost.json()["detail"]
        second = http.get(_url(namespace, "short", 2))
        assert second.status_code == 404 and "has no attempt 2 (it has 1)" in second.json()["detail"]

    kept_cli = kt("logs", "short", "-v")
    assert (_ok(kept_cli), kept_cli.stderr) == ("one\ntwo\n", "attempt 1: kept log\n")
    missing = kt("logs", "ghost", "--attempt", "1")
    assert missing.exit_code == 3 and missing.stdout == ""
    [line] = missing.stderr.splitlines()
    assert line.startswith("error: 404 Not found: ") and "'ghost'" in line
