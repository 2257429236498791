"""`kubetask-executor`: run one registered handler inside the task's pod.

Contract with the operator: params come from KUBETASK_PARAMS_FILE (or KUBETASK_PARAMS); the handler
is KUBETASK_HANDLER (or the first argument); the JSON result goes to the termination-message path
(≤ 4 KiB, Kubernetes' limit) and to stdout; a failure exits non-zero and leaves one line,
`<ExceptionType>: <message>`, in the termination message. Extra handler modules are imported from
KUBETASK_HANDLER_MODULES (comma-separated) before the handler is looked up.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import sys
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kubetask.executor import builtin as _builtin  # noqa: F401  (registers echo, sleep, fail)
from kubetask.executor._registry import Registry, TaskFailed, default_registry

TERMINATION_PATH = "/dev/termination-log"
MAX_RESULT_BYTES = 4096  # Kubernetes truncates termination messages to 4096 bytes
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


def run(argv: Sequence[str], env: Mapping[str, str], registry: Registry = default_registry) -> int:
    """Run the handler; return the process exit code."""
    term = env.get("KUBETASK_TERMINATION_PATH", TERMINATION_PATH)
    name = env.get("KUBETASK_HANDLER") or (argv[0] if argv else "")
    try:
        for module in filter(None, (m.strip() for m in env.get("KUBETASK_HANDLER_MODULES", "").split(","))):
            importlib.import_module(module)
        if not name:
            raise LookupError("no handler given: set KUBETASK_HANDLER or pass its name as the first argument")
        fn = registry.get(name)
        params = load_params(env)
        result = fn(params)
        text = json.dumps(result, separators=(",", ":"))
    except TaskFailed as e:
        return _fail(term, f"TaskFailed: {e}", e.exit_code)
    except LookupError as e:
        return _fail(term, f"{type(e).__name__}: {e}", EXIT_USAGE)
    except Exception as e:  # the task's own failure: report it in one line
        traceback.print_exc(file=sys.stderr)
        return _fail(term, f"{type(e).__name__}: {e}", 1)
    size = len(text.encode())
    if size > MAX_RESULT_BYTES:
        msg = f"ResultTooLarge: result is {size} bytes; a termination message holds at most {MAX_RESULT_BYTES}"
        return _fail(term, msg, 1)
    _write(term, text)
    sys.stdout.write(text + "\n")
    return 0


def _fail(term: str, message: str, code: int) -> int:
    line = " ".join(message.split())[:MAX_RESULT_BYTES]
    _write(term, line)
    sys.stderr.write(line + "\n")
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
        code = _fail(os.environ.get("KUBETASK_TERMINATION_PATH", TERMINATION_PATH), "Terminated: SIGTERM", 143)
    sys.exit(code)


if __name__ == "__main__":
    main()
