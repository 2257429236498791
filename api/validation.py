"""Checks of names and labels as Kubernetes would apply them, so bad input fails before any write."""

from __future__ import annotations

import re

from kubetask.labels import MAX_LABEL_VALUE

from .problems import FieldProblem, invalid

_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_NAME_RULE = "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
_LABEL_RULE = f"≤ {MAX_LABEL_VALUE} characters, alphanumeric, '-', '_', '.'"  # a key's name part and a value alike


def name_problems(value: str, pointer: str, *, max_len: int = 253) -> list[FieldProblem]:
    """A DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending alphanumeric."""
    if len(value) > max_len:
        return [FieldProblem(pointer, f"must be at most {max_len} characters (got {len(value)})")]
    if not _DNS_SUBDOMAIN.match(value):
        return [FieldProblem(pointer, f"{value!r} is not a valid name: {_NAME_RULE}")]
    return []


def namespace_problems(value: str) -> list[FieldProblem]:
    if len(value) > 63 or not _DNS_LABEL.match(value):
        return [FieldProblem("path:ns", f"{value!r} is not a valid namespace name (DNS-1123 label, ≤ 63)")]
    return []


def check_namespace(ns: str) -> None:
    """Raise the 422 of a namespace name Kubernetes would refuse (before any call is made)."""
    bad = namespace_problems(ns)
    if bad:
        raise invalid(bad[0].message, bad)


def label_problems(labels: dict[str, str], pointer: str = "/labels") -> list[FieldProblem]:
    out = []
    for key, value in labels.items():
        where = f"{pointer}/{key.replace('~', '~0').replace('/', '~1')}"
        prefix, _, name = key.rpartition("/")
        if prefix and (len(prefix) > 253 or not _DNS_SUBDOMAIN.match(prefix)):
            out.append(FieldProblem(where, f"label key prefix {prefix!r} must be a DNS subdomain"))
        if not name or len(name) > MAX_LABEL_VALUE or not _LABEL_NAME.match(name):
            out.append(FieldProblem(where, f"label key {key!r} is invalid: {_LABEL_RULE}"))
        if value and (len(value) > MAX_LABEL_VALUE or not _LABEL_NAME.match(value)):
            out.append(FieldProblem(where, f"label value {value!r} is invalid: {_LABEL_RULE}"))
    return out
