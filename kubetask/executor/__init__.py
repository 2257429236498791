"""The executor SDK: register handlers; `kubetask-executor` runs one inside the task's pod.

    from kubetask.executor import handler

    @handler("send-report")
    def send_report(params: dict) -> dict:
        ...
        return {"sent": True}

    @dataclass
    class Report:
        to: str
        copies: int = 1

    @handler("send-typed", params=Report, result=Sent, version="2")   # dataclasses or pydantic models
    def send_typed(params: Report) -> Sent:
        ...

A handler that takes a second parameter gets the `Context`: `ctx.progress(current, total, message)`
says how far it got (the API and CLI show it while the attempt runs; `kubetask.executor._context`).

    @handler("resize")
    def resize(params: dict, ctx: Context) -> dict:
        for i, image in enumerate(params["images"], 1):
            ...
            ctx.progress(i, len(params["images"]), image)

Typed params arrive as the model (params that do not fit fail the attempt as `ParamsRejected`,
never retried); the returned model is serialized to JSON (`kubetask.executor._typed`).

A handler says how it failed by what it raises: `RetryableError(message, retry_after=seconds)`
(another attempt may help, not before then), `PermanentError(message)` (never retried); any other
exception is retryable as the task's retry policy says (`kubetask.executor.errors`).

This package uses the standard library only, so any Python ≥ 3.11 image can run it; pydantic is
imported only when a handler's model is a pydantic model. Handlers are found through the entry-point
group `kubetask.handlers` and KUBETASK_HANDLER_MODULES (`kubetask.executor.runtime`).
"""

from kubetask.executor._context import Context
from kubetask.executor._registry import DuplicateHandler, Handler, Registered, Registry, default_registry, handler
from kubetask.executor.errors import ParamsRejected, PermanentError, RetryableError, TaskFailed

__all__ = [
    "Context",
    "DuplicateHandler",
    "Handler",
    "ParamsRejected",
    "PermanentError",
    "Registered",
    "Registry",
    "RetryableError",
    "TaskFailed",
    "default_registry",
    "handler",
]
