"""A handler that leaks its Secrets every way a handler can: `leak-secrets` (the redaction test's source).

A template runs it with `KUBETASK_HANDLER_MODULES=kubetask.testing.secret_handler` in the executor
image (the whole `kubetask` package is in it). For each env var named in `params.env` it prints the
value to stdout and stderr, logs it, says it in a progress message, prints its sha256 (so a test
can tell the handler really had the value), and then fails with a message holding every value
(retryable: a task with attempts left retries, then dead-letters).
"""

# print is what the handler does: its output is what gets masked
# ruff: noqa: T201
from __future__ import annotations

import hashlib
import logging
import os
import sys
from typing import Any

from kubetask.executor import Context, handler

MODULE = __name__
log = logging.getLogger(MODULE)


def fingerprint(value: str) -> str:
    """What the handler prints for a value it had: `sha256:<hex>`, which no mask touches."""
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()


@handler("leak-secrets")
def leak_secrets(params: Any, ctx: Context) -> Any:
    """Print, log and report the values of `params.env`'s variables, then fail with all of them."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")  # to the (masked) stderr
    names = list(params.get("env", [])) if isinstance(params, dict) else []
    values = [os.environ.get(n, "") for n in names]
    for name, value in zip(names, values, strict=True):
        print(f"{name} has {fingerprint(value)}")
        print(f"stdout: {name}={value}")
        print(f"stderr: {name}={value}", file=sys.stderr)
        print("split:", name, "=", value[:2], end="", flush=True)  # one value in two writes
        print(value[2:])
        log.info("logged: %s=%r", name, value)
        ctx.progress(1, 2, f"progress: {name}={value}", force=True)
    raise RuntimeError("failed with " + ", ".join(f"{n}={v}" for n, v in zip(names, values, strict=True)))
