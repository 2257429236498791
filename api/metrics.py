"""The API's Prometheus metrics: every request by route template, method and answer code, with its
duration, and the apiserver requests the API sends (README, "Metrics"); served on `GET /metrics`.

The route label is the template the path matches (`/api/v1/namespaces/{ns}/tasks/{name}`), never the
path sent, so names and namespaces in paths add no series; a path that matches no route counts as
`(unmatched)`. The middleware is plain ASGI (not `BaseHTTPMiddleware`), so a streamed answer (a
followed log) passes through untouched; its duration is the whole stream's.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Histogram
from prometheus_client import Counter as PromCounter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kubetask.metrics import ApiserverRequests, build_info

UNMATCHED = "(unmatched)"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120)


class ApiMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = PromCounter(
            "kubetask_api_requests",
            "Requests the API answered, by route template, method and status code (500: it raised).",
            ["route", "method", "code"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "kubetask_api_request_duration_seconds",
            "Time from a request's arrival to its answer's last byte, by route template and method.",
            ["route", "method"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.apiserver = ApiserverRequests(self.registry)
        build_info(self.registry, "api")

    def answered(self, route: str, method: str, code: int, seconds: float) -> None:
        self.requests.labels(route, method, str(code)).inc()
        self.seconds.labels(route, method).observe(seconds)


class Routes:
    """The route templates of the app (its OpenAPI document's paths, and `/metrics`), matched against
    a request's path: the framework's own record of the matched route differs between FastAPI
    versions, the document does not. A template with more literal segments wins."""

    def __init__(self, templates: Callable[[], Iterable[str]]) -> None:
        self._templates = templates
        self._compiled: list[tuple[re.Pattern[str], str]] | None = None

    def of(self, path: str) -> str:
        if self._compiled is None:
            ordered = sorted(self._templates(), key=lambda t: -sum(1 for p in t.split("/") if p and "{" not in p))
            self._compiled = [
                (re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(t)) + "$"), t) for t in ordered
            ]
        return next((t for pattern, t in self._compiled if pattern.match(path)), UNMATCHED)


class MetricsMiddleware:
    """Counts and times every HTTP request, its status taken from the answer's start."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics, routes: Routes) -> None:
        self.app = app
        self.metrics = metrics
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, code = time.perf_counter(), 500

        async def sending(message: Message) -> None:
            nonlocal code
            if message["type"] == "http.response.start":
                code = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            route = self.routes.of(scope["path"])
            self.metrics.answered(route, scope["method"], code, time.perf_counter() - started)
