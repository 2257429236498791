"""Params and results are checked against JSON Schema 2020-12, with every error and its pointer."""

from __future__ import annotations

import pytest

from kubetask.schema_check import FieldError, schema_errors, summarize, validate

SCHEMA = {
    "type": "object",
    "required": ["to"],
    "properties": {
        "to": {"type": "string", "format": "email"},
        "retries": {"type": "integer", "maximum": 3},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        pytest.param({"to": "a@b.c"}, [], id="valid"),
        pytest.param({}, [FieldError("", "'to' is a required property")], id="missing required"),
        pytest.param(
            {"to": "x", "retries": 9},
            [FieldError("/retries", "9 is greater than the maximum of 3")],
            id="over maximum",
        ),
        pytest.param(
            {"to": "x", "tags": ["a", 2]},
            [FieldError("/tags/1", "2 is not of type 'string'")],
            id="nested pointer",
        ),
        pytest.param(
            {"to": 1, "extra": True},
            [
                FieldError("", "Additional properties are not allowed ('extra' was unexpected)"),
                FieldError("/to", "1 is not of type 'string'"),
            ],
            id="all errors at once",
        ),
    ],
)
def test_params_errors_name_each_field(params: object, expected: list[FieldError]) -> None:
    assert validate(params, SCHEMA) == expected


def test_no_schema_accepts_anything() -> None:
    assert validate({"anything": [1, 2]}, None) == []


def test_pointer_escapes_slash_and_tilde() -> None:
    schema = {"type": "object", "properties": {"a/b~c": {"type": "integer"}}}
    assert validate({"a/b~c": "x"}, schema) == [FieldError("/a~1b~0c", "'x' is not of type 'integer'")]


def test_invalid_schema_is_reported_as_such() -> None:
    assert schema_errors({"type": "nope"})
    assert "the schema itself is invalid" in validate({}, {"type": "nope"})[0].message


def test_summary_lists_fields_and_counts_the_rest() -> None:
    errors = [FieldError(f"/f{i}", "bad") for i in range(12)]
    text = summarize(errors, limit=2)
    assert text == "/f0: bad; /f1: bad; and 10 more"


def test_a_schema_seen_before_validates_the_same_whatever_its_key_order() -> None:
    reordered = {k: SCHEMA[k] for k in reversed(list(SCHEMA))}
    for schema in (SCHEMA, reordered, SCHEMA):
        assert validate({"to": "x", "retries": 9}, schema) == [
            FieldError("/retries", "9 is greater than the maximum of 3")
        ]


def test_schemas_kept_checked_are_not_mistaken_for_each_other() -> None:
    at_most_3 = {"type": "integer", "maximum": 3}
    at_most_5 = {"type": "integer", "maximum": 5}
    assert validate(4, at_most_3) == [FieldError("", "4 is greater than the maximum of 3")]
    assert validate(4, at_most_5) == []
    assert validate(4, at_most_3) != []


def test_an_invalid_schema_is_reported_every_time_it_is_used() -> None:
    for _ in range(2):
        errors = validate({}, {"type": "nope"})
        assert len(errors) == 1 and "the schema itself is invalid" in errors[0].message
