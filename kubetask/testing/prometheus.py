"""A throwaway Prometheus server (Debian's `prometheus` package) on loopback, for the metrics tests.

It scrapes the targets it is given (`host:port` on loopback) every `interval` seconds, keeps its
TSDB in a temporary directory, and answers PromQL through its HTTP API (`query`). It reaches no
other address: static targets only, no service discovery, no remote write, no DNS name anywhere
in its configuration.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from .ports import free_port

BIN = Path(os.environ.get("KUBETASK_PROMETHEUS_BIN", "/usr/bin/prometheus"))


def scrape_config(jobs: Mapping[str, Sequence[str]], interval: float) -> dict[str, Any]:
    """The configuration that scrapes each job's loopback targets every `interval` seconds (JSON is
    YAML, so no YAML writer is needed)."""
    for job, targets in jobs.items():
        for t in targets:
            host, _, port = t.rpartition(":")
            if host not in ("127.0.0.1", "[::1]") or not port.isdigit():
                raise ValueError(f"job {job}: target {t!r} is not a loopback host:port")
    every = f"{max(1, round(interval * 1000))}ms"
    return {
        "global": {"scrape_interval": every, "evaluation_interval": every, "scrape_timeout": every},
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]} for job, targets in jobs.items()
        ],
    }


class PrometheusServer:
    """`start()` runs it and waits until it is ready; `stop()` ends it and removes its data."""

    def __init__(self, jobs: Mapping[str, Sequence[str]], *, interval: float = 1.0) -> None:
        if not BIN.exists():
            raise RuntimeError(f"{BIN} not found: run scripts/setup.sh (installs Debian's prometheus)")
        self.dir = Path(tempfile.mkdtemp(prefix="kubetask-prometheus-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.interval = interval
        (self.dir / "prometheus.yml").write_text(json.dumps(scrape_config(jobs, interval)))
        self.proc: subprocess.Popen[bytes] | None = None
        self._log = self.dir / "prometheus.log"

    def start(self, timeout: float = 60.0) -> None:
        with self._log.open("wb") as out:
            self.proc = subprocess.Popen(
                [
                    str(BIN),
                    f"--config.file={self.dir / 'prometheus.yml'}",
                    f"--storage.tsdb.path={self.dir / 'data'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"prometheus exited with {self.proc.returncode}: {self.log_tail()}")
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/-/ready", timeout=2).status_code == 200:
                    return
            time.sleep(0.2)
        raise RuntimeError(f"prometheus not ready in {timeout:.0f} s: {self.log_tail()}")

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self._log.read_text(errors="replace").splitlines()[-lines:])

    def query(self, expr: str, at: float | None = None) -> list[dict[str, Any]]:
        """The instant vector (or scalar, as one sample) `expr` evaluates to now (or at Unix time
        `at`); a bad expression raises with Prometheus's own error."""
        params = {"query": expr, **({"time": f"{at:.3f}"} if at is not None else {})}
        r = httpx.get(f"{self.url}/api/v1/query", params=params, timeout=10)
        body = r.json()
        if body.get("status") != "success":
            raise ValueError(f"{expr!r}: {body.get('errorType')}: {body.get('error')}")
        data = body["data"]
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def targets(self) -> list[dict[str, Any]]:
        """The active targets with their health ("up", "down", "unknown") and last error."""
        active: list[dict[str, Any]] = httpx.get(f"{self.url}/api/v1/targets", timeout=10).json()["data"][
            "activeTargets"
        ]
        return active

    def wait_scraped(self, timeout: float = 60.0) -> None:
        """Wait until every target has been scraped at least once since now and is up."""
        since = time.time()
        deadline = time.monotonic() + timeout
        last: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            last = self.targets()
            if last and all(t["health"] == "up" and _scraped_at(t) >= since for t in last):
                return
            time.sleep(self.interval / 2)
        raise RuntimeError(f"targets not all scraped and up in {timeout:.0f} s: {last}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        shutil.rmtree(self.dir, ignore_errors=True)


def _scraped_at(target: Mapping[str, Any]) -> float:
    """The target's last scrape time as a Unix timestamp (RFC 3339 with nanoseconds; Python 3.11's
    `fromisoformat` reads it, keeping microseconds), 0 before its first scrape."""
    stamp = str(target.get("lastScrape", ""))
    return 0.0 if not stamp or stamp.startswith("0001-") else datetime.fromisoformat(stamp).timestamp()


@contextmanager
def prometheus(jobs: Mapping[str, Sequence[str]], *, interval: float = 1.0) -> Iterator[PrometheusServer]:
    server = PrometheusServer(jobs, interval=interval)
    try:
        server.start()
        yield server
    finally:
        server.stop()
