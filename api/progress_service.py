"""How far a running attempt got: its handler's last `ctx.progress` frame, read from its pod's live log.

The frame travels in the pod's stdout like a large result does (`kubetask.executor.frames`): task
pods have no network path to the API and no token, and writing progress to the Task's status
would cost the apiserver a write per report. Here the task's detail reads the log's tail instead
(`pods/log?tailLines=…&limitBytes=…`, a GET: no apiserver write at all, however often the handler
reports) and keeps the last frame in it.

Bounds: the last `TAIL_LINES` lines, at most `LIMIT_BYTES` of them (the kubelet cuts `limitBytes`
from the tail's start, so when the cap is reached the newest lines may be missing: the read is
retried once with `FEW_LINES`). The runtime writes at most two frames a second, so the last frame
is in the tail unless the handler printed more than that since it last reported; then the detail
has no progress until it reports again. Only the attempt that is Running is read; once it ended
its outcome answers, and the detail has no progress (README, "Progress").

A log that cannot be read (the pod just went, the apiserver is slow or refuses) gives no progress,
never an error: the detail answers as it would without it, within one Kubernetes timeout.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import urllib3
from kubernetes import client
from urllib3.exceptions import HTTPError

from kubetask.executor.frames import FrameReader, Progress
from kubetask.history import AttemptRecord
from kubetask.jobs import CONTAINER
from kubetask.kubeapi import resource_path
from kubetask.timeutil import parse_time

from .bodies import ProgressPublic

log = logging.getLogger("kubetask.api.progress")
TAIL_LINES = 256
FEW_LINES = 16
LIMIT_BYTES = 256 * 1024


def last_progress(log_bytes: bytes) -> Progress | None:
    """The last progress frame in a piece of log (None when there is none)."""
    reader = FrameReader(0)  # result frames are dropped: only progress is wanted here
    reader.feed(log_bytes)
    reader.finish()
    return reader.progress


def public(p: Progress, attempt: int) -> ProgressPublic | None:
    """The progress as the API shows it; None when its frame says nothing usable."""
    if p.current is None:
        return None
    try:
        at = parse_time(p.time)
    except ValueError:  # the pod's clock text is not RFC 3339: show the progress without a time
        at = None
    return ProgressPublic(current=p.current, total=p.total, message=p.message, time=at, attempt=attempt)


def running(attempts: Sequence[AttemptRecord]) -> AttemptRecord | None:
    """The attempt whose log may hold a live progress: the latest, Running in its pod."""
    if not attempts:
        return None
    last = max(attempts, key=lambda a: a.number)
    return last if last.phase == "Running" and last.pod_name and last.finished_at is None else None


class ProgressReader:
    """Reads progress from pod logs with the credentials of `api`; `timeout` bounds each read."""

    def __init__(self, api: client.ApiClient, *, timeout: float) -> None:
        self.api = api
        self.timeout = timeout

    def _tail(self, namespace: str, pod: str, lines: int) -> tuple[bytes, bool] | None:
        """The log's last `lines` lines (at most LIMIT_BYTES) and whether the cap cut them; None if unreadable."""
        path = resource_path("", "v1", "pods", namespace, pod, "log")
        query = f"container={CONTAINER}&tailLines={lines}&limitBytes={LIMIT_BYTES}"
        headers = {**self.api.default_headers, "Accept": "*/*"}  # text/plain: a 406 from 1.20
        self.api.update_params_for_auth(headers, [], ["BearerToken"], path, "GET", None)
        try:
            raw = self.api.rest_client.pool_manager.request(
                "GET",
                f"{self.api.configuration.host}{path}?{query}",
                headers=headers,
                timeout=urllib3.Timeout(total=self.timeout),
                retries=False,
                preload_content=False,
            )
            try:
                data = raw.read(LIMIT_BYTES + 1)
                status = raw.status
            finally:
                raw.release_conn()
        except (HTTPError, OSError) as e:
            log.info("progress of pod %s/%s: its log cannot be read (%s)", namespace, pod, e)
            return None
        if status != 200:  # 404: the pod went; 400: its container is gone or not started
            log.debug("progress of pod %s/%s: the log answered %s", namespace, pod, status)
            return None
        return data, len(data) >= LIMIT_BYTES

    def read(self, namespace: str, attempt: AttemptRecord) -> ProgressPublic | None:
        """The attempt's last progress, from its pod's log tail; None when there is none or no log."""
        assert attempt.pod_name is not None
        got = self._tail(namespace, attempt.pod_name, TAIL_LINES)
        if got is not None and got[1]:  # the cap cut the tail's newest lines: ask for fewer
            got = self._tail(namespace, attempt.pod_name, FEW_LINES)
        if got is None:
            return None
        p = last_progress(got[0])
        return None if p is None else public(p, attempt.number)
