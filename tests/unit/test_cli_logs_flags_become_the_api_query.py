"""`kubetask logs` flags as the API's query: `-f` follows, `--tail` lines, `--since` a duration in
whole seconds, at least one (the API's least)."""

from __future__ import annotations

import pytest

from kubetask.cli._errors import UsageProblem
from kubetask.cli.logs import query


def test_the_cli_flags_become_the_api_query() -> None:
    assert query(follow=False, tail=None, since=None) == {}
    assert query(follow=True, tail=3, since="1m30s") == {"follow": "true", "tail": 3, "sinceSeconds": 90}
    assert query(follow=False, tail=None, since="0.2s") == {"sinceSeconds": 1}  # the API's least
    with pytest.raises(UsageProblem):
        query(follow=False, tail=None, since="soon")
