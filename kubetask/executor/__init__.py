"""The executor SDK: register handlers; `kubetask-executor` runs one inside the task's pod.

    from kubetask.executor import handler

    @handler("send-report")
    def send_report(params: dict) -> dict:
        ...
        return {"sent": True}

This package uses the standard library only, so any Python ≥ 3.11 image can run it.
"""

from kubetask.executor._registry import Handler, Registry, TaskFailed, default_registry, handler

__all__ = ["Handler", "Registry", "TaskFailed", "default_registry", "handler"]
