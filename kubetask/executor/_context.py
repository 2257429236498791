"""The handler's context: what a running handler may tell the platform besides its result.

    @handler("resize")
    def resize(params: dict, ctx: Context) -> dict:
        for i, image in enumerate(images, 1):
            ...
            ctx.progress(i, len(images), f"resized {image}")

A handler whose function takes a second positional parameter (without a default, or named `ctx`)
is called with a `Context` (`takes_context`, decided once at registration); one that takes only its
params is called as before.

`progress` writes one frame line (`kubetask.executor.frames`) to the pod's stdout: no network path
from the pod is assumed, the API reads the last frame from the live log's tail, and the operator's
log keeper takes frames out of the log it keeps. A tight loop must not flood the log, so frames are
rate-limited here: at most one per `interval` seconds (0.5 by default, measured on the monotonic
clock); a call inside the interval only remembers its value, written by the next call after the
interval, by a call that reaches `total`, by `force=True`, or by `flush()`, which the runtime calls
when the handler returns. Arguments are checked on every call, written or not, so a bad call fails
where it is made. A message has the task's secret values masked (`kubetask.executor.redaction`)
before it is framed: the API shows it.
"""

from __future__ import annotations

import inspect
import math
import time
from collections.abc import Callable, Collection
from datetime import UTC, datetime
from typing import Any

from kubetask.executor.frames import Progress, progress_line
from kubetask.executor.redaction import redact

INTERVAL_SECONDS = 0.5
Write = Callable[[bytes], None]


def _wall() -> datetime:
    return datetime.now(UTC)


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _number(value: Any, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"ctx.progress: {what} must be a number (int or float), not {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"ctx.progress: {what} must be finite, not {value}")
    if value < 0:
        raise ValueError(f"ctx.progress: {what} must be at least 0, not {value}")
    return value


def checked(current: Any, total: Any, message: Any) -> Progress:
    """The progress the arguments say, or TypeError/ValueError naming the bad one (no time yet)."""
    now = _number(current, "current")
    whole = None if total is None else _number(total, "total")
    if whole is not None and now > whole:
        raise ValueError(f"ctx.progress: current ({current}) is more than total ({total})")
    if not isinstance(message, str):
        raise TypeError(f"ctx.progress: message must be a string, not {type(message).__name__}")
    return Progress(current=current, total=total, message=message or None)


class Context:
    """Handed to a handler that takes it; `progress` reports how far it got (rate-limited frames).

    `write` gets each frame line (the runtime: the pod's stdout, flushed); `clock` gives the
    frame's time, `monotonic` the rate limit's; `secrets` are masked in the messages.
    """

    def __init__(
        self,
        write: Write,
        *,
        interval: float = INTERVAL_SECONDS,
        clock: Callable[[], datetime] = _wall,
        monotonic: Callable[[], float] = time.monotonic,
        secrets: Collection[str] = (),
    ) -> None:
        self._write = write
        self._secrets = secrets
        self._interval = interval
        self._clock = clock
        self._monotonic = monotonic
        self._last_write: float | None = None
        self._pending: Progress | None = None
        self.last: Progress | None = None  # the last progress said (written or pending)
        self.frames = 0  # frame lines written

    def progress(self, current: float, total: float | None = None, message: str = "", *, force: bool = False) -> None:
        """Say that `current` of `total` (None: unknown) is done; `message` says what is going on.

        TypeError/ValueError for a non-number, a negative or infinite value, `current` above
        `total`, or a message that is no string. Written at once unless a frame was written less
        than the interval ago (then kept for the next write); `force` or reaching `total` writes now.
        """
        said = checked(current, total, message)
        shown = None if said.message is None else redact(said.message, self._secrets)
        p = Progress(said.current, said.total, shown, _rfc3339(self._clock()))
        self.last = p
        now = self._monotonic()
        done = total is not None and current == total
        if force or done or self._last_write is None or now - self._last_write >= self._interval:
            self._emit(p, now)
        else:
            self._pending = p

    def flush(self) -> None:
        """Write the progress a rate-limited call left unwritten, if any."""
        if self._pending is not None:
            self._emit(self._pending, self._monotonic())

    def _emit(self, p: Progress, now: float) -> None:
        self._pending = None
        self._last_write = now
        self._write(progress_line(p))
        self.frames += 1


def takes_context(fn: Callable[..., Any]) -> bool:
    """Whether `fn` is to be called `fn(params, ctx)`: its second positional parameter has no
    default or is named `ctx` (`def h(params, verbose=False)` and `*args` wrappers get params only)."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):  # a builtin without a signature: params only
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p for p in sig.parameters.values() if p.kind in kinds]
    if len(positional) < 2:
        return False
    second = positional[1]
    return second.default is inspect.Parameter.empty or second.name == "ctx"
