"""Checks of names and labels as Kubernetes would apply them, so bad input fails before any write.

The one home of the name rules: the checks below and the OpenAPI document's patterns and lengths
(path parameters in `deps`, body fields in `bodies`) use these constants. A Task name is a full
DNS-1123 subdomain of up to 253 characters, as for any custom resource: nothing derived from it is
capped lower, because `jobs.job_name` shortens `<task>-<attempt>` with a hash past the 63 characters
of a Job name (a label value) and `labels.label_value` trims the task label.
"""

from __future__ import annotations

import re

from pydantic_core import PydanticCustomError

from kubetask.labels import MAX_LABEL_VALUE

from .problems import FieldProblem, invalid

DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"  # a namespace name
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"  # a Task or TaskTemplate name
MAX_NAMESPACE = 63
MAX_NAME = 253
MAX_GENERATE_NAME = 200  # room for the random suffix the apiserver adds
_LABEL_PART = r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?"  # a label value or a key's name part, <= 63
LABEL_KEY = rf"^({DNS_SUBDOMAIN[1:-1]}/)?{_LABEL_PART}$"  # the prefix's 253 characters go unsaid in the schema
LABEL_VALUE = rf"^({_LABEL_PART})?$"
# RFC 3339 with its offset, as JSON Schema's `date-time`; pydantic alone would also take a date,
# a number of seconds or a time without offset, none of which the OpenAPI document allows.
_DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$")
_DNS_LABEL = re.compile(DNS_LABEL)
_DNS_SUBDOMAIN = re.compile(DNS_SUBDOMAIN)
_LABEL_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$")
_NAME_RULE = "use lowercase letters, digits, '-' and '.', starting and ending with a letter or digit"
_LABEL_RULE = f"≤ {MAX_LABEL_VALUE} characters, alphanumeric, '-', '_', '.'"  # a key's name part and a value alike


def name_problems(value: str, pointer: str, *, max_len: int = MAX_NAME) -> list[FieldProblem]:
    """A DNS-1123 subdomain: lowercase letters, digits, '-' and '.', starting and ending alphanumeric."""
    if len(value) > max_len:
        return [FieldProblem(pointer, f"must be at most {max_len} characters (got {len(value)})")]
    if not _DNS_SUBDOMAIN.match(value):
        return [FieldProblem(pointer, f"{value!r} is not a valid name: {_NAME_RULE}")]
    return []


def namespace_problems(value: str, pointer: str = "path:ns") -> list[FieldProblem]:
    if len(value) > MAX_NAMESPACE or not _DNS_LABEL.match(value):
        return [FieldProblem(pointer, f"{value!r} is not a valid namespace name (DNS-1123 label, ≤ 63)")]
    return []


def check_namespace(ns: str, pointer: str = "path:ns") -> None:
    """Raise the 422 of a namespace name Kubernetes would refuse (before any call is made)."""
    bad = namespace_problems(ns, pointer)
    if bad:
        raise invalid(bad[0].message, bad)


def valid_namespace(value: str) -> str:
    """A pydantic validator of a namespace parameter: FastAPI reports its message with the others."""
    bad = namespace_problems(value)
    if bad:
        raise PydanticCustomError("namespace", "{why}", {"why": bad[0].message})
    return value


def valid_name(value: str) -> str:
    """A pydantic validator of a Task or TaskTemplate name parameter."""
    bad = name_problems(value, "")
    if bad:
        raise PydanticCustomError("name", "{why}", {"why": bad[0].message})
    return value


def valid_date_time(value: object) -> object:
    """A pydantic validator run before a date-time parameter is parsed: RFC 3339 with an offset."""
    if isinstance(value, str) and not _DATE_TIME.match(value):
        why = f"{value!r} is not a date-time: give one with a timezone, e.g. 2026-01-02T03:04:05Z"
        raise PydanticCustomError("date_time", "{why}", {"why": why})
    return value


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
