"""Test a handler as the pod runs it: `run_handler(name, params) -> Report`.

    from kubetask.testing.handlers import run_handler

    def test_greets():
        report = run_handler("greet", {"name": "Ada"}, modules=["mypkg.handlers"])
        assert report.failure is None and report.result == {"text": "hello Ada"}

The path is the executor's own (`kubetask.executor.runtime`): handler modules found as in the pod
(the entry points of group `kubetask.handlers`, then `modules` as KUBETASK_HANDLER_MODULES), the
params through JSON, the handler's models (a mismatch is a `ParamsRejected` failure), its failure
classes, and the 4 KiB limit of the report; the Report is what the operator would decode from the
termination message. `kubetask run` prints the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from kubetask.executor import Registry, default_registry
from kubetask.executor.report import Report, decode
from kubetask.executor.runtime import Attempt, discover, execute

__all__ = ["run_attempt", "run_handler"]


def _now() -> datetime:
    return datetime.now(UTC)


def run_attempt(
    name: str,
    params: Any = None,
    *,
    modules: Sequence[str] = (),
    registry: Registry = default_registry,
    clock: Callable[[], datetime] = _now,
) -> Attempt:
    """Run handler `name` on `params` as the pod would: its report, exit code and envelope."""
    discover({"KUBETASK_HANDLER_MODULES": ",".join(modules)})
    as_sent = json.loads(json.dumps({} if params is None else params))  # what the pod's params file holds
    return execute(name, as_sent, registry, clock=clock)


def run_handler(
    name: str,
    params: Any = None,
    *,
    modules: Sequence[str] = (),
    registry: Registry = default_registry,
    clock: Callable[[], datetime] = _now,
) -> Report:
    """The report of handler `name` run on `params`, as the operator reads it off the pod."""
    report = decode(run_attempt(name, params, modules=modules, registry=registry, clock=clock).envelope)
    assert report is not None  # the runtime always leaves an envelope
    return report
