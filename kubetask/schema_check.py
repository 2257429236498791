"""Checks of params and results against a template's JSON Schemas (Draft 2020-12).

Validation is complete: every error is collected with its JSON pointer, so the user fixes all
of them in one go (the API answers with one entry per error, the CR condition lists them all).
"""

from __future__ import annotations

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


def validate(instance: Any, schema: dict[str, Any] | None) -> list[FieldError]:
    """Every way `instance` breaks `schema`, sorted by pointer; [] when valid or without schema."""
    if schema is None:
        return []
    bad = schema_errors(schema)
    if bad:
        return [FieldError(e.pointer, f"the schema itself is invalid: {e.message}") for e in bad]
    validator = Draft202012Validator(schema)
    errors = [FieldError(_pointer(e.absolute_path), e.message) for e in validator.iter_errors(instance)]
    return sorted(errors, key=lambda e: (e.pointer, e.message))


def summarize(errors: list[FieldError], *, limit: int = 10) -> str:
    """One message naming every failing field (the first `limit` of them)."""
    text = "; ".join(str(e) for e in errors[:limit])
    if len(errors) > limit:
        text += f"; and {len(errors) - limit} more"
    return text
