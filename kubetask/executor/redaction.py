"""Secret values out of what the executor leaves: its log, failure messages, progress and result (pure).

The operator cannot see a Secret's value (it passes only the `secretKeyRef`), so it tells the
executor which of its env vars came from Secrets, by name: `KUBETASK_SECRET_ENV=A,B` (env names
cannot hold a comma). The executor reads those variables' values and masks each occurrence with
`MASK` in the text it writes. Rules, decided here once:

- **What is masked** is every character that belongs to an occurrence of any value: all
  occurrences of all values are found, overlapping ones included, and each run of overlapping
  occurrences becomes one `MASK` (`abcd` and `cdef` in `abcdefg` give `[redacted]g`; a value that is a
  prefix of another, `abc` and `abcdef`, masks the longer). Occurrences that merely touch stay
  two masks, so text read in chunks (`Redactor`) masks exactly as the whole text would.
- **Which forms of a value**: the value itself, without surrounding whitespace (a Secret made
  from a file often ends in a newline), and its escaped forms inside a JSON string and inside a
  Python `repr` (`f"{token!r}"`, a JSON log line), each of those whose multi-line value
  would otherwise show escaped as `\\n`.
- **Too short to mask**: a form under `MIN_CHARS` (4) characters is not masked: masking `1`,
  `on` or `yes` would garble every log while hiding nothing a guess would not find. Empty
  values are ignored.

`Redactor` is the same rule over a stream written in pieces: it holds back the shortest tail
that could still be the start of a value (at most the longest value's length, unless a run of
overlapping occurrences is longer; `HOLD_MAX` bounds that) and gives the rest.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from typing import Any, Final

SECRET_ENV: Final = "KUBETASK_SECRET_ENV"  # comma-separated names of the env vars set from Secrets
MASK: Final = "[redacted]"
MIN_CHARS: Final = 4
HOLD_MAX: Final = 64 * 1024  # characters a stream may hold back for one run of overlapping occurrences


def encode_names(names: Iterable[str]) -> str:
    """The value of SECRET_ENV for these env var names."""
    return ",".join(names)


def secret_names(env: Mapping[str, str]) -> list[str]:
    """The env var names SECRET_ENV lists, in its order."""
    return [n for n in (n.strip() for n in env.get(SECRET_ENV, "").split(",")) if n]


def forms(value: str) -> set[str]:
    """The forms of `value` that are masked: itself, stripped, JSON- and repr-escaped; none shorter than MIN_CHARS."""
    out = set()
    for v in {value, value.strip()}:
        out |= {v, json.dumps(v, ensure_ascii=False)[1:-1], json.dumps(v)[1:-1], repr(v)[1:-1]}
    return {f for f in out if len(f) >= MIN_CHARS}


def secret_values(env: Mapping[str, str]) -> frozenset[str]:
    """Every form to mask of the values of the variables SECRET_ENV names (an unset one: nothing)."""
    out: set[str] = set()
    for name in secret_names(env):
        out |= forms(env.get(name, ""))
    return frozenset(out)


def _spans(text: str, values: Collection[str]) -> list[tuple[int, int]]:
    """The runs of overlapping occurrences of `values` in `text`, as (start, end), in order."""
    found: list[tuple[int, int]] = []
    for v in values:
        if not v:
            continue
        i = text.find(v)
        while i >= 0:
            found.append((i, i + len(v)))
            i = text.find(v, i + 1)
    found.sort()
    runs: list[tuple[int, int]] = []
    for start, end in found:
        if runs and start < runs[-1][1]:  # overlapping (touching ones stay apart: see the docstring)
            runs[-1] = (runs[-1][0], max(runs[-1][1], end))
        else:
            runs.append((start, end))
    return runs


def redact(text: str, values: Collection[str], mask: str = MASK) -> str:
    """`text` with each run of overlapping occurrences of `values` replaced by `mask`."""
    if not values or not text:
        return text
    pieces, at = [], 0
    for start, end in _spans(text, values):
        pieces += [text[at:start], mask]
        at = end
    pieces.append(text[at:])
    return "".join(pieces)


def redact_json(value: Any, values: Collection[str]) -> Any:
    """A JSON value with `redact` applied to every string in it, keys included."""
    if not values:
        return value
    if isinstance(value, str):
        return redact(value, values)
    if isinstance(value, list):
        return [redact_json(v, values) for v in value]
    if isinstance(value, dict):
        return {redact(str(k), values): redact_json(v, values) for k, v in value.items()}
    return value


class Redactor:
    """`redact` over text that arrives in pieces: `feed` returns what can be given on, `flush` the rest.

    The pieces given on, joined, equal `redact` of the whole text (while no run of overlapping
    occurrences is longer than HOLD_MAX)."""

    def __init__(self, values: Collection[str], mask: str = MASK) -> None:
        self._values = tuple(v for v in values if v)
        self._mask = mask
        self._held = ""

    def feed(self, text: str) -> str:
        """Take `text`; return the redacted text that no later piece can change."""
        if not self._values:
            return text
        buf = self._held + text
        cut = self._cut(buf)
        self._held = buf[cut:]
        return redact(buf[:cut], self._values, self._mask)

    def flush(self) -> str:
        """Return the redacted text held back (at the end of the stream)."""
        held, self._held = self._held, ""
        return redact(held, self._values, self._mask)

    def _cut(self, buf: str) -> int:
        """Where `buf` splits into what is final and what is held: before any tail that may still
        grow into an occurrence, and never inside a run of occurrences."""
        cut = len(buf)
        for v in self._values:  # the earliest tail that is a proper prefix of a value
            i = buf.find(v[0], max(0, len(buf) - len(v) + 1))
            while 0 <= i < cut:
                if v.startswith(buf[i:]):
                    cut = i
                    break
                i = buf.find(v[0], i + 1)
        for start, end in _spans(buf, self._values):
            if start < cut < end:
                cut = start
                break
        if cut == 0 and len(buf) > HOLD_MAX:  # one endless run: give on what it covers so far
            spans = _spans(buf, self._values)
            cut = spans[0][1] if spans else len(buf)
        return cut
