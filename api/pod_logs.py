"""A pod's log from the apiserver (`pods/log`), read asynchronously: a follower holds no thread.

Every other call of the API goes through `kubetask.kubeapi.JsonApi` (blocking urllib3, run in
FastAPI's thread pool, each bounded by one timeout). A followed log may stay open for as long as its
task runs, so it cannot take a pool thread: it is read with `httpx.AsyncClient` on the event loop,
with the credentials and TLS settings of the same `kubernetes.client.ApiClient` (its CA, client
certificate and key, and its bearer token through `update_params_for_auth`, which refreshes an
in-cluster token as the blocking calls do).

Bounds: connecting and the answer's headers are bounded by the API's Kubernetes timeout (then
`Unavailable`, a 503 naming Kubernetes); a followed body has no read timeout (a task may print
nothing for an hour), an unfollowed one has it between reads. One `httpx.AsyncClient` per read:
an app may be driven from several event loops (tests do), and a pooled connection belongs to one.
Rejected: the kubernetes client's `_preload_content=False` stream (blocking reads, a thread per
follower); a websocket (the apiserver's log is plain chunked HTTP).

Frames: the runtime's `#kubetask:frame:` lines (a large result, progress; `kubetask.executor.frames`)
are for the operator, not the reader: they are taken out of the live log as they come, as the
operator takes them out of the log it keeps, so both sources read the same. Hence `tail` is cut
here, not by the apiserver (whose `tailLines` counts frame lines too, and would show the last N
lines less the frames among them): an unfollowed `tail` reads the container's whole log (at most
the kubelet's current log file, 10 MiB by default) and keeps its last N lines of output. A
followed one cannot wait for the end to cut, so it passes `tailLines` on: its first lines are the
last N of the container's log, frames among them counted, then taken out.

A body that breaks off after its headers (the pod deleted under a follower, the connection cut, an
unfollowed read timing out) ends the answer where it broke, with the lines read so far (a `tail`:
the last N of them), and a warning in the API's log: the 200 and its headers are sent by then, so
no problem can answer, and an exception raised inside the streaming response would only reset the
client's connection with nothing said.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
from kubernetes import client

from kubetask.executor.frames import FrameReader
from kubetask.jobs import CONTAINER
from kubetask.kubeapi import resource_path

from .problems import unavailable

log = logging.getLogger("kubetask.api.logs")

# the kubelet's answer while the container has not started yet (1.20: "container \"main\" in pod
# \"x\" is waiting to start: ContainerCreating"); a follower waits for it to start, for this long
WAITING = "is waiting to start"
START_WAIT_SECONDS = 60.0
START_POLL_SECONDS = 0.5


@dataclass(frozen=True)
class LogQuery:
    follow: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None

    def params(self) -> dict[str, str]:
        out = {"container": CONTAINER}
        if self.follow:
            out["follow"] = "true"
        if self.tail_lines is not None and self.follow:  # unfollowed: cut here, after the frames are out
            out["tailLines"] = str(self.tail_lines)
        if self.since_seconds is not None:
            out["sinceSeconds"] = str(self.since_seconds)
        return out


class PodGone(Exception):
    """The pod does not exist (any more), or its container does not (a deleted pod held by the
    operator's log finalizer): its log, if any, is the kept one."""


@dataclass
class LiveLog:
    """An open `pods/log` answer; `lines()` yields its bytes a line at a time, frame lines taken
    out (only the last `tail` lines, when set), then closes it."""

    http: httpx.AsyncClient
    response: httpx.Response | None  # None: the container never started while we waited
    tail: int | None = None
    pod: str = ""

    async def lines(self) -> AsyncIterator[bytes]:
        try:
            if self.response is None:
                return
            frames = FrameReader(max_bytes=0)  # takes every frame line out, holds none of a result
            last: deque[bytes] | None = None if self.tail is None else deque(maxlen=self.tail)
            try:
                async for chunk in self.response.aiter_raw():
                    out = frames.feed(chunk)  # whole lines only (or a long partial one), frames out
                    if out and last is not None:
                        last.extend(out.splitlines(keepends=True))
                    elif out:
                        yield out
            except httpx.HTTPError as e:  # broken mid-body (pod deleted, connection cut, read timeout)
                log.warning("the log of pod %s broke off after its headers: %r", self.pod, e)
            out = frames.finish()
            if out and last is not None:
                last.extend(out.splitlines(keepends=True))
            elif out:
                yield out
            for line in last or ():
                yield line
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        if self.response is not None:
            await self.response.aclose()
        await self.http.aclose()


class PodLogs:
    """Opens pod logs with the credentials of `api`; `timeout` bounds connecting and the headers."""

    def __init__(self, api: client.ApiClient, *, timeout: float) -> None:
        self.api = api
        self.timeout = timeout
        self._tls: ssl.SSLContext | bool | None = None

    def _verify(self) -> ssl.SSLContext | bool:
        if self._tls is None:
            cfg: Any = self.api.configuration
            if not cfg.verify_ssl:
                self._tls = False
            else:
                ctx = ssl.create_default_context(cafile=cfg.ssl_ca_cert)
                if cfg.cert_file:
                    ctx.load_cert_chain(cfg.cert_file, cfg.key_file)
                self._tls = ctx
        return self._tls

    def _headers(self, path: str) -> dict[str, str]:
        headers: dict[str, str] = {**self.api.default_headers, "Accept": "*/*"}  # text/plain: a 406 from 1.20
        self.api.update_params_for_auth(headers, [], ["BearerToken"], path, "GET", None)
        return headers

    async def _send(self, http: httpx.AsyncClient, path: str, query: LogQuery) -> httpx.Response:
        request = http.build_request("GET", path, params=query.params(), headers=self._headers(path))
        what = f"reading the log of pod {path.rsplit('/', 2)[-2]}"
        try:
            # the headers within the timeout; the body as it comes (follow: no read timeout)
            return await asyncio.wait_for(http.send(request, stream=True), self.timeout)
        except TimeoutError as e:
            raise unavailable(f"{what}: Kubernetes did not answer within {self.timeout:g} s") from e
        except httpx.HTTPError as e:
            raise unavailable(f"{what}: Kubernetes is unreachable: {e}") from e

    async def open(self, namespace: str, pod: str, query: LogQuery) -> LiveLog:
        """The pod's log, open; `PodGone` when there is no such pod, `ProblemError` 503 otherwise."""
        path = resource_path("", "v1", "pods", namespace, pod, "log")
        read = None if query.follow else self.timeout
        timeout = httpx.Timeout(self.timeout, read=read)
        http = httpx.AsyncClient(base_url=str(self.api.configuration.host), verify=self._verify(), timeout=timeout)
        try:
            waited = 0.0
            while True:
                response = await self._send(http, path, query)
                if response.status_code == 200:
                    return LiveLog(http, response, tail=None if query.follow else query.tail_lines, pod=pod)
                body = (await response.aread()).decode("utf-8", "replace")
                await response.aclose()
                if response.status_code == 404:
                    raise PodGone(pod)
                if response.status_code == 400 and WAITING in body:
                    if not query.follow or waited >= START_WAIT_SECONDS:
                        return LiveLog(http, None, pod=pod)  # nothing printed yet
                    await asyncio.sleep(START_POLL_SECONDS)
                    waited += START_POLL_SECONDS
                    continue
                if response.status_code == 400:  # a pod being deleted: its container is gone before it
                    raise PodGone(pod)
                raise unavailable(f"reading the log of pod {pod}: Kubernetes answered {response.status_code}: {body}")
        except BaseException:
            await http.aclose()
            raise
