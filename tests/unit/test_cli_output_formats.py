"""`-o` formats: json/yaml print the API's document, name prints names, tables show kubectl-style ages."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml
from rich.console import Console

from kubetask.cli._errors import UsageProblem
from kubetask.cli._output import Column, Format, age, duration, local_time, parse_format, render

NOW = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
DOC: dict[str, Any] = {
    "items": [
        {"name": "a", "phase": "Succeeded", "createdAt": "2026-12-02T11:55:00Z", "result": {"x": 1}},
        {"name": "b", "phase": "Failed", "createdAt": "2026-12-02T09:00:00Z", "result": None},
    ],
    "nextCursor": None,
}
COLUMNS = (
    Column("NAME", lambda t: t["name"]),
    Column("PHASE", lambda t: t["phase"], styled=True),
    Column("AGE", lambda t: age(datetime.fromisoformat(t["createdAt"]), NOW)),
    Column("RESULT", lambda t: json.dumps(t["result"]), wide=True),
)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (59, "59s"),
        (119, "119s"),
        (120, "2m"),
        (330, "5m30s"),
        (600, "10m"),
        (47 * 60, "47m"),
        (3 * 3600 + 12 * 60, "3h12m"),
        (5 * 3600, "5h"),
        (20 * 3600, "20h"),
        (3 * 86400 + 4 * 3600, "3d4h"),
        (12 * 86400, "12d"),
        (800 * 86400, "2y70d"),
        (None, ""),
    ],
)
def test_durations_read_like_kubectl_ages(seconds: float | None, text: str) -> None:
    assert duration(seconds) == text
    if seconds is not None:
        assert age(NOW - timedelta(seconds=seconds), NOW) == text


def test_a_time_in_the_future_is_age_zero_and_none_is_blank() -> None:
    assert age(NOW + timedelta(minutes=1), NOW) == "0s"
    assert age(None, NOW) == ""


def test_local_time_is_in_the_local_zone_to_the_second() -> None:
    expected = datetime(2026, 12, 2, 11, 55, tzinfo=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    assert local_time("2026-12-02T11:55:00.123Z") == expected
    assert local_time(None) == ""


@pytest.mark.parametrize(
    ("text", "fmt"),
    [
        (None, Format("table")),
        ("wide", Format("wide")),
        ("json", Format("json")),
        ("yaml", Format("yaml")),
        ("name", Format("name")),
        ("jsonpath={.items[*].name}", Format("jsonpath", "{.items[*].name}")),
    ],
)
def test_output_flag_values(text: str | None, fmt: Format) -> None:
    assert parse_format(text) == fmt


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("xml", "-o 'xml': use one of table"),
        ("json=x", "-o 'json=x': use one of"),
        ("jsonpath", "-o jsonpath needs a template"),
        ("jsonpath={..x}", "-o: jsonpath {..x}: recursive descent"),
    ],
)
def test_bad_output_flags_are_usage_errors(text: str, named: str) -> None:
    with pytest.raises(UsageProblem) as e:
        parse_format(text)
    assert e.value.message.startswith(named)


def test_json_and_yaml_print_the_document_as_the_api_sent_it() -> None:
    assert json.loads(str(render(DOC, Format("json"), COLUMNS, many=True))) == DOC
    assert yaml.safe_load(str(render(DOC, Format("yaml"), COLUMNS, many=True))) == DOC
    one = render(DOC["items"][0], Format("json"), COLUMNS, many=False)
    assert json.loads(str(one)) == DOC["items"][0]


def test_datetimes_print_as_iso_8601() -> None:
    out = render({"t": NOW}, Format("json"), (), many=False)
    assert json.loads(str(out)) == {"t": "2026-12-02T12:00:00+00:00"}


def test_name_and_jsonpath_print_from_the_same_document() -> None:
    assert render(DOC, Format("name"), COLUMNS, many=True) == "a\nb\n"
    assert render(DOC, Format("jsonpath", "{.items[*].phase}"), COLUMNS, many=True) == "Succeeded Failed"


def _text(doc: dict[str, Any], kind: str) -> list[list[str]]:
    buf = io.StringIO()
    Console(file=buf, width=200, color_system=None).print(render(doc, Format(kind), COLUMNS, many=True))  # type: ignore[arg-type]
    return [line.split() for line in buf.getvalue().splitlines()]


def test_tables_show_ages_and_wide_adds_its_columns() -> None:
    assert _text(DOC, "table") == [["NAME", "PHASE", "AGE"], ["a", "Succeeded", "5m"], ["b", "Failed", "3h"]]
    assert _text(DOC, "wide")[0] == ["NAME", "PHASE", "AGE", "RESULT"]
    assert _text(DOC, "wide")[1][-2:] == ['{"x":', "1}"]
