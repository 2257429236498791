"""Keeping each attempt's log in SQL once it ended, then letting its pod go.

Every attempt's pod carries the finalizer `kubetask.io/log` (kubetask.jobs.LOG_FINALIZER), so no
deletion (the Task's TTL, a user's, garbage collection of a deleted Job, the namespace's) removes
it before this keeper has read its log. `offer(pod)` is called with every event of such a pod;
once its container ended, a background thread reads the log once as a stream (pods/log, in
chunks into the capping rule of kubetask.log_capture: memory stays bounded whatever the log's
size), writes it with `kubetask.store.logs.keep_log` (a no-op for an attempt kept already: a
restarted operator re-reads and re-keeps harmlessly), and only then removes the finalizer.

The log goes through the frame reader first (kubetask.executor.frames): the runtime's frame lines
(a large result, progress) are taken out, so they never count against the kept log's head and tail.
When the container's report names a result framed in the log (`resultRef`), the frames are put
together, checked (size, sha256, the `resultSchema` annotation of the pod) and the verdict written
with `kubetask.store.results.keep_result` (once per attempt, with the result when accepted) before
the log, and before the finalizer goes: the reconciler lets the attempt be Succeeded only on that
verdict, read back from SQL, so no restart can lose it or judge it twice.

The log is read once, as soon as the container ended (the kubelet removes a deleted pod's
containers, and their logs, soon after the deletion, finalizer or not), and held in memory (at
most head + tail bytes per waiting pod) until it is written. While the database is down the
write is retried with capped backoff and the pod waits, for at
most `wait_seconds` after the attempt ended; then the finalizer is removed anyway, the loss is
logged and counted (`lost`): a database outage never holds pods forever.

With KUBETASK_OPERATOR_KEEP_LOGS=false (or without the mirror) no keeper runs (`main.log_keeper`):
pods get no finalizer, no log is read, and no result over 4 KiB can be kept.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import urllib3
from kubernetes.client.exceptions import ApiException
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kubetask.executor.frames import FrameReader, FramesMissing
from kubetask.executor.report import ResultRef, decode
from kubetask.jobs import CONTAINER, LOG_FINALIZER
from kubetask.kubeapi import Body, JsonApi, resource_path
from kubetask.labels import ANNOTATION_TASK, LABEL_ATTEMPT, LABEL_TASK_UID
from kubetask.large_results import DEFAULT_MAX_BYTES, judge
from kubetask.log_capture import (
    DEFAULT_HEAD_BYTES,
    DEFAULT_TAIL_BYTES,
    CappedLog,
    LogCap,
    container_ended,
    ended_at,
)
from kubetask.observe import result_schema
from kubetask.store.logs import LogRecord, keep_log
from kubetask.store.results import ResultRecord, keep_result
from kubetask.timeutil import parse_time

from .loops import Loop

log = logging.getLogger("kubetask.operator.logs")
CHUNK = 64 * 1024
READ_TIMEOUT = 60.0  # seconds without a byte of the log stream before the read is given up (and retried)
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 10.0
STRATEGIC_MERGE = "application/strategic-merge-patch+json"
DEFAULT_WAIT_SECONDS = 3600.0
FOLLOWERS = 16  # pods deleted while running, followed at once (each until its container stops: its grace period)


def has_log_finalizer(pod: Body) -> bool:
    return LOG_FINALIZER in ((pod.get("metadata") or {}).get("finalizers") or [])


def framed_result(pod: Body) -> ResultRef | None:
    """The result the pod's container framed in its log, as its termination report names it."""
    for s in (pod.get("status") or {}).get("containerStatuses") or []:
        term = (s.get("state") or {}).get("terminated") or {}
        if s.get("name") == CONTAINER and term.get("exitCode") == 0:
            report = decode(term.get("message"))
            return report.result_ref if report is not None else None
    return None


@dataclass
class _Pending:
    namespace: str
    pod: str
    task_uid: str
    task_name: str
    attempt: int
    ended: datetime  # when the attempt ended: the bounded wait counts from here
    retry_at: float = 0.0  # monotonic
    # the log once read: retries only write it (the kubelet may remove a deleted pod's container,
    # and its log with it, right after its deletion, finalizer or not)
    record: LogRecord | None = None
    # deleted while its container runs: the log is followed until the container stops (the kubelet
    # removes the container, and its log, right after), on a worker of its own
    follow: bool = False
    in_flight: bool = False
    backoff: float = FIRST_BACKOFF
    ref: ResultRef | None = None  # the container framed its result in the log
    schema: dict[str, Any] | None = None  # the attempt's resultSchema (the pod's annotation)
    result: ResultRecord | None = None  # the verdict once read, held with the log until written


class LogKeeper:
    """Reads ended attempts' logs into SQL and removes their pods' finalizer; one background thread."""

    def __init__(
        self,
        json: JsonApi,
        engine: Engine,
        *,
        head_bytes: int = DEFAULT_HEAD_BYTES,
        tail_bytes: int = DEFAULT_TAIL_BYTES,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        result_max_bytes: int = DEFAULT_MAX_BYTES,
    ) -> None:
        self.json = json
        self.engine = engine
        self.head_bytes = head_bytes
        self.tail_bytes = tail_bytes
        self.wait_seconds = wait_seconds
        self.result_max_bytes = result_max_bytes
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._lock = threading.Lock()
        self._loop = Loop("kubetask-logs", self._step)
        self._followers = ThreadPoolExecutor(FOLLOWERS, thread_name_prefix="kubetask-logs-follow")
        self.kept = 0  # logs written by this process
        self.lost = 0  # pods let go without their log after the bounded wait
        self.healthy = True

    def start(self) -> None:
        self._loop.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._loop.stop(timeout)
        self._followers.shutdown(wait=False, cancel_futures=True)

    def offer(self, pod: Body) -> bool:
        """Queue a pod whose log should be kept now (it has the finalizer and its container ended)."""
        meta = pod.get("metadata") or {}
        if not has_log_finalizer(pod):
            return False
        follow = not container_ended(pod, CONTAINER)
        if follow and not meta.get("deletionTimestamp"):
            return False  # still running: its log is read when it ends
        labels = meta.get("labels") or {}
        attempt = str(labels.get(LABEL_ATTEMPT, ""))
        key = (str(meta.get("namespace")), str(meta.get("name")))
        item = _Pending(
            namespace=key[0],
            pod=key[1],
            task_uid=str(labels.get(LABEL_TASK_UID, "")),
            task_name=str((meta.get("annotations") or {}).get(ANNOTATION_TASK, "")),
            attempt=int(attempt) if attempt.isdigit() else 0,
            ended=parse_time(ended_at(pod, CONTAINER)) or datetime.now(UTC),
            follow=follow,
            ref=None if follow else framed_result(pod),
            schema=result_schema((pod.get("metadata") or {}).get("annotations") or {}),
        )
        with self._lock:
            if key in self._pending:
                return True
            self._pending[key] = item
        self._loop.wake()
        return True

    def relist(self, timeout: float | None = None, namespaces: Sequence[str] = ()) -> int:
        """Offer every pod holding the finalizer (on taking the lead: their events came while another
        replica led, or before this one started), of the cluster or of `namespaces`; how many were queued."""

        def path(ns: str | None) -> str:
            return resource_path("", "v1", "pods", ns)

        pods = self.json.list_in(path, namespaces, LABEL_TASK_UID, timeout=timeout)[0]
        return sum(self.offer(p) for p in pods)

    def pending(self) -> int:
        with self._lock:
            return len(self._pending)

    def _step(self) -> float | None:
        now = time.monotonic()
        with self._lock:
            due = [p for p in self._pending.values() if p.retry_at <= now and not p.in_flight]
            for p in due:
                p.in_flight = p.follow and p.record is None
        for item in due:
            if self._loop.stopping:
                return None
            if item.in_flight:
                self._followers.submit(self._follow, item)
            else:
                self._handle(item)
        with self._lock:
            waits = [p.retry_at - time.monotonic() for p in self._pending.values() if not p.in_flight]
        return max(min(waits), 0.0) if waits else None

    def _follow(self, item: _Pending) -> None:
        try:
            self._handle(item)
        finally:
            with self._lock:
                item.in_flight = False
            self._loop.wake()

    def _handle(self, item: _Pending) -> None:
        key = (item.namespace, item.pod)
        try:
            if item.record is None:
                item.record, item.result = self._read(item)
            record = item.record
            with Session(self.engine) as s:
                if item.result is not None:
                    keep_result(s, item.result)
                wrote = keep_log(s, record)
            if not self.healthy:
                log.info("kept logs are written again")
            self.healthy = True
            if wrote:
                self.kept += 1
            self._release(item)
        except (SQLAlchemyError, ApiException, urllib3.exceptions.HTTPError) as e:
            waited = (datetime.now(UTC) - item.ended).total_seconds()
            if waited >= self.wait_seconds:
                self.lost += 1
                log.error(
                    "log of %s/%s attempt %d NOT kept: waited %.0fs (the bound), letting its pod go: %s",
                    item.namespace,
                    item.task_name,
                    item.attempt,
                    waited,
                    str(e).split("\n")[0],
                )
                self._release(item)
                with self._lock:
                    self._pending.pop(key, None)
                return
            if isinstance(e, SQLAlchemyError):
                if self.healthy:
                    log.warning(
                        "cannot keep logs, pods wait (at most %.0fs): %s", self.wait_seconds, str(e).split("\n")[0]
                    )
                self.healthy = False
            else:
                log.warning("reading or releasing pod %s/%s failed, retrying: %s", *key, str(e).split("\n")[0])
            with self._lock:
                item.retry_at = time.monotonic() + item.backoff
                item.backoff = min(item.backoff * 2, MAX_BACKOFF)
            return
        with self._lock:
            self._pending.pop(key, None)

    def _read(self, item: _Pending) -> tuple[LogRecord, ResultRecord | None]:
        """The pod's log, read once as a stream through the frame reader into the capping rule; the
        verdict on its framed result, if it has one."""
        cap = LogCap(self.head_bytes, self.tail_bytes)
        frames = FrameReader(self.result_max_bytes)
        path = resource_path("", "v1", "pods", item.namespace, item.pod) + "/log"
        try:
            self._stream(path, cap, frames, follow=item.follow)
        except ApiException as e:
            if e.status not in (400, 404):  # 400: the container is gone (or never started); 404: the pod
                raise
            log.warning("log of pod %s/%s cannot be read (%s): kept empty", item.namespace, item.pod, e.status)
            cap = LogCap(self.head_bytes, self.tail_bytes)
            frames = FrameReader(self.result_max_bytes)
        got = cap.result()
        return self._log_record(item, got), self._verdict(item, frames)

    def _verdict(self, item: _Pending, frames: FrameReader) -> ResultRecord | None:
        if item.ref is None:
            return None
        payload, problem = None, None
        try:
            payload = frames.result(item.ref.sha256, item.ref.size)
        except FramesMissing as e:
            problem = str(e)
        v = judge(
            attempt=item.attempt,
            ref=item.ref,
            payload=payload,
            problem=problem,
            max_bytes=self.result_max_bytes,
            schema=item.schema,
        )
        log.info(
            "large result of %s/%s attempt %d: %s",
            item.namespace,
            item.task_name,
            item.attempt,
            "accepted" if v.accepted else f"{v.reason}: {v.message}",
        )
        return ResultRecord(
            task_uid=item.task_uid,
            namespace=item.namespace,
            task_name=item.task_name,
            verdict=v,
            body=payload.decode() if payload is not None and v.accepted else None,
            kept_at=datetime.now(UTC),
        )

    def _log_record(self, item: _Pending, got: CappedLog) -> LogRecord:
        return LogRecord(
            task_uid=item.task_uid,
            namespace=item.namespace,
            task_name=item.task_name,
            attempt=item.attempt,
            head=got.head,
            tail=got.tail,
            total_bytes=got.total_bytes,
            cut=got.cut,
            kept_at=datetime.now(UTC),
        )

    def _stream(self, path: str, cap: LogCap, frames: FrameReader, *, follow: bool) -> None:
        api = self.json.api
        url = f"{api.configuration.host}{path}?container={CONTAINER}" + ("&follow=true" if follow else "")
        headers = {**api.default_headers, "Accept": "*/*"}
        api.update_params_for_auth(headers, [], ["BearerToken"], path, "GET", None)
        timeout = urllib3.Timeout(connect=self.json.timeout, read=READ_TIMEOUT)
        raw = api.rest_client.pool_manager.request(
            "GET", url, headers=headers, timeout=timeout, retries=False, preload_content=False
        )
        try:
            if not 200 <= raw.status <= 299:
                body = raw.read(64 * 1024).decode("utf-8", "replace")
                raise ApiException(status=raw.status, reason=body[:500])
            for chunk in raw.stream(CHUNK):
                cap.feed(frames.feed(chunk))
            cap.feed(frames.finish())
            cap.drop_kubelet_error()
        finally:
            raw.release_conn()

    def _release(self, item: _Pending) -> None:
        """Remove the log finalizer from the pod (it may go now); a pod already gone is no error."""
        path = resource_path("", "v1", "pods", item.namespace, item.pod)
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [LOG_FINALIZER]}}
        try:
            self.json.request("PATCH", path, body=patch, content_type=STRATEGIC_MERGE, decode=False)
        except ApiException as e:
            if e.status != 404:
                raise
