"""Label selectors: what `parse` makes of the text and which label sets `matches` admits, written by hand.

The store's listing tests used to compute their expected side with this very parser, so a parser that
read `notin` as `in` or `!key` as `key` agreed with itself. The semantics follow Kubernetes'
`labels.Parse`: `!=` and `notin` also match objects that lack the key; `in` and `=` require it.
"""

from __future__ import annotations

import pytest

from kubetask.selectors import Requirement, SelectorError, matches, parse


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("", [], id="empty"),
        pytest.param("   ", [], id="blank"),
        pytest.param("team=data", [Requirement("team", "=", ("data",))], id="equals"),
        pytest.param("team==data", [Requirement("team", "=", ("data",))], id="double-equals"),
        pytest.param("team!=data", [Requirement("team", "!=", ("data",))], id="not-equals"),
        pytest.param("team=", [Requirement("team", "=", ("",))], id="equals-empty-value"),
        pytest.param("tier in (gold,silver)", [Requirement("tier", "in", ("gold", "silver"))], id="in"),
        pytest.param("tier notin (gold)", [Requirement("tier", "notin", ("gold",))], id="notin"),
        pytest.param("tier", [Requirement("tier", "exists")], id="exists"),
        pytest.param("!tier", [Requirement("tier", "!exists")], id="not-exists"),
        pytest.param("! tier", [Requirement("tier", "!exists")], id="not-exists-spaced"),
        pytest.param(
            "kubetask.io/team=data,app.kubernetes.io/name!=web",
            [Requirement("kubetask.io/team", "=", ("data",)), Requirement("app.kubernetes.io/name", "!=", ("web",))],
            id="prefixed-keys",
        ),
        pytest.param(
            "a=b,c!=d,e in (x,y),f notin (z),g,!h",
            [
                Requirement("a", "=", ("b",)),
                Requirement("c", "!=", ("d",)),
                Requirement("e", "in", ("x", "y")),
                Requirement("f", "notin", ("z",)),
                Requirement("g", "exists"),
                Requirement("h", "!exists"),
            ],
            id="every-operator-combined",
        ),
        pytest.param(
            "  team = data ,  tier in ( gold , silver ) , !  legacy  ",
            [
                Requirement("team", "=", ("data",)),
                Requirement("tier", "in", ("gold", "silver")),
                Requirement("legacy", "!exists"),
            ],
            id="whitespace-everywhere",
        ),
        pytest.param("v in (1.0,2_b,x-y)", [Requirement("v", "in", ("1.0", "2_b", "x-y"))], id="value-characters"),
    ],
)
def test_parse_reads_each_operator(text: str, expected: list[Requirement]) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        pytest.param("a in ()", "'a in ()'", id="in-without-values"),
        pytest.param("a notin (x,-bad)", "'a notin (x,-bad)'", id="bad-value-in-set"),
        pytest.param("=data", "'=data'", id="no-key"),
        pytest.param("a=b=c", "'a=b=c'", id="two-equals"),
        pytest.param("a in (x", "'a in (x'", id="unclosed-parenthesis"),
        pytest.param("a=b,,c", "''", id="empty-term"),
        pytest.param("a=b,", "''", id="trailing-comma"),
        pytest.param("!a=b", "'!a=b'", id="negated-equality"),
        pytest.param("a>1", "'a>1'", id="greater-than-unsupported"),
        pytest.param("-a=b", "'-a=b'", id="key-starting-with-dash"),
        pytest.param("a=with space", "'a=with space'", id="space-in-value"),
        pytest.param("a=" + "v" * 64, "at most 63", id="value-over-63"),
        pytest.param("a in (x," + "v" * 64 + ")", "at most 63", id="set-value-over-63"),
        pytest.param("k" * 64, "at most 253 characters of prefix", id="key-name-over-63"),
        pytest.param("p" * 254 + "/k=v", "at most 253 characters of prefix", id="key-prefix-over-253"),
    ],
)
def test_invalid_selectors_are_refused_naming_the_bad_term(text: str, names: str) -> None:
    with pytest.raises(SelectorError) as e:
        parse(text)
    assert names in str(e.value)


def test_keys_and_values_at_kubernetes_limits_are_accepted() -> None:
    key = "p" * 253 + "/" + "k" * 63
    assert parse(f"{key}={'v' * 63}") == [Requirement(key, "=", ("v" * 63,))]


def test_an_unknown_operator_is_explained() -> None:
    with pytest.raises(SelectorError, match=r"use key=value, key!=value, key in \(a,b\), key notin \(a,b\)"):
        parse("a ~ b")


LABELS = {
    "gold-data": {"team": "data", "tier": "gold"},
    "silver-data": {"team": "data", "tier": "silver"},
    "web": {"team": "web"},
    "ops-legacy": {"team": "ops", "legacy": "true"},
    "bare": {},
}


@pytest.mark.parametrize(
    ("reqs", "admitted"),
    [
        pytest.param([Requirement("team", "=", ("data",))], {"gold-data", "silver-data"}, id="equals"),
        pytest.param([Requirement("team", "!=", ("data",))], {"web", "ops-legacy", "bare"}, id="not-equals-or-absent"),
        pytest.param([Requirement("tier", "in", ("gold", "bronze"))], {"gold-data"}, id="in"),
        pytest.param(
            [Requirement("tier", "notin", ("gold",))],
            {"silver-data", "web", "ops-legacy", "bare"},
            id="notin-or-absent",
        ),
        pytest.param([Requirement("tier", "exists")], {"gold-data", "silver-data"}, id="exists"),
        pytest.param([Requirement("tier", "!exists")], {"web", "ops-legacy", "bare"}, id="not-exists"),
        pytest.param(
            [Requirement("team", "notin", ("web",)), Requirement("tier", "!exists")], {"ops-legacy", "bare"}, id="and"
        ),
        pytest.param([], set(LABELS), id="no-requirement-admits-all"),
    ],
)
def test_matches_admits_exactly_these_label_sets(reqs: list[Requirement], admitted: set[str]) -> None:
    assert {name for name, labels in LABELS.items() if matches(reqs, labels)} == admitted


@pytest.mark.parametrize(
    ("text", "admitted"),
    [
        pytest.param("team notin (web),!tier", {"ops-legacy", "bare"}, id="notin-and-not-exists"),
        pytest.param("team in (data,ops),legacy", {"ops-legacy"}, id="in-and-exists"),
        pytest.param("team==data,tier!=gold", {"silver-data"}, id="double-equals-and-not-equals"),
    ],
)
def test_selector_text_admits_exactly_these_label_sets(text: str, admitted: set[str]) -> None:
    assert {name for name, labels in LABELS.items() if matches(parse(text), labels)} == admitted
