"""Kubernetes label selectors, parsed into requirements (pure): `a=b,c!=d,e in (x,y),f notin (z),g,!h`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

Op = Literal["=", "!=", "in", "notin", "exists", "!exists"]
_KEY = r"(?:[a-z0-9A-Z.\-]+/)?[a-zA-Z0-9](?:[a-zA-Z0-9_.\-]*[a-zA-Z0-9])?"
_VALUE = r"(?:[a-zA-Z0-9](?:[a-zA-Z0-9_.\-]*[a-zA-Z0-9])?)?"
_SET = re.compile(rf"^\s*({_KEY})\s+(in|notin)\s+\(([^)]*)\)\s*$")
_EQ = re.compile(rf"^\s*({_KEY})\s*(==|=|!=)\s*({_VALUE})\s*$")
_EXISTS = re.compile(rf"^\s*(!?)\s*({_KEY})\s*$")
_VALUE_RE = re.compile(rf"^{_VALUE}$")


class SelectorError(ValueError):
    """The selector text is not a valid label selector."""


# Kubernetes' limits: a key's name and a value at most 63 characters, a key's prefix (a DNS subdomain) 253
NAME_MAX, PREFIX_MAX = 63, 253


def _check_lengths(term: str, key: str, values: tuple[str, ...]) -> None:
    prefix, _, name = key.rpartition("/")
    if len(name) > NAME_MAX or len(prefix) > PREFIX_MAX:
        raise SelectorError(
            f"label selector term {term.strip()!r}: a key is at most {PREFIX_MAX} characters of prefix, '/', "
            f"and {NAME_MAX} of name"
        )
    if any(len(v) > NAME_MAX for v in values):
        raise SelectorError(f"label selector term {term.strip()!r}: a value is at most {NAME_MAX} characters")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: Op
    values: tuple[str, ...] = ()


def _split(text: str) -> list[str]:
    """Split on commas that are not inside parentheses."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def parse(text: str) -> list[Requirement]:
    """The requirements of `text`; raises SelectorError naming the bad term."""
    out: list[Requirement] = []
    if not text.strip():
        return out
    for term in _split(text):
        if m := _SET.match(term):
            values = tuple(v.strip() for v in m.group(3).split(",") if v.strip())
            bad = [v for v in values if not _VALUE_RE.match(v)]
            if not values or bad:
                raise SelectorError(f"invalid values in label selector term {term.strip()!r}")
            _check_lengths(term, m.group(1), values)
            out.append(Requirement(m.group(1), m.group(2), values))  # type: ignore[arg-type]
        elif m := _EQ.match(term):
            op: Op = "!=" if m.group(2) == "!=" else "="
            _check_lengths(term, m.group(1), (m.group(3),))
            out.append(Requirement(m.group(1), op, (m.group(3),)))
        elif m := _EXISTS.match(term):
            _check_lengths(term, m.group(2), ())
            out.append(Requirement(m.group(2), "!exists" if m.group(1) else "exists"))
        else:
            raise SelectorError(
                f"invalid label selector term {term.strip()!r}: use key=value, key!=value, "
                "key in (a,b), key notin (a,b), key or !key (the > and < of node selectors are not supported)"
            )
    return out


def matches(reqs: list[Requirement], labels: dict[str, str]) -> bool:
    """Whether `labels` satisfy every requirement (the reference for the SQL translation)."""
    for r in reqs:
        v = labels.get(r.key)
        ok = {
            "=": v == r.values[0] if r.values else False,
            "!=": v != r.values[0] if r.values else True,
            "in": v in r.values,
            "notin": v not in r.values,
            "exists": v is not None,
            "!exists": v is None,
        }[r.op]
        if not ok:
            return False
    return True
