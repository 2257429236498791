"""`kubetask result -o json|yaml|raw`: the result's JSON text as a document, or its bytes as sent."""

from __future__ import annotations

import pytest

from kubetask.cli._errors import ApiError, UsageProblem
from kubetask.cli.result import parse_output, rendered

BODY = '{"b":[1,2],"a":"é"}'.encode()


@pytest.mark.parametrize(
    ("kind", "printed"),
    [
        ("json", '{\n  "b": [\n    1,\n    2\n  ],\n  "a": "é"\n}\n'.encode()),
        ("yaml", "b:\n- 1\n- 2\na: é\n".encode()),
        ("raw", BODY),
    ],
)
def test_each_format_prints_the_result(kind: str, printed: bytes) -> None:
    assert rendered(BODY, kind) == printed


def test_json_is_the_default_and_other_formats_are_usage_errors() -> None:
    assert parse_output(None) == "json"
    with pytest.raises(UsageProblem, match="use one of json, yaml, raw"):
        parse_output("table")


def test_a_body_that_is_not_json_is_an_api_error_unless_raw() -> None:
    with pytest.raises(ApiError, match="not JSON"):
        rendered(b"<html>", "json")
    assert rendered(b"<html>", "raw") == b"<html>"
