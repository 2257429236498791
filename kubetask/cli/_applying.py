"""`apply -f` for every kind (`templates apply`, `schedules apply`): read the file, check every
document first (so a bad one sends nothing), then apply them in file order and print kubectl's
`KIND/NAME created|configured|unchanged` per document (or the applied objects with `-o`).

A document's `metadata.namespace` wins over the context's; one that contradicts an explicit `-n`
is a usage error, as with kubectl. The first document the API refuses stops the run (those
before it stay applied).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import typer

from ._client import Api
from ._errors import ApiError, UsageProblem
from ._manifests import Manifest, ManifestError
from ._output import Column, emit, parse_format


def read_file(path: str) -> tuple[str, str]:
    """(text, where it came from) of `-f PATH`, `-` being stdin."""
    if path == "-":
        return sys.stdin.read(), "stdin"
    try:
        return Path(path).read_text(), path
    except OSError as e:
        raise UsageProblem(f"-f {path}: cannot read it: {e.strerror or e}") from e


def get_or_none(api: Api, resource: str, name: str, ns: str) -> dict[str, Any] | None:
    """The object, or None when the API answers 404."""
    try:
        found: dict[str, Any] = api.call("GET", api.ns(resource, name, namespace=ns))
    except ApiError as e:
        if e.status == 404:
            return None
        raise
    return found


def send(
    api: Api, resource: str, verb: str, body: dict[str, Any], ns: str, current: dict[str, Any] | None
) -> dict[str, Any]:
    """The object after `verb` (as `apply_verb` chose it): POSTed when created, PUT when
    configured, `current` as it is when unchanged."""
    if verb == "created":
        created: dict[str, Any] = api.call("POST", api.ns(resource, namespace=ns), json=body)
        return created
    if verb == "configured":
        replaced: dict[str, Any] = api.call("PUT", api.ns(resource, body["name"], namespace=ns), json=body)
        return replaced
    assert current is not None, "unchanged implies it exists"
    return current


def apply_file(
    api: Api,
    filename: str,
    *,
    namespace: str | None,
    output: str | None,
    parse: Callable[[str, str], Sequence[Manifest]],
    apply_one: Callable[[Api, Manifest, str], tuple[str, dict[str, Any]]],
    kind: str,
    columns: Sequence[Column],
) -> None:
    """The whole `apply -f` of one kind (module docstring); `kind` as kubectl prints it."""
    fmt = parse_format(output) if output else None
    text, source = read_file(filename)
    try:
        manifests = parse(text, source)
    except ManifestError as e:
        raise UsageProblem(f"-f {e}") from e
    for m in manifests:
        if namespace and m.namespace and m.namespace != namespace:
            raise UsageProblem(f"{m.where} ({m.name}): metadata.namespace {m.namespace!r} contradicts -n {namespace!r}")
    applied = []
    for m in manifests:
        verb, obj = apply_one(api, m, m.namespace or api.namespace)
        applied.append(obj)
        if fmt is None:
            typer.echo(f"{kind}/{m.name} {verb}")
    if fmt is not None:
        emit({"items": applied}, fmt, columns, many=True)
