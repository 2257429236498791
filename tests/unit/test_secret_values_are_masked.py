"""The masking rule of secret values (kubetask.executor.redaction): what is masked, in which forms,
what is too short, and a stream read in pieces masking exactly as the whole text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubetask.executor.redaction import (
    MASK,
    MIN_CHARS,
    SECRET_ENV,
    Redactor,
    encode_names,
    forms,
    redact,
    redact_json,
    secret_names,
    secret_values,
)


@pytest.mark.parametrize(
    ("text", "values", "masked"),
    [
        pytest.param("token=hunter22!", {"hunter22"}, "token=[redacted]!", id="one-occurrence"),
        pytest.param("a hunter22 b hunter22", {"hunter22"}, "a [redacted] b [redacted]", id="every-occurrence"),
        pytest.param("abcdefg", {"abcd", "cdef"}, "[redacted]g", id="overlapping-values-are-one-mask"),
        pytest.param("xabcdefx", {"abcd", "abcdef"}, "x[redacted]x", id="a-prefix-of-another-masks-the-longer"),
        pytest.param("xabcdx", {"abcd", "abcdef"}, "x[redacted]x", id="the-prefix-alone"),
        pytest.param("abcdabcd", {"abcd"}, "[redacted][redacted]", id="touching-occurrences-stay-two"),
        pytest.param("aaaaaa", {"aaaa"}, "[redacted]", id="a-value-overlapping-itself"),
        pytest.param("key:\n-----A\nB-----\nend", {"-----A\nB-----"}, "key:\n[redacted]\nend", id="multi-line-value"),
        pytest.param("nothing here", {"secret"}, "nothing here", id="absent"),
        pytest.param("", {"secret"}, "", id="empty-text"),
        pytest.param("text", set(), "text", id="no-values"),
    ],
)
def test_every_character_of_an_occurrence_is_masked(text: str, values: set[str], masked: str) -> None:
    assert redact(text, values) == masked


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("", set(), id="empty-is-ignored"),
        pytest.param("abc", set(), id="under-the-minimum"),
        pytest.param("   ", set(), id="whitespace-only"),
        pytest.param("abcd", {"abcd"}, id="at-the-minimum"),
        pytest.param("pass\n", {"pass\n", "pass", "pass\\n"}, id="a-file-s-trailing-newline"),
        pytest.param('a"b\nc', {'a"b\nc', 'a\\"b\\nc', 'a"b\\nc'}, id="json-and-repr-escapes"),
        pytest.param("clé1", {"clé1", "cl\\u00e91"}, id="non-ascii-escaped-in-json"),
    ],
)
def test_the_forms_of_a_value(value: str, expected: set[str]) -> None:
    assert forms(value) == expected
    assert all(len(f) >= MIN_CHARS for f in forms(value))


def test_the_values_are_read_from_the_variables_the_operator_names() -> None:
    env = {SECRET_ENV: encode_names(["A", "B", "GONE", "SHORT"]), "A": "alpha-1", "B": "beta-22", "SHORT": "ab"}
    assert secret_names(env) == ["A", "B", "GONE", "SHORT"]
    assert secret_values(env) == {"alpha-1", "beta-22"}
    assert secret_values({"A": "alpha-1"}) == frozenset()  # not named: not a secret
    assert secret_names({SECRET_ENV: " A, ,B "}) == ["A", "B"]


def test_strings_of_a_json_value_are_masked_keys_too() -> None:
    value = {"token-abcd": ["abcd", 1, None, {"k": "x abcd y"}], "n": 5}
    assert redact_json(value, {"abcd"}) == {f"token-{MASK}": [MASK, 1, None, {"k": f"x {MASK} y"}], "n": 5}


def _streamed(text: str, cuts: list[int], values: set[str]) -> str:
    r, out, at = Redactor(values), [], 0
    for c in sorted(cuts):
        out.append(r.feed(text[at:c]))
        at = c
    out.append(r.feed(text[at:]))
    return "".join(out) + r.flush()


def test_a_value_written_in_two_pieces_is_held_back_until_it_is_whole() -> None:
    r = Redactor({"hunter22"})
    assert r.feed("pw: hun") == "pw: "  # `hun` may be the start of the value
    assert r.feed("ter22 ok\n") == "[redacted] ok\n"
    assert r.feed("hunt") == ""
    assert r.feed("ing season") == "hunting season"
    assert r.flush() == ""


def test_the_held_back_start_is_given_at_the_end() -> None:
    r = Redactor({"hunter22"})
    assert r.feed("last: hunt") == "last: "
    assert r.flush() == "hunt"


def test_a_held_back_run_is_bounded() -> None:
    r = Redactor({"aaaa"})
    given_on = r.feed("a" * 70_000)  # one endless run of occurrences: what it covers is given on masked
    assert given_on == MASK and r.flush() == ""


_ALPHABET = "ab\n"
_values = st.sets(st.text(_ALPHABET, min_size=1, max_size=6), max_size=3)


@given(text=st.text(_ALPHABET, max_size=40), cuts=st.lists(st.integers(0, 40), max_size=6), values=_values)
def test_a_stream_in_any_pieces_masks_as_the_whole_text(text: str, cuts: list[int], values: set[str]) -> None:
    cuts = [min(c, len(text)) for c in cuts]
    assert _streamed(text, cuts, values) == redact(text, values)


@given(text=st.text(_ALPHABET, max_size=40), values=_values)
def test_no_value_is_left_in_the_masked_text(text: str, values: set[str]) -> None:
    out = redact(text, values)
    for v in values:  # nor across a mask's edge: a value never re-forms from what is left
        assert v not in out.replace(MASK, "\0")
