"""Checks of params and results against a template's JSON Schemas (Draft 2020-12).

Validation is complete: every error is collected with its JSON pointer, so the user fixes all
of them in one go (the API answers with one entry per error, the CR condition lists them all).

`validate` keeps the checked validator of each schema it has seen (by the schema's canonical JSON,
at most `_CACHED` of them): checking a schema against the Draft 2020-12 meta-schema costs more than
validating a small document, and the operator validates the same template's params for every Task
and every schedule pass (bench/README.md, figure 7). A validator is read-only once built, so the
threads that call `validate` share it.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError


@dataclass(frozen=True)
class FieldError:
    """One problem: where (a JSON pointer into the checked document) and what."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


def _pointer(path: Any) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def schema_errors(schema: Any) -> list[FieldError]:
    """Problems that make `schema` itself an invalid Draft 2020-12 JSON Schema."""
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as e:
        return [FieldError(_pointer(e.absolute_path), e.message)]
    return []


_CACHED = 256  # distinct schemas kept checked: a cluster has one per TaskTemplate version in use


@functools.lru_cache(maxsize=_CACHED)
def _checked(schema_json: str) -> Draft202012Validator | tuple[FieldError, ...]:
    """The validator of the schema written as `schema_json`, or the problems of an invalid schema."""
    schema = json.loads(schema_json)
    bad = schema_errors(schema)
    if bad:
        return tuple(FieldError(e.pointer, f"the schema itself is invalid: {e.message}") for e in bad)
    return Draft202012Validator(schema)


def validate(instance: Any, schema: dict[str, Any] | None) -> list[FieldError]:
    """Every way `instance` breaks `schema`, sorted by pointer; [] when valid or without schema."""
    if schema is None:
        return []
    validator = _checked(json.dumps(schema, sort_keys=True, separators=(",", ":")))
    if isinstance(validator, tuple):
        return list(validator)
    errors = [FieldError(_pointer(e.absolute_path), e.message) for e in validator.iter_errors(instance)]
    return sorted(errors, key=lambda e: (e.pointer, e.message))


def summarize(errors: list[FieldError], *, limit: int = 10) -> str:
    """One message naming every failing field (the first `limit` of them)."""
    text = "; ".join(str(e) for e in errors[:limit])
    if len(errors) > limit:
        text += f"; and {len(errors) - limit} more"
    return text
