"""`kubetask-executor`: run one registered handler inside the task's pod.

Contract with the operator: params come from KUBETASK_PARAMS_FILE (or KUBETASK_PARAMS); the handler
is KUBETASK_HANDLER (or the first argument); the runtime leaves one report in the termination-message
path (≤ 4 KiB, Kubernetes' limit), the envelope of `kubetask.executor.report`: the JSON result (also
printed to stdout) or, exiting non-zero, the failure with its kind, message, whether it is retryable
and after how long (also one line, `<Kind>: <message>`, on stderr). Extra handler modules are
imported from KUBETASK_HANDLER_MODULES (comma-separated) before the handler is looked up.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubetask.executor import builtin as _builtin  # noqa: F401  (registers echo, sleep, fail)
from kubetask.executor import http_task as _http_task  # noqa: F401  (registers http)
from kubetask.executor._registry import Registry, default_registry
from kubetask.executor.errors import TaskFailed
from kubetask.executor.report import MAX_BYTES, Failure, Report, encode

TERMINATION_PATH = "/dev/termination-log"
MAX_RESULT_BYTES = MAX_BYTES  # the whole report, envelope included
EXIT_USAGE = 2


def load_params(env: Mapping[str, str]) -> Any:
    """Params from the mounted file, else from KUBETASK_PARAMS, else {}."""
    path = env.get("KUBETASK_PARAMS_FILE")
    if path and Path(path).is_file():
        text = Path(path).read_text(encoding="utf-8")
    else:
        text = env.get("KUBETASK_PARAMS", "")
    return json.loads(text) if text.strip() else {}


def _write(path: str, text: str) -> None:
    try:
        Path(path).write_text(text, encoding="utf-8")
    except OSError:  # outside Kubernetes there may be no termination log
        pass


def _now() -> datetime:
    return datetime.now(UTC)


def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    registry: Registry = default_registry,
    *,
    clock: Callable[[], datetime] = _now,
) -> int:
    """Run the handler; return the process exit code."""
    term = env.get("KUBETASK_TERMINATION_PATH", TERMINATION_PATH)
    name = env.get("KUBETASK_HANDLER") or (argv[0] if argv else "")
    report = Report(handler=name)
    try:
        for module in filter(None, (m.strip() for m in env.get("KUBETASK_HANDLER_MODULES", "").split(","))):
            importlib.import_module(module)
        if not name:
            raise LookupError("no handler given: set KUBETASK_HANDLER or pass its name as the first argument")
        fn = registry.get(name)
    except LookupError as e:  # a usage error; a handler's own KeyError below is the task's failure
        return _fail(term, replace(report, time=clock()), Failure(type(e).__name__, str(e)), EXIT_USAGE)
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return _fail(term, replace(report, time=clock()), Failure(type(e).__name__, str(e)), 1)
    report = Report(handler=name, version=registry.version(name))
    try:
        result = fn(load_params(env))
        text = json.dumps(result, separators=(",", ":"))
    except TaskFailed as e:
        failure = Failure(e.kind, str(e), retryable=e.retryable, retry_after_seconds=e.retry_after)
        return _fail(term, replace(report, time=clock()), failure, e.exit_code)
    except Exception as e:  # the task's own failure, not classified: retryable, as the policy says
        traceback.print_exc(file=sys.stderr)
        return _fail(term, replace(report, time=clock()), Failure(type(e).__name__, str(e)), 1)
    envelope = encode(replace(report, time=clock(), result=result))
    size = len(envelope.encode())
    if size > MAX_RESULT_BYTES:
        msg = f"result is {size} bytes with its report; a termination message holds at most {MAX_RESULT_BYTES}"
        return _fail(term, replace(report, time=clock()), Failure("ResultTooLarge", msg), 1)
    _write(term, envelope)
    sys.stdout.write(text + "\n")
    return 0


def _fail(term: str, report: Report, failure: Failure, code: int) -> int:
    """Leave the failure's report (its message cut to fit 4 KiB) and one line on stderr; return `code`."""
    message = " ".join(failure.message.split())
    envelope = encode(replace(report, failure=replace(failure, message=message)))
    excess = len(envelope.encode()) - MAX_RESULT_BYTES
    if excess > 0:  # the message gives way; cut its UTF-8 bytes, then drop a split character
        raw = message.encode()
        cut = raw[: max(0, len(raw) - excess - len("…".encode()))].decode(errors="ignore") + "…"
        envelope = encode(replace(report, failure=replace(failure, message=cut)))
    _write(term, envelope)
    sys.stderr.write(f"{failure.kind}: {message}\n")
    return code


class Terminated(BaseException):
    """SIGTERM arrived (cancellation, deletion, node drain)."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    # As PID 1 in its container, Python would ignore SIGTERM and be killed only after the grace period.
    raise Terminated


def main() -> None:
    """Console entry point."""
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        code = run(sys.argv[1:], os.environ)
    except Terminated:
        term = os.environ.get("KUBETASK_TERMINATION_PATH", TERMINATION_PATH)
        report = Report(handler=os.environ.get("KUBETASK_HANDLER", ""), time=_now())
        code = _fail(term, report, Failure("Terminated", "SIGTERM"), 143)
    sys.exit(code)


if __name__ == "__main__":
    main()
