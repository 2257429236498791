"""The in-memory index of run Tasks (`kubetask.run_index`): the newest version wins, deletions stick
against listings that began before them, and listings remove what a missed event left behind."""

from __future__ import annotations

from typing import Any

from kubetask.run_index import TOMBSTONE_SECONDS, RunIndex


def task(name: str, version: int, *, schedule: str | None = "daily", ns: str = "ns", **status: Any) -> dict[str, Any]:
    owners = [{"apiVersion": "kubetask.io/v1alpha1", "kind": "TaskSchedule", "name": schedule, "uid": "u1"}]
    meta: dict[str, Any] = {"name": name, "namespace": ns, "resourceVersion": str(version)}
    if schedule is not None:
        meta["ownerReferences"] = owners
    return {"metadata": meta, "status": status}


def names(index: RunIndex, schedule: str = "daily", ns: str = "ns") -> list[str]:
    return [b["metadata"]["name"] for b in index.runs(ns, schedule)]


def phases(index: RunIndex) -> dict[str, Any]:
    return {b["metadata"]["name"]: b["status"].get("phase") for b in index.runs("ns", "daily")}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_newest_version_wins_whatever_order_events_and_answers_come_in() -> None:
    index = RunIndex()
    index.seen(task("daily-1", 10, phase="Running"))
    index.seen(task("daily-1", 12, phase="Succeeded"))  # our own status write's answer
    index.seen(task("daily-1", 11, phase="Running"))  # the watch event that trailed it
    assert phases(index) == {"daily-1": "Succeeded"}


def test_runs_are_kept_per_namespace_and_schedule_and_tasks_of_no_schedule_are_not_kept() -> None:
    index = RunIndex()
    index.seen(task("daily-1", 1))
    index.seen(task("hourly-1", 2, schedule="hourly"))
    index.seen(task("daily-1", 3, ns="other"))
    index.seen(task("plain", 4, schedule=None))
    assert (names(index), names(index, "hourly"), names(index, ns="other")) == (["daily-1"], ["hourly-1"], ["daily-1"])
    assert names(index, "plain") == []


def test_a_deleted_run_stays_deleted_against_a_listing_read_before_the_deletion() -> None:
    index = RunIndex()
    index.seen(task("daily-1", 5))
    index.gone(task("daily-1", 7))
    index.seed("ns", "daily", [task("daily-1", 5)], version=6)  # the LIST was read at 6, answered after 7
    assert names(index) == []
    index.seen(task("daily-1", 9))  # created again later: a newer version than the deletion
    assert names(index) == ["daily-1"]


def test_seeding_drops_runs_the_listing_lacks_and_keeps_runs_newer_than_the_listing() -> None:
    index = RunIndex()
    index.seen(task("daily-old", 3))  # deleted while nobody watched: the listing lacks it
    index.seen(task("daily-new", 20))  # created after the listing was read: its event overtook it
    assert not index.seeded("ns", "daily")
    index.seed("ns", "daily", [task("daily-kept", 8)], version=10)
    assert index.seeded("ns", "daily")
    assert names(index) == ["daily-kept", "daily-new"]


def test_a_run_we_created_counts_at_once_and_its_first_event_replaces_it() -> None:
    index = RunIndex()
    body = task("daily-1", 0)
    del body["metadata"]["resourceVersion"]  # what we sent: no version yet
    index.created(body)
    assert phases(index) == {"daily-1": None}
    index.seen(task("daily-1", 15, phase="Pending"))
    index.created(body)  # a repeat (409: it exists) changes nothing
    assert phases(index) == {"daily-1": "Pending"}


def test_a_run_created_again_after_its_deletion_counts_even_before_its_event() -> None:
    index = RunIndex()
    index.seen(task("daily-1", 4))
    index.gone(task("daily-1", 6))
    index.created(task("daily-1", 0))
    assert names(index) == ["daily-1"]


def test_a_full_relisting_removes_what_a_restarted_watch_never_reported_deleted() -> None:
    index = RunIndex()
    for i, schedule in enumerate(("daily", "hourly")):
        index.seen(task(f"{schedule}-gone", 1 + i, schedule=schedule))
        index.seen(task(f"{schedule}-here", 3 + i, schedule=schedule))
    index.seen(task("daily-late", 50))
    index.relisted(
        [task("daily-here", 3), task("hourly-here", 4, schedule="hourly"), task("plain", 5, schedule=None)], version=40
    )
    assert (names(index), names(index, "hourly")) == (["daily-here", "daily-late"], ["hourly-here"])


def test_a_task_that_loses_its_owner_reference_is_no_longer_a_run() -> None:
    index = RunIndex()
    index.seen(task("daily-1", 1))
    index.seen(task("daily-1", 2, schedule=None))
    assert names(index) == []


def test_forgetting_a_schedule_makes_its_next_pass_list_again() -> None:
    index = RunIndex()
    index.seed("ns", "daily", [], version=1)
    index.forget("ns", "daily")
    assert not index.seeded("ns", "daily")


def test_tombstones_are_dropped_after_their_time() -> None:
    clock = Clock()
    index = RunIndex(clock=clock)
    index.seen(task("daily-1", 5))
    index.gone(task("daily-1", 7))
    clock.now += TOMBSTONE_SECONDS + 1
    index.seen(task("daily-2", 8))  # any change purges what is due
    index.seed("ns", "daily", [task("daily-1", 5)], version=6)  # no listing is that old: it counts again
    assert names(index) == ["daily-1", "daily-2"]
    assert len(index._entries) == 2  # the tombstone itself is gone
