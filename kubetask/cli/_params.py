"""Values from the command line (pure): `-p k=v`, `-f params.yaml`, `-l k=v`, durations (`--since 1h`),
times (`--run-at +10m`).

`-p` values are YAML scalars (or flow collections), so `-p n=3` is the integer 3, `-p ok=true` a
boolean, `-p s='"3"'` the string "3", `-p tags='[a, b]'` a list and `-p m='{a: 1}'` a mapping; a
value YAML cannot read stays the string it is. Keys are top-level params (nest with -f or a flow
mapping). `-f` reads a YAML or JSON mapping (`-` for stdin); `-p` entries override its keys.
The result is checked against the template's paramSchema with `kubetask.schema_check` before any
request that creates something, so the error names every failing field as a JSON pointer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import yaml

from kubetask import schema_check

from ._errors import UsageProblem


def _pair(text: str, flag: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise UsageProblem(f"{flag} {text!r}: expected KEY=VALUE, e.g. {flag} message=hello")
    return key.strip(), value


def scalar(value: str) -> Any:
    """A -p value read as YAML (`3` -> 3, `'"3"'` -> "3"); unreadable YAML stays a string."""
    if value == "":
        return ""
    try:
        return yaml.safe_load(value)
    except yaml.YAMLError:
        return value


def params_from(pairs: Sequence[str], file_text: str | None, *, source: str = "-f") -> dict[str, Any]:
    """The params of `-f` (a YAML/JSON mapping) overridden by each `-p KEY=VALUE`."""
    params: dict[str, Any] = {}
    if file_text is not None:
        try:
            doc = yaml.safe_load(file_text)
        except yaml.YAMLError as e:
            raise UsageProblem(f"{source}: not valid YAML or JSON: {e}") from e
        if doc is not None and not isinstance(doc, dict):
            raise UsageProblem(f"{source}: params must be a mapping of name to value, not {type(doc).__name__}")
        params.update(doc or {})
    for text in pairs:
        key, value = _pair(text, "-p")
        params[key] = scalar(value)
    return params


def labels_from(pairs: Sequence[str]) -> dict[str, str]:
    """`-l KEY=VALUE` entries (the API checks the key and value syntax, naming the label)."""
    return dict(_pair(text, "-l") for text in pairs)


def check_params(params: Any, schema: dict[str, Any] | None, *, template: str) -> None:
    """UsageProblem naming every field of `params` that breaks the template's paramSchema."""
    errors = schema_check.validate(params, schema)
    if errors:
        fields = "; ".join(f"/params{e.pointer}: {e.message}" for e in errors[:10])
        more = f"; and {len(errors) - 10} more" if len(errors) > 10 else ""
        raise UsageProblem(f"params do not match the paramSchema of template {template!r}: {fields}{more}")


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def duration_seconds(text: str, flag: str) -> float:
    """`90s`, `5m`, `1h30m`, `2d` (units s, m, h, d, w) as seconds; a UsageProblem naming `flag` otherwise."""
    parts = re.findall(r"(\d+(?:\.\d+)?)([smhdw])", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise UsageProblem(f"{flag} {text!r}: give a duration such as 30s, 5m, 1h30m or 2d")
    return sum(float(n) * _UNITS[u] for n, u in parts)


def run_at_from(text: str, *, now: datetime, flag: str = "--run-at") -> datetime:
    """`--run-at`: an RFC 3339 time with an offset (`2026-03-01T09:00:00Z`), or `+DURATION` from `now`
    (`+10m`, `+1h30m`), as an aware datetime; a UsageProblem naming `flag` otherwise."""
    value = text.strip()
    if value.startswith("+"):
        return now + timedelta(seconds=duration_seconds(value[1:], flag))
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        when = None
    if when is None or when.utcoffset() is None:
        raise UsageProblem(f"{flag} {text!r}: give an RFC 3339 time with an offset (2026-03-01T09:00:00Z) or +10m")
    return when
