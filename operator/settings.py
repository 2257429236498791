"""Operator settings (environment variables prefixed KUBETASK_OPERATOR_)."""

from __future__ import annotations

import socket
from typing import Literal, Self

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kubetask.build import version
from kubetask.executor.report import MAX_BYTES as TERMINATION_MESSAGE_BYTES
from kubetask.large_results import DEFAULT_MAX_BYTES as DEFAULT_RESULT_MAX_BYTES
from kubetask.log_capture import DEFAULT_HEAD_BYTES, DEFAULT_TAIL_BYTES

from .kube import CALL_TIMEOUT_SECONDS, LIST_TIMEOUT_SECONDS
from .logs import DEFAULT_WAIT_SECONDS


class OperatorSettings(BaseSettings):
    """Validated at start; see docs in README.md (Operator settings)."""

    model_config = SettingsConfigDict(env_prefix="KUBETASK_OPERATOR_", populate_by_name=True)

    namespaces: list[str] = Field(
        default_factory=list, description="Namespaces to watch; empty means all (cluster-wide)."
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="text on a terminal, json in the cluster (same fields)."
    )
    log_level: str = Field(default="INFO", description="Python logging level.")
    workers: int = Field(default=8, ge=1, description="Threads that reconcile tasks concurrently.")
    schedule_workers: int = Field(
        default=4,
        ge=1,
        le=64,
        description="Threads that run TaskSchedules' passes concurrently (one schedule in one thread at a time): "
        "schedules due at the same instant wait for each other's apiserver round trips only this many at a time.",
    )
    resync_seconds: float = Field(
        default=600.0,
        gt=0,
        description="How often every unfinished task is re-checked even without events. Each sweep costs a few "
        "API calls per unfinished Task, so with many pending Tasks a short period keeps the apiserver busy; "
        "events and the start-up resync do the work, the sweep is a rare safety net. SIGUSR1 runs one at once.",
    )
    kubernetes_timeout_seconds: float = Field(
        default=CALL_TIMEOUT_SECONDS,
        gt=0,
        description="Longest apiserver call about one Task (its reads, Job and status writes, Events): connecting, "
        "TLS and the answer's headers; a timed-out call is not retried, the reconcile fails and the sweep or the "
        "next event repairs it. Generous: a live apiserver answers these in milliseconds, a busy one in seconds.",
    )
    list_timeout_seconds: float = Field(
        default=LIST_TIMEOUT_SECONDS,
        gt=0,
        description="Longest cluster-wide listing (every Task, every Task's Jobs and pods: the start-up resync and "
        "the sweep); tens of thousands of objects take tens of seconds on a busy apiserver. kopf's own watches are "
        "kopf's (no timeout of ours).",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("KUBETASK_DATABASE_URL", "KUBETASK_OPERATOR_DATABASE_URL"),
        description="SQL mirror; default: SQLite in the user's data directory.",
    )
    mirror: bool = Field(default=True, description="Mirror tasks to SQL (false: Kubernetes only).")
    keep_logs: bool = Field(
        default=True,
        description="Keep each ended attempt's log in SQL (with the mirror): its pod carries the kubetask.io/log "
        "finalizer until its log is read. False: no finalizer and no log read (a log goes with its pod), and no "
        "result over 4 KiB (nothing reads the log it would be framed in: the executor refuses one, ResultTooLarge); "
        "an explicit result_max_bytes over 4 KiB is then refused at start.",
    )
    log_head_bytes: int = Field(
        default=DEFAULT_HEAD_BYTES, ge=0, description="Kept log of each attempt: its first bytes kept (SQL)."
    )
    log_tail_bytes: int = Field(
        default=DEFAULT_TAIL_BYTES, ge=0, description="Kept log of each attempt: its last bytes kept (SQL)."
    )
    log_keep_wait_seconds: float = Field(
        default=DEFAULT_WAIT_SECONDS,
        gt=0,
        description="How long an ended attempt's pod waits for its log to be kept while the database is down; "
        "then the pod goes without it (logged, counted).",
    )
    result_max_bytes: int = Field(
        default=DEFAULT_RESULT_MAX_BYTES,
        ge=0,
        le=64 * 1024 * 1024,
        description="Largest result (bytes of JSON) a task may return: over 4 KiB it travels framed in the pod's "
        "log and is kept in SQL (with the mirror; 0: none over 4 KiB). The executor refuses a larger one "
        "(ResultTooLarge).",
    )
    leader_election: bool = Field(
        default=True, description="Act only while holding the Lease, so replicas never both act."
    )
    identity: str = Field(default_factory=socket.gethostname, description="This replica's name in the Lease.")
    lease_namespace: str = Field(default="default", description="Namespace of the leader Lease.")
    lease_name: str = Field(default="kubetask-operator", description="Name of the leader Lease.")
    lease_seconds: float = Field(default=15.0, gt=2, description="Lease duration; renewed every third of it.")
    standalone: bool = Field(
        default=True, description="Run without kopf peering (a single replica). False: peering by priority."
    )
    liveness_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Port of kopf's liveness endpoint, http://0.0.0.0:PORT/healthz (answers while kopf's event "
        "loop runs; the chart's livenessProbe). None: no endpoint.",
    )
    metrics_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description='Port of the Prometheus endpoint, http://METRICS_ADDRESS:PORT/metrics (README, "Metrics"). '
        "None: no endpoint, and no metric is kept.",
    )
    metrics_address: str = Field(
        default="0.0.0.0",
        description="Address the metrics endpoint listens on (0.0.0.0 in a pod; 127.0.0.1 for a process on a host).",
    )
    user_agent: str = Field(
        default="",
        description="User-Agent of every apiserver request (kopf's watches, our reads and writes, the Lease). "
        "Empty: kubetask-operator/<version> (<identity>), so the apiserver's audit log tells replicas apart.",
    )

    @model_validator(mode="after")
    def _large_results_need_kept_logs(self) -> Self:
        if not self.keep_logs and "result_max_bytes" in self.model_fields_set:
            if self.result_max_bytes > TERMINATION_MESSAGE_BYTES:
                raise ValueError(
                    f"result_max_bytes={self.result_max_bytes} needs keep_logs: a result over "
                    f"{TERMINATION_MESSAGE_BYTES} bytes is framed in the pod's log, which is read only when logs "
                    "are kept (KUBETASK_OPERATOR_KEEP_LOGS=true, or KUBETASK_OPERATOR_RESULT_MAX_BYTES=0)"
                )
        return self

    @property
    def keeps_logs(self) -> bool:
        """Whether ended attempts' logs (and large results) are kept: with the mirror and `keep_logs`."""
        return self.mirror and self.keep_logs

    @model_validator(mode="after")
    def _default_user_agent(self) -> Self:
        if not self.user_agent:
            self.user_agent = f"kubetask-operator/{version()} ({self.identity})"
        return self
