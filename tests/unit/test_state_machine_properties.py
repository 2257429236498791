"""Properties of decide() over arbitrary observations: final phases absorb, decisions are stable."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kubetask.models import Task
from kubetask.reconcile import decide, is_final, record_attempt
from tests.unit.builders import NOW, make_task, observed
from tests.unit.strategies import jobs, json_values


def _started() -> Task:
    t = make_task()
    st_ = record_attempt(decide(observed(t)).status, number=1, job="t-1", now=NOW, gen=1)
    return make_task(status=st_.to_wire())


@settings(max_examples=200, deadline=None)
@given(first=jobs, later=st.lists(jobs, max_size=3), minutes=st.integers(0, 120))
def test_final_phases_are_absorbing(first, later, minutes) -> None:
    d = decide(observed(_started(), first))
    if not is_final(d.status.phase):
        return
    for j in later:
        again = decide(observed(make_task(status=d.status.to_wire()), j, now=NOW + timedelta(minutes=minutes)))
        assert again.status == d.status and again.events == () and again.create_attempt is None


@settings(max_examples=200, deadline=None)
@given(j=jobs)
def test_applying_a_decision_twice_changes_nothing(j) -> None:
    d1 = decide(observed(_started(), j))
    d2 = decide(observed(make_task(status=d1.status.to_wire()), j))
    assert d2.status == d1.status and d2.events == () and d2.create_attempt is None


@settings(max_examples=100, deadline=None)
@given(params=json_values)
def test_status_and_spec_round_trip_through_the_wire_form(params) -> None:
    t = make_task(templateRef={"name": "tpl"}, params=params)
    assert Task.model_validate(t.to_wire()) == t
