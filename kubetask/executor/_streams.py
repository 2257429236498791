"""The executor's stdout and stderr with secret values masked (`kubetask.executor.redaction`).

A thin adapter: `redacted_streams` puts a `RedactingStream` in place of `sys.stdout` and
`sys.stderr` while the runtime runs a handler, so what Python code writes through them (`print`,
`logging`, tracebacks, warnings) reaches the pod's log masked. Writes to file descriptors 1 and 2
(`os.write`, a subprocess the handler starts, a C extension) do not pass through here: those are
not masked; nor are bytes written to `sys.stdout.buffer`, where frame lines go as they are (a
result's base64 must not be touched; a progress message is masked before it is framed, by the
handler's `Context`). A lock keeps the handler's threads from interleaving inside the redactor.
"""

from __future__ import annotations

import io
import sys
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from typing import TextIO

from kubetask.executor.redaction import Redactor


class RedactingStream(io.TextIOBase):
    """A text stream that masks `values` in what it writes to `target` (holding back a possible start)."""

    def __init__(self, target: TextIO, values: Collection[str]) -> None:
        super().__init__()
        self._target = target
        self._redactor = Redactor(values)
        self._lock = threading.Lock()

    def write(self, s: str) -> int:
        with self._lock:
            self._target.write(self._redactor.feed(s))
        return len(s)

    def flush(self) -> None:
        """Flush the target; a held-back tail that may still be the start of a secret stays held."""
        self._target.flush()

    def finish(self) -> None:
        """Write what is held back, masked, and flush: the end of the stream."""
        with self._lock:
            self._target.write(self._redactor.flush())
        self._target.flush()

    @property
    def buffer(self) -> object:
        """The target's binary buffer, for frame lines (AttributeError when it has none)."""
        return self._target.buffer

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return self._target.encoding

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return self._target.isatty()

    def fileno(self) -> int:
        return self._target.fileno()


@contextmanager
def redacted_streams(values: Collection[str]) -> Iterator[None]:
    """sys.stdout and sys.stderr mask `values` inside the block (no values: left as they are)."""
    if not values:
        yield
        return
    out, err = sys.stdout, sys.stderr
    streams = RedactingStream(out, values), RedactingStream(err, values)
    sys.stdout, sys.stderr = streams
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err
        for s in streams:
            s.finish()
