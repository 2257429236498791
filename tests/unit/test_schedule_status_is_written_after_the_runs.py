"""The deferred status write of a schedule pass (`ScheduleController._perform` / `wake`): a pass that
creates runs leaves its status write to a wake-up right after, so every schedule due at the same
instant gets its run before anyone's status PATCH; that write is made once. A crash (or a failed
write) between creating the runs and writing the status loses no instant and creates none twice:
the next pass finds the runs (a new process by its seeding LIST) and writes the mark they stand for.

The apiserver is `MemoryApiserver`, an in-memory one of the calls the controller makes (names unique
per namespace: a second create of a name is refused, as the apiserver's 409), because the point is to
stop the process on cue between two of its calls; the same paths on the real apiserver are covered by
the integration tests of schedules.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from kubetask.kubeapi import Body
from kubetask.labels import LABEL_SCHEDULE, label_value
from kubetask.models import TaskScheduleStatus, TaskTemplateSpec
from kubetask.operator.schedules import ScheduleController
from kubetask.reconcile import Event

CREATED = datetime(2026, 12, 1, 11, 59, 0, tzinfo=UTC)
INSTANT = datetime(2026, 12, 1, 12, 0, 0, tzinfo=UTC)  # the first instant of `* * * * *` after CREATED
TEMPLATE = TaskTemplateSpec.model_validate({"image": "busybox", "paramSchema": {"type": "object"}})


class StatusWriteFailed(RuntimeError):
    """The status PATCH failed (an apiserver error, a timeout)."""


class MemoryApiserver:
    """TaskSchedules and Tasks of one namespace in memory, with resourceVersions; every write logged."""

    def __init__(self) -> None:
        self.version = 1
        self.schedules: dict[str, Body] = {}
        self.tasks: dict[str, Body] = {}
        self.calls: list[tuple[str, str]] = []  # ("create" | "exists" | "status", name), in order
        self.fail_status_writes = 0  # how many of the next status writes fail
        self.lists = 0  # LISTs of run Tasks
        self.events: list[Event] = []

    def _bump(self, body: Body) -> Body:
        self.version += 1
        body["metadata"]["resourceVersion"] = str(self.version)
        return body

    def add_schedule(self, name: str) -> None:
        meta = {"namespace": "ns", "name": name, "uid": f"uid-{name}", "generation": 1}
        body = {
            "apiVersion": "kubetask.io/v1alpha1",
            "kind": "TaskSchedule",
            "metadata": {**meta, "creationTimestamp": CREATED.isoformat().replace("+00:00", "Z")},
            "spec": {"schedule": "* * * * *", "task": {"templateRef": {"name": "t"}, "params": {}}},
        }
        self.schedules[name] = self._bump(body)

    def status(self, name: str) -> TaskScheduleStatus:
        return TaskScheduleStatus.model_validate(self.schedules[name].get("status") or {})

    def runs_of(self, schedule: str) -> list[str]:
        label = label_value(schedule)
        return sorted(n for n, b in self.tasks.items() if b["metadata"]["labels"].get(LABEL_SCHEDULE) == label)

    # -- the calls of SchedulesApi ----------------------------------------------------------------

    def list_schedules(self) -> list[Body]:
        return [copy.deepcopy(b) for b in self.schedules.values()]

    def list_runs(self, ns: str) -> tuple[list[Body], int]:
        assert ns == "ns"
        self.lists += 1
        return [
            copy.deepcopy(b) for b in self.tasks.values() if LABEL_SCHEDULE in b["metadata"]["labels"]
        ], self.version

    def create_task(self, ns: str, body: Body) -> bool:
        assert ns == "ns"
        name = body["metadata"]["name"]
        if name in self.tasks:
            self.calls.append(("exists", name))
            return False
        stored = copy.deepcopy(body)
        stored["metadata"] |= {"namespace": ns, "uid": f"uid-{name}"}
        self.tasks[name] = self._bump(stored)
        self.calls.append(("create", name))
        return True

    def cancel_task(self, ns: str, name: str) -> bool:
        raise AssertionError(f"no pass here cancels a run ({ns}/{name})")

    def delete_task(self, ns: str, name: str) -> bool:
        raise AssertionError(f"no pass here deletes a run ({ns}/{name})")

    def write_status(self, raw: Body, new: dict[str, Any]) -> Body | None:
        name = raw["metadata"]["name"]
        if self.fail_status_writes:
            self.fail_status_writes -= 1
            raise StatusWriteFailed(name)
        stored = self.schedules[name]
        if (stored.get("status") or {}) == new:
            return None
        stored["status"] = copy.deepcopy(new)
        self.calls.append(("status", name))
        return copy.deepcopy(self._bump(stored))

    def post_event(self, raw: Body, ev: Event) -> None:
        assert raw["metadata"]["name"] in self.schedules
        self.events.append(ev)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Wakes:
    """The schedules' wake-ups, collected instead of a `Requeue`'s threads: the test runs them."""

    def __init__(self) -> None:
        self.asked: list[tuple[datetime, str]] = []

    def __call__(self, when: datetime, ns: str, name: str) -> None:
        assert ns == "ns"
        self.asked.append((when, name))

    def due(self, now: datetime) -> list[str]:
        """The names due at `now`, each once, in the order asked; the rest stay."""
        out = [n for t, n in self.asked if t <= now]
        self.asked = [(t, n) for t, n in self.asked if t > now]
        return list(dict.fromkeys(out))


def controller(api: MemoryApiserver, clock: Clock, wakes: Wakes) -> ScheduleController:
    """A new operator process over `api`: nothing remembered, the schedules from one listing."""
    c = ScheduleController(api, None, template=lambda _ns, _name: TEMPLATE, acting=lambda: True, clock=clock)
    c.requeue = wakes
    return c


def run_name(schedule: str) -> str:
    return f"{schedule}-{INSTANT:%Y%m%d%H%M%S}"


@pytest.fixture
def api() -> MemoryApiserver:
    api = MemoryApiserver()
    for name in ("a", "b", "c"):
        api.add_schedule(name)
    return api


def test_schedules_due_at_once_all_get_their_runs_before_any_status_write_and_each_writes_once(
    api: MemoryApiserver,
) -> None:
    clock, wakes = Clock(INSTANT - timedelta(seconds=30)), Wakes()
    c = controller(api, clock, wakes)
    for body in api.list_schedules():
        c.observe(body)
    clock.now = INSTANT + timedelta(seconds=1)  # 12:00 fell due while the controller was up
    for name in ("a", "b", "c"):
        c.reconcile("ns", name)
    assert api.calls == [("create", run_name(x)) for x in ("a", "b", "c")]  # no status write yet
    assert api.lists == 1  # the namespace's runs listed once for the three first passes
    assert [n for _t, n in wakes.asked] == ["a", "b", "c"]  # each armed a wake-up for its write, now
    for name in wakes.due(clock.now):
        c.wake("ns", name)
    assert api.calls[3:] == [("status", x) for x in ("a", "b", "c")]  # one write each, after all the runs
    for name in ("a", "b", "c"):
        s = api.status(name)
        assert s.last_schedule_time == INSTANT and s.missed_runs == 0
        assert [r.name for r in s.active] == [run_name(name)]
        assert not c.observe(api.schedules[name])  # the echo of our own write runs no pass
    assert wakes.due(clock.now) == []  # what is left is each schedule's next instant, 12:01
    assert {n for _t, n in wakes.asked} == {"a", "b", "c"}
    assert all(t == INSTANT + timedelta(minutes=1) for t, _n in wakes.asked)


def test_a_crash_between_creating_the_run_and_writing_the_status_loses_no_instant_and_creates_none_twice(
    api: MemoryApiserver,
) -> None:
    clock, wakes = Clock(INSTANT - timedelta(seconds=30)), Wakes()
    first = controller(api, clock, wakes)
    for body in api.list_schedules():
        first.observe(body)
    clock.now = INSTANT + timedelta(seconds=1)
    first.reconcile("ns", "a")
    assert api.calls == [("create", run_name("a"))] and api.status("a").last_schedule_time is None
    # the process dies here: its wake-up for the status write never runs
    clock.now = INSTANT + timedelta(seconds=20)
    restarted_wakes = Wakes()
    restarted = controller(api, clock, restarted_wakes)
    restarted.start_acting()  # lists the schedules (no mark for 12:00) and passes over each
    assert api.lists == 2  # one listing per process (per term of acting) and namespace
    assert api.runs_of("a") == [run_name("a")]  # the run is there once ...
    assert ("create", run_name("a")) not in api.calls[1:] and ("exists", run_name("a")) not in api.calls
    s = api.status("a")
    assert s.last_schedule_time == INSTANT  # ... and the mark now covers it: nothing lost,
    assert s.missed_runs == 0 and [r.name for r in s.active] == [run_name("a")]  # nothing counted missed
    # b had no pass before the crash: its 12:00 fell due while no controller was up (RunLatest runs it)
    assert api.runs_of("b") == [run_name("b")] and api.status("b").last_schedule_time is None
    for name in restarted_wakes.due(clock.now):
        restarted.wake("ns", name)
    assert api.status("b").last_schedule_time == INSTANT
    assert [x for x in api.calls if x[1] == run_name("a")] == [("create", run_name("a"))]


def test_a_failed_status_write_is_made_by_the_next_pass_without_creating_the_run_again(
    api: MemoryApiserver,
) -> None:
    clock, wakes = Clock(INSTANT - timedelta(seconds=30)), Wakes()
    c = controller(api, clock, wakes)
    for body in api.list_schedules():
        c.observe(body)
    clock.now = INSTANT + timedelta(seconds=1)
    c.reconcile("ns", "a")
    api.fail_status_writes = 1
    for name in wakes.due(clock.now):
        c.wake("ns", name)  # the deferred write fails: a pass is asked for shortly (FAILED_PASS_RETRY)
    assert api.calls == [("create", run_name("a"))]
    assert wakes.due(clock.now) == []
    clock.now += timedelta(seconds=5)
    for name in wakes.due(clock.now):
        c.wake("ns", name)
    assert api.calls == [("create", run_name("a")), ("status", "a")]
    s = api.status("a")
    assert s.last_schedule_time == INSTANT and s.missed_runs == 0
    assert [r.name for r in s.active] == [run_name("a")]


def test_a_run_whose_name_exists_already_is_not_made_twice_by_a_pass_that_does_not_know_it(
    api: MemoryApiserver,
) -> None:
    """The name is the guard of last resort: a pass whose view of the runs lacks one (here: a second
    replica that seeded its index before the run was made) is refused by the name, and the instant still
    counts as run."""
    clock, wakes = Clock(INSTANT - timedelta(seconds=30)), Wakes()
    other = controller(api, clock, Wakes())
    for body in api.list_schedules():
        other.observe(body)
    other.runs.seed("ns", "a", [], api.version)  # its index: no runs of a
    c = controller(api, clock, wakes)
    for body in api.list_schedules():
        c.observe(body)
    clock.now = INSTANT + timedelta(seconds=1)
    c.reconcile("ns", "a")
    other.reconcile("ns", "a")
    assert api.calls == [("create", run_name("a")), ("exists", run_name("a"))]
    assert api.runs_of("a") == [run_name("a")]
