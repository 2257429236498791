"""Built-in handlers: `echo` (returns its params), `sleep` (waits, for tests), `fail` (exits non-zero)."""

from __future__ import annotations

import time
from typing import Any

from kubetask.executor._registry import TaskFailed, handler


@handler("echo")
def echo(params: Any) -> Any:
    """Return the params unchanged."""
    return params


@handler("sleep")
def sleep(params: Any) -> Any:
    """Sleep `seconds` (default 1), then return `result` (default {"slept": seconds})."""
    p = params if isinstance(params, dict) else {}
    seconds = float(p.get("seconds", 1))
    time.sleep(seconds)
    return p.get("result", {"slept": seconds})


@handler("fail")
def fail(params: Any) -> Any:
    """Fail with `message` and `exitCode` (default 1)."""
    p = params if isinstance(params, dict) else {}
    raise TaskFailed(str(p.get("message", "failed on request")), exit_code=int(p.get("exitCode", 1)))
