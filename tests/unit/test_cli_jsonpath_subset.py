"""`-o jsonpath=`: the supported subset renders as kubectl does; everything else is refused by name."""

from __future__ import annotations

import re

import pytest

from kubetask.cli._jsonpath import JsonPathError, render

DOC = {
    "items": [
        {"name": "a", "n": 1, "ok": True, "labels": {"team.io/x": "z"}, "result": {"k": [1, 2]}},
        {"name": "b", "n": 2, "ok": False, "labels": {}, "result": None},
    ],
    "nextCursor": "c1",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        pytest.param("{.nextCursor}", "c1", id="a field"),
        pytest.param("{.items[0].name}", "a", id="an index"),
        pytest.param("{.items[-1].name}", "b", id="a negative index"),
        pytest.param("{.items[*].name}", "a b", id="every element, space separated"),
        pytest.param("{.items[*].n}", "1 2", id="numbers as JSON"),
        pytest.param("{.items[*].ok}", "true false", id="booleans as JSON"),
        pytest.param("{.items[0].result}", '{"k":[1,2]}', id="a mapping as compact JSON"),
        pytest.param("{.items[1].result}", "null", id="null as null"),
        pytest.param("{.items[0].labels['team.io/x']}", "z", id="a quoted key with dots and slashes"),
        pytest.param("{.items[0].missing}", "", id="a missing key prints nothing"),
        pytest.param("{.items[5].name}", "", id="an index past the end prints nothing"),
        pytest.param("names: {.items[*].name}!", "names: a b!", id="literal text around"),
        pytest.param(r"{.items[0].name}\t{.items[1].name}\n", "a\tb\n", id="escapes in text"),
        pytest.param('{range .items[*]}{.name}={.n}{"\\n"}{end}', "a=1\nb=2\n", id="range with a quoted literal"),
        pytest.param("{range .items[*]}[{range .result.k[*]}{@};{end}]{end}", "[1;2;][]", id="nested ranges and @"),
        pytest.param(".items[1].name", "b", id="no braces: one path, as kubectl"),
        pytest.param("{.items[0].labels[*]}", "z", id="every value of a mapping"),
    ],
)
def test_supported_templates_render_like_kubectl(template: str, expected: str) -> None:
    assert render(template, DOC) == expected


@pytest.mark.parametrize(
    ("template", "named"),
    [
        pytest.param("{.items[?(@.n==1)].name}", "a filter is not supported", id="filter"),
        pytest.param("{.items[0:1]}", "a slice is not supported", id="slice"),
        pytest.param("{.items[0,1]}", "a union is not supported", id="union"),
        pytest.param("{..name}", "recursive descent", id="recursive descent"),
        pytest.param("{range .items[*]}{.name}", "without its {end}", id="range without end"),
        pytest.param("{.name}{end}", "{end} without", id="end without range"),
        pytest.param("{.items", "unclosed {", id="unclosed brace"),
        pytest.param("{name}", "a path starts with `.`", id="no leading dot"),
    ],
)
def test_unsupported_or_broken_templates_are_refused_by_name(template: str, named: str) -> None:
    with pytest.raises(JsonPathError, match=re.escape(named)):
        render(template, DOC)
