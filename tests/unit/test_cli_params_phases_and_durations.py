"""Command-line values: `-p` as YAML scalars over `-f`, `--phase` exclusions, durations, schema checks."""

from __future__ import annotations

import pytest

from kubetask.cli._errors import UsageProblem
from kubetask.cli._params import check_params, duration_seconds, labels_from, params_from
from kubetask.cli._taskview import PHASES, phases_for


@pytest.mark.parametrize(
    ("pair", "value"),
    [
        pytest.param("n=3", 3, id="an integer"),
        pytest.param("x=1.5", 1.5, id="a float"),
        pytest.param("ok=true", True, id="a boolean"),
        pytest.param('s="3"', "3", id="a quoted number stays a string"),
        pytest.param("s=hello world", "hello world", id="plain text"),
        pytest.param("s=", "", id="empty"),
        pytest.param("e=a=b", "a=b", id="later equals signs are the value's"),
        pytest.param("l=[a, 2]", ["a", 2], id="a flow list"),
        pytest.param("m={a: 1}", {"a": 1}, id="a flow mapping"),
        pytest.param("z=null", None, id="null"),
        pytest.param("bad=[unclosed", "[unclosed", id="unreadable YAML stays a string"),
    ],
)
def test_p_values_are_read_as_yaml(pair: str, value: object) -> None:
    assert params_from([pair], None) == {pair.split("=", 1)[0]: value}


def test_p_overrides_the_keys_of_the_file() -> None:
    assert params_from(["b=3"], "a: 1\nb: 2\n") == {"a": 1, "b": 3}
    assert params_from([], '{"a": [1]}') == {"a": [1]}


@pytest.mark.parametrize(
    ("pairs", "text", "named"),
    [
        pytest.param(["novalue"], None, "-p 'novalue': expected KEY=VALUE", id="no equals"),
        pytest.param(["=v"], None, "-p '=v': expected KEY=VALUE", id="no key"),
        pytest.param([], "[1, 2]", "-f: params must be a mapping", id="file not a mapping"),
        pytest.param([], "a: [", "-f: not valid YAML or JSON", id="file not YAML"),
    ],
)
def test_bad_params_name_the_flag(pairs: list[str], text: str | None, named: str) -> None:
    with pytest.raises(UsageProblem, match=named.replace("[", r"\[")):
        params_from(pairs, text)


def test_labels_are_key_value_pairs() -> None:
    assert labels_from(["team=data", "tier=1"]) == {"team": "data", "tier": "1"}
    with pytest.raises(UsageProblem, match="-l 'team': expected KEY=VALUE"):
        labels_from(["team"])


def test_params_breaking_the_schema_name_every_field() -> None:
    schema = {
        "type": "object",
        "required": ["message"],
        "properties": {"times": {"type": "integer"}, "message": {"type": "string"}},
    }
    check_params({"message": "x", "times": 2}, schema, template="echo")
    with pytest.raises(UsageProblem) as e:
        check_params({"times": "2"}, schema, template="echo")
    assert e.value.message == (
        "params do not match the paramSchema of template 'echo': "
        "/params: 'message' is a required property; /params/times: '2' is not of type 'integer'"
    )


@pytest.mark.parametrize(
    ("values", "phases"),
    [
        pytest.param([], [], id="none: every phase"),
        pytest.param(["Failed"], ["Failed"], id="one"),
        pytest.param(["failed", "Succeeded"], ["Failed", "Succeeded"], id="case-insensitive, repeated"),
        pytest.param(["Failed,Cancelled"], ["Failed", "Cancelled"], id="comma separated"),
        pytest.param(["!Failed"], [p for p in PHASES if p != "Failed"], id="an exclusion: every other phase"),
        pytest.param(["Failed", "Succeeded", "!Failed"], ["Succeeded"], id="exclusion wins over inclusion"),
    ],
)
def test_phase_filters_become_the_phases_the_api_lists(values: list[str], phases: list[str]) -> None:
    assert phases_for(values) == phases


def test_bad_phase_filters_are_usage_errors() -> None:
    with pytest.raises(UsageProblem, match="--phase 'Done': use one of Scheduled, Pending"):
        phases_for(["Done"])
    with pytest.raises(UsageProblem, match="leave no phase"):
        phases_for(["Failed", "!Failed"])


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("5m", 300), ("1h30m", 5400), ("2d", 172800), ("1w", 604800), ("1.5h", 5400)]
)
def test_durations(text: str, seconds: float) -> None:
    assert duration_seconds(text, "--since") == seconds


@pytest.mark.parametrize("text", ["", "5", "h", "5 m", "5m3", "-5m", "1y"])
def test_bad_durations_name_the_flag(text: str) -> None:
    with pytest.raises(UsageProblem, match="--since"):
        duration_seconds(text, "--since")
