"""A handler that works slowly and says how far it got: `count-slowly` (the tests' progress source).

A template runs it with `KUBETASK_HANDLER_MODULES=kubetask.testing.progress_handler` in the
executor image (the whole `kubetask` package is in it). Its own module, not `handlers.py`: a
test that imports the pytest helpers must not find an extra handler in the default registry.
"""

from __future__ import annotations

import time
from typing import Any

from kubetask.executor import Context, handler

MODULE = __name__


@handler("count-slowly")
def count_slowly(params: Any, ctx: Context) -> Any:
    """Count to `steps` (default 20), one step per `seconds` (default 1), reporting each step."""
    p = params if isinstance(params, dict) else {}
    steps, seconds = int(p.get("steps", 20)), float(p.get("seconds", 1))
    for i in range(1, steps + 1):
        time.sleep(seconds)
        ctx.progress(i, steps, f"step {i} of {steps}")
    return {"counted": steps}
