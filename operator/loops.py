"""One background thread that repeats a step: the shape of every periodic thread of the operator.

A `Loop` calls `step()` on a daemon thread; the step returns how many seconds to wait before the
next call (None: until woken). `wake()` cuts the wait short (it only sets a `threading.Event`, so a
signal handler may call it); `stop()` ends the thread after the current step. A step that raises
is logged and tried again after `retry_wait` seconds: a thread of the operator never dies of one
failure (the apiserver or the database may be down for a moment).

The wait is cleared before each step, so a wake that arrives while a step runs is not lost: the
producer changes its state first and wakes second, and the step reads the state after the clear.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("kubetask.operator")


class Loop:
    """A named daemon thread running `step()` until stopped."""

    def __init__(
        self,
        name: str,
        step: Callable[[], float | None],
        *,
        first_wait: float | None = 0.0,
        retry_wait: float = 5.0,
    ) -> None:
        self.name = name
        self._step = step
        self._first_wait = first_wait
        self._retry_wait = retry_wait
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        """Run the next step now (or right after the current one); safe from a signal handler."""
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the current step; with `timeout`, wait up to that long for the thread to end."""
        self._stopping.set()
        self._wake.set()
        if timeout is not None and self._thread.is_alive():
            self._thread.join(timeout)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def _run(self) -> None:
        wait = self._first_wait
        while True:
            if wait is None or wait > 0:
                self._wake.wait(wait)
            self._wake.clear()
            if self._stopping.is_set():
                return
            try:
                wait = self._step()
            except Exception:
                log.exception("%s: step failed; again in %.1fs", self.name, self._retry_wait)
                wait = self._retry_wait
