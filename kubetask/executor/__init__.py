"""The executor SDK: register handlers; `kubetask-executor` runs one inside the task's pod.

    from kubetask.executor import handler

    @handler("send-report")
    def send_report(params: dict) -> dict:
        ...
        return {"sent": True}

A handler says how it failed by what it raises: `RetryableError(message, retry_after=seconds)`
(another attempt may help, not before then), `PermanentError(message)` (never retried); any other
exception is retryable as the task's retry policy says (`kubetask.executor.errors`).

This package uses the standard library only, so any Python ≥ 3.11 image can run it.
"""

from kubetask.executor._registry import Handler, Registry, default_registry, handler
from kubetask.executor.errors import PermanentError, RetryableError, TaskFailed

__all__ = ["Handler", "PermanentError", "Registry", "RetryableError", "TaskFailed", "default_registry", "handler"]
