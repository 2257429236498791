"""`kubetask-executor`: run one registered handler inside the task's pod.

Contract with the operator: params come from KUBETASK_PARAMS_FILE (or KUBETASK_PARAMS); the handler
is KUBETASK_HANDLER (or the first argument); the runtime leaves one report in the termination-message
path (≤ 4 KiB, Kubernetes' limit), the envelope of `kubetask.executor.report`: the JSON result (also
printed to stdout) or, exiting non-zero, the failure with its kind, message, whether it is retryable
and after how long (also one line, `<Kind>: <message>`, on stderr). Extra handler modules are
imported before the handler is looked up: the entry points of group `kubetask.handlers` of every
installed distribution, then KUBETASK_HANDLER_MODULES (comma-separated); two handlers under one name
fail the start (`DuplicateHandler`, exit 2, not retryable) with a message naming both. `execute()`
is the same path without the environment: `kubetask run` and the pytest helper (kubetask/testing/handlers.py) use it.

The values of the env vars named in KUBETASK_SECRET_ENV (set from Secrets; the operator names them)
are masked (`kubetask.executor.redaction`) in what the runtime leaves: what Python code writes to
sys.stdout and sys.stderr while it runs (`_streams`), the failure's message, progress messages and
the strings of the result.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
import os
import signal
import sys
import traceback
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubetask.executor import builtin as _builtin  # noqa: F401  (registers echo, sleep, fail)
from kubetask.executor import http_task as _http_task  # noqa: F401  (registers http)
from kubetask.executor._context import Context, Write
from kubetask.executor._registry import DuplicateHandler, Registry, default_registry
from kubetask.executor._streams import redacted_streams
from kubetask.executor.errors import TaskFailed
from kubetask.executor.frames import RESULT_MAX_ENV, Progress, digest, result_lines
from kubetask.executor.redaction import redact, redact_json, secret_values
from kubetask.executor.report import MAX_BYTES, Failure, Report, ResultRef, encode, preview

TERMINATION_PATH = "/dev/termination-log"
MAX_RESULT_BYTES = MAX_BYTES  # the whole report, envelope included
EXIT_USAGE = 2
ENTRY_POINT_GROUP = "kubetask.handlers"
RESULT_TOO_LARGE = "ResultTooLarge"


def result_max_bytes(env: Mapping[str, str]) -> int:
    """The largest result the operator reads from the log (KUBETASK_RESULT_MAX_BYTES); 0: none, only
    the termination message's 4 KiB (no such variable: an operator that reads no frames)."""
    text = env.get(RESULT_MAX_ENV, "").strip()
    return int(text) if text.isdigit() else 0


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


def handler_modules(env: Mapping[str, str]) -> list[str]:
    """The modules named in KUBETASK_HANDLER_MODULES (comma-separated)."""
    return [m for m in (m.strip() for m in env.get("KUBETASK_HANDLER_MODULES", "").split(",")) if m]


def discover(env: Mapping[str, str]) -> None:
    """Import every handler module: the entry points of group `kubetask.handlers`, then KUBETASK_HANDLER_MODULES.

    An entry point's value names a module (`mypkg.handlers`) whose `@handler`s register on import;
    two handlers under one name raise `DuplicateHandler` naming both.
    """
    for ep in sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value)):
        try:
            ep.load()
        except DuplicateHandler:
            raise
        except Exception as e:
            raise ImportError(f"entry point {ep.name} = {ep.value} ({ENTRY_POINT_GROUP}) failed to load: {e}") from e
    for module in handler_modules(env):
        importlib.import_module(module)


@dataclass(frozen=True)
class Attempt:
    """What one run of a handler left: its report, the exit code, and the envelope as written."""

    report: Report
    exit_code: int
    envelope: str
    traceback: str | None = None  # of an exception the handler did not classify
    framed: bytes | None = None  # a result too large for the envelope: its JSON text, framed in the log
    progress: Progress | None = None  # the last `ctx.progress` the handler said

    @property
    def line(self) -> str:
        """The one line a person reads: the result's JSON, or `<Kind>: <message>`."""
        f = self.report.failure
        return json.dumps(self.report.result, separators=(",", ":")) if f is None else f"{f.kind}: {f.message}"


def execute(
    name: str,
    params: Any,
    registry: Registry = default_registry,
    *,
    clock: Callable[[], datetime] = _now,
    max_result_bytes: int = 0,
    frames: Write | None = None,
    secrets: Collection[str] = (),
) -> Attempt:
    """Run handler `name` on `params` (JSON) as in the pod: its models, failure classes and result limits.

    A result whose report exceeds 4 KiB is framed in the log (`framed`, with a `resultRef` in the
    report) when it is at most `max_result_bytes` of JSON, else the attempt fails `ResultTooLarge`.
    The handler's `ctx.progress` frames go to `frames` (default: stdout, each line flushed).
    `secrets` are masked in the failure's message, the progress messages and the result's strings."""
    try:
        entry = registry.entry(name)
    except LookupError as e:  # a usage error; a handler's own KeyError below is the task's failure
        failure = Failure(type(e).__name__, str(e))
        return _failed(Report(handler=name, time=clock()), failure, EXIT_USAGE, secrets=secrets)
    report = Report(handler=name, version=entry.version)
    ctx = Context(frames or _frame_line, clock=clock, secrets=secrets)
    attempt = _outcome(entry.call, params, ctx, report, clock=clock, max_result_bytes=max_result_bytes, secrets=secrets)
    return replace(attempt, progress=ctx.last)


def _outcome(
    call: Callable[[Any, Context], Any],
    params: Any,
    ctx: Context,
    report: Report,
    *,
    clock: Callable[[], datetime],
    max_result_bytes: int,
    secrets: Collection[str],
) -> Attempt:
    try:
        try:
            result = call(params, ctx)
        finally:  # the last progress a rate-limited call held back: how far it got, even when it failed
            ctx.flush()
        json.dumps(result)
    except TaskFailed as e:
        failure = Failure(e.kind, str(e), retryable=e.retryable, retry_after_seconds=e.retry_after)
        return _failed(replace(report, time=clock()), failure, e.exit_code, secrets=secrets)
    except Exception as e:  # the task's own failure, not classified: retryable, as the policy says
        tb = redact(traceback.format_exc(), secrets)
        failed = _failed(replace(report, time=clock()), Failure(type(e).__name__, str(e)), 1, secrets=secrets)
        return replace(failed, traceback=tb)
    result = redact_json(result, secrets)
    done = replace(report, time=clock(), result=result)
    envelope = encode(done)
    size = len(envelope.encode())
    if size <= MAX_RESULT_BYTES:
        return Attempt(done, 0, envelope)
    text = json.dumps(result, separators=(",", ":"), ensure_ascii=False)
    payload = text.encode()
    if len(payload) > max_result_bytes:
        return _failed(replace(report, time=clock()), _too_large(size, len(payload), max_result_bytes), 1)
    ref = ResultRef(size=len(payload), sha256=digest(payload), preview=preview(text))
    framed = replace(done, result_ref=ref)
    return Attempt(framed, 0, encode(framed), framed=payload)


def _too_large(report_size: int, size: int, limit: int) -> Failure:
    """The permanent failure of a result over the limit (the same handler and params give it again)."""
    if limit <= 0:
        msg = (
            f"result is {report_size} bytes with its report; a termination message holds at most "
            f"{MAX_RESULT_BYTES}, and this task's operator reads no larger results (it runs without its SQL mirror)"
        )
    else:
        msg = f"result is {size} bytes of JSON; this task's limit is {limit} (KUBETASK_OPERATOR_RESULT_MAX_BYTES)"
    return Failure(RESULT_TOO_LARGE, msg, retryable=False)


def run(
    argv: Sequence[str],
    env: Mapping[str, str],
    registry: Registry = default_registry,
    *,
    clock: Callable[[], datetime] = _now,
) -> int:
    """Run the handler; return the process exit code. What it writes to stdout and stderr meanwhile
    has the values of the variables KUBETASK_SECRET_ENV names masked."""
    secrets = secret_values(env)
    with redacted_streams(secrets):
        return _run(argv, env, registry, clock=clock, secrets=secrets)


def _run(
    argv: Sequence[str],
    env: Mapping[str, str],
    registry: Registry,
    *,
    clock: Callable[[], datetime],
    secrets: Collection[str],
) -> int:
    term = env.get("KUBETASK_TERMINATION_PATH", TERMINATION_PATH)
    name = env.get("KUBETASK_HANDLER") or (argv[0] if argv else "")
    try:
        discover(env)
        if not name:
            raise LookupError("no handler given: set KUBETASK_HANDLER or pass its name as the first argument")
        params = load_params(env)
    except DuplicateHandler as e:  # the image is broken the same way for every attempt
        failure = Failure(type(e).__name__, str(e), retryable=False)
        return _fail(term, Report(handler=name, time=clock()), failure, EXIT_USAGE, secrets=secrets)
    except LookupError as e:
        failure = Failure(type(e).__name__, str(e))
        return _fail(term, Report(handler=name, time=clock()), failure, EXIT_USAGE, secrets=secrets)
    except Exception as e:
        traceback.print_exc(file=sys.stderr)
        return _fail(term, Report(handler=name, time=clock()), Failure(type(e).__name__, str(e)), 1, secrets=secrets)
    attempt = execute(name, params, registry, clock=clock, max_result_bytes=result_max_bytes(env), secrets=secrets)
    if attempt.traceback:
        sys.stderr.write(attempt.traceback)
    if attempt.framed is not None:
        _frame(attempt.framed)
        ref = attempt.report.result_ref
        assert ref is not None
        sys.stdout.write(f"result: {ref.size} bytes, sha256 {ref.sha256} (framed in this log)\n")
    else:
        (sys.stdout if attempt.exit_code == 0 else sys.stderr).write(attempt.line + "\n")
    _write(term, attempt.envelope)
    return attempt.exit_code


def _frame(payload: bytes) -> None:
    """Write the result's frame lines to stdout, each in one write (atomic on a pipe: < PIPE_BUF)."""
    for line in result_lines(payload):
        _frame_line(line)


def _frame_line(line: bytes) -> None:
    """One frame line to stdout in one write, after what the handler printed before it, flushed."""
    sys.stdout.flush()
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
    if out is not None:
        out.write(line)
        out.flush()
    else:  # a text stream without bytes (tests capturing output)
        sys.stdout.write(line.decode())
        sys.stdout.flush()


def _failed(report: Report, failure: Failure, code: int, *, secrets: Collection[str] = ()) -> Attempt:
    """The attempt that failed so: its failure's message masked, on one line, cut to keep the report within 4 KiB."""
    # masked before the whitespace is joined (a multi-line value) and after (a value with a space in it)
    message = redact(" ".join(redact(failure.message, secrets).split()), secrets)
    done = replace(report, failure=replace(failure, message=message))
    envelope = encode(done)
    excess = len(envelope.encode()) - MAX_RESULT_BYTES
    if excess > 0:  # the message gives way; cut its UTF-8 bytes, then drop a split character
        raw = message.encode()
        cut = raw[: max(0, len(raw) - excess - len("…".encode()))].decode(errors="ignore") + "…"
        done = replace(report, failure=replace(failure, message=cut))
        envelope = encode(done)
    return Attempt(done, code, envelope)


def _fail(term: str, report: Report, failure: Failure, code: int, *, secrets: Collection[str] = ()) -> int:
    """Leave the failure's report and one line on stderr; return `code`."""
    attempt = _failed(report, failure, code, secrets=secrets)
    _write(term, attempt.envelope)
    sys.stderr.write(attempt.line + "\n")
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
