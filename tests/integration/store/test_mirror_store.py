"""The SQL mirror on SQLite and on a real PostgreSQL: upserts, filters, sort, cursors, stats."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kubetask.history import TaskRecord, snapshot
from kubetask.selectors import matches, parse
from kubetask.store import make_engine, migrate
from kubetask.store.queries import CursorError, Figures, TaskQuery, list_tasks, p95_index, stats
from kubetask.store.tables import AttemptRow, EventRow, LabelRow, TaskRow
from kubetask.store.writer import upsert, upsert_many

T0 = datetime(2026, 3, 1, tzinfo=UTC)
PHASES = ["Pending", "Running", "Succeeded", "Failed"]
TEMPLATES = ["echo", "report", "resize", None]


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    e = make_engine(database_url)
    migrate(e)
    migrate(e)  # idempotent
    yield e
    e.dispose()


def _body(i: int, rng: random.Random) -> dict[str, Any]:
    phase = rng.choice(PHASES)
    created = T0 + timedelta(seconds=rng.randrange(0, 3600 * 6))
    status: dict[str, Any] = {
        "phase": phase,
        "attemptCount": 1,
        "attempts": [{"number": 1, "jobName": f"task-{i}-1", "phase": phase}],
    }
    if phase != "Pending":
        status["startTime"] = (created + timedelta(seconds=2)).isoformat()
    if phase in ("Succeeded", "Failed"):
        status["completionTime"] = (created + timedelta(seconds=2 + rng.randrange(1, 600))).isoformat()
    tpl = rng.choice(TEMPLATES)
    labels = {"team": rng.choice(["data", "web", "ops"])}
    if rng.random() < 0.5:
        labels["tier"] = rng.choice(["gold", "silver"])
    spec: dict[str, Any] = {"params": {"i": i}}
    if tpl:
        spec["templateRef"] = {"name": tpl}
    else:
        spec["image"] = "busybox:1"
    return {
        "apiVersion": "kubetask.io/v1alpha1", "kind": "Task",
        "metadata": {"name": f"task-{i:04d}", "namespace": rng.choice(["a", "b"]), "uid": f"uid-{i}",
                     "resourceVersion": str(100 + i), "creationTimestamp": created.isoformat(),
                     "labels": labels},
        "spec": spec, "status": status,
    }  # fmt: skip


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded_db(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Engine, list[TaskRecord]]]:
    """300 tasks with mixed phases, templates, labels and times, loaded once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'kubetask.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    e = make_engine(url)
    migrate(e)
    rng = random.Random(7)
    records = [snapshot(_body(i, rng)) for i in range(300)]
    with Session(e) as s, s.begin():
        for r in records:
            upsert(s, r)
    yield e, records
    e.dispose()


def _all_pages(engine: Engine, q: TaskQuery) -> list[str]:
    names: list[str] = []
    cursor = None
    with Session(engine) as s:
        for _ in range(100):
            page = list_tasks(s, TaskQuery(**{**q.__dict__, "cursor": cursor}))
            names += [f"{t.namespace}/{t.name}" for t in page.items]
            assert len(page.items) <= q.limit
            cursor = page.next_cursor
            if cursor is None:
                return names
    raise AssertionError("pagination did not end")


def _key(r: TaskRecord, sort: str) -> tuple[Any, ...]:
    far = datetime(9999, 12, 31, tzinfo=UTC)
    value = {
        "created": r.created_at,
        "name": r.name,
        "finished": r.finished_at or far,
        "duration": r.duration_seconds if r.duration_seconds is not None else 1e18,
    }[sort.lstrip("-")]
    return (value,)


@pytest.mark.parametrize(
    ("query", "predicate"),
    [
        pytest.param(TaskQuery(), lambda _r: True, id="all"),
        pytest.param(TaskQuery(namespace="a"), lambda r: r.namespace == "a", id="namespace"),
        pytest.param(TaskQuery(phases=["Failed", "Running"]), lambda r: r.phase in ("Failed", "Running"), id="phases"),
        pytest.param(TaskQuery(templates=["report"]), lambda r: r.template == "report", id="template"),
        pytest.param(
            TaskQuery(selector=parse("team=data,tier")),
            lambda r: matches(parse("team=data,tier"), r.labels),
            id="selector",
        ),
        pytest.param(
            TaskQuery(selector=parse("team notin (web),!tier")),
            lambda r: matches(parse("team notin (web),!tier"), r.labels),
            id="selector-negative",
        ),
        pytest.param(
            TaskQuery(created_after=T0 + timedelta(hours=1), created_before=T0 + timedelta(hours=2)),
            lambda r: T0 + timedelta(hours=1) <= r.created_at < T0 + timedelta(hours=2),
            id="created",
        ),
        pytest.param(
            TaskQuery(finished_after=T0 + timedelta(hours=3)),
            lambda r: r.finished_at is not None and r.finished_at >= T0 + timedelta(hours=3),
            id="finished",
        ),
        pytest.param(TaskQuery(q="01"), lambda r: "01" in r.name, id="free-text"),
    ],
)
@pytest.mark.parametrize("sort", ["-created", "created", "name", "-finished", "duration"])
def test_filters_sort_and_pages_return_exactly_the_right_rows(
    loaded_db: tuple[Engine, list[TaskRecord]], query: TaskQuery, predicate: Any, sort: str
) -> None:
    engine, loaded = loaded_db
    q = TaskQuery(**{**query.__dict__, "sort": sort, "limit": 37})
    expected = sorted((r for r in loaded if predicate(r)), key=lambda r: (_key(r, sort), int(r.uid[4:]) + 1),
                      reverse=sort.startswith("-"))  # fmt: skip
    # rows are inserted in uid order, so the id tiebreak follows the uid number
    assert _all_pages(engine, q) == [f"{r.namespace}/{r.name}" for r in expected]


def test_cursor_from_another_sort_is_refused(loaded_db: tuple[Engine, list[TaskRecord]]) -> None:
    engine, _ = loaded_db
    with Session(engine) as s:
        page = list_tasks(s, TaskQuery(sort="name", limit=5))
        assert page.next_cursor
        with pytest.raises(CursorError, match="sort='name'"):
            list_tasks(s, TaskQuery(sort="-created", cursor=page.next_cursor))
        with pytest.raises(CursorError, match="not valid"):
            list_tasks(s, TaskQuery(cursor="garbage!"))


def _by_hand(records: list[TaskRecord], minutes: float) -> dict[str, object]:
    by_phase: dict[str, int] = {}
    for r in records:
        by_phase[r.phase] = by_phase.get(r.phase, 0) + 1
    finished = [r for r in records if r.phase in ("Succeeded", "Failed", "DeadLettered")]
    durations = sorted(r.duration_seconds for r in finished if r.duration_seconds is not None)
    return {
        "total": len(records),
        "by_phase": by_phase,
        "success_rate": by_phase.get("Succeeded", 0) / len(finished) if finished else None,
        "avg_duration_seconds": sum(durations) / len(durations) if durations else None,
        "p95_duration_seconds": durations[p95_index(len(durations))] if durations else None,
        "tasks_per_minute": len(records) / minutes,
    }


def _agree(got: Figures, want: dict[str, Any]) -> bool:
    fields = asdict(got)
    assert fields.pop("by_phase") == want.pop("by_phase")
    assert fields == pytest.approx(want)
    return True


def test_stats_agree_with_a_count_by_hand(loaded_db: tuple[Engine, list[TaskRecord]]) -> None:
    engine, loaded = loaded_db
    now = T0 + timedelta(hours=6)
    window = timedelta(hours=4)
    with Session(engine) as s:
        got = stats(s, now=now, window=window)
        one_ns = stats(s, now=now, window=window, namespace="a")
    inside = [r for r in loaded if now - window <= r.created_at < now]
    assert len({r.template for r in inside}) >= 3  # several templates, one of them None
    assert _agree(got.overall, _by_hand(inside, 240))
    templates = {r.template for r in inside}
    assert set(got.per_template) == {t or "" for t in templates}
    for t in templates:
        assert _agree(got.per_template[t or ""], _by_hand([r for r in inside if r.template == t], 240))
    in_ns = [r for r in inside if r.namespace == "a"]
    assert in_ns and _agree(one_ns.overall, _by_hand(in_ns, 240))


def test_upsert_is_idempotent_and_never_goes_back(engine: Engine) -> None:
    rng = random.Random(1)
    body = _body(1, rng)
    body["metadata"]["creationTimestamp"] = (T0 - timedelta(minutes=1)).isoformat()
    body["status"] = {
        "phase": "Running",
        "attemptCount": 1,
        "startTime": T0.isoformat(),
        "attempts": [{"number": 1, "jobName": "x-1", "phase": "Running", "startTime": T0.isoformat()}],
    }
    newer = {
        **body,
        "metadata": {**body["metadata"], "resourceVersion": "999"},
        "status": {
            **body["status"],
            "phase": "Succeeded",
            "completionTime": (T0 + timedelta(seconds=9)).isoformat(),
            "attempts": [
                {
                    **body["status"]["attempts"][0],
                    "phase": "Succeeded",
                    "finishTime": (T0 + timedelta(seconds=9)).isoformat(),
                    "exitCode": 0,
                }
            ],
        },
    }
    with Session(engine) as s, s.begin():
        assert upsert(s, snapshot(body))
        assert upsert(s, snapshot(newer))
        assert upsert(s, snapshot(newer))
        assert not upsert(s, snapshot(body))  # an older snapshot arriving late is ignored
    with Session(engine) as s:
        row = s.scalars(select(TaskRow)).one()
        assert (row.phase, row.duration_seconds) == ("Succeeded", 9.0)
        keys = s.scalars(select(EventRow.key).order_by(EventRow.timestamp, EventRow.id)).all()
        assert keys == ["created", "attempt-1-job", "attempt-1-started", "attempt-1-ended", "final"]
        assert s.scalar(select(func.count()).select_from(EventRow)) == 5


def _newer(body: dict[str, Any], rv: int) -> dict[str, Any]:
    """The next version of a Task: a second attempt running, a changed label."""
    status = body["status"]
    return {
        **body,
        "metadata": {**body["metadata"], "resourceVersion": str(rv), "labels": {"team": "moved"}},
        "status": {
            **status,
            "phase": "Running",
            "attemptCount": 2,
            "startTime": status.get("startTime") or T0.isoformat(),
            "attempts": [
                {**status["attempts"][0], "phase": "Failed", "exitCode": 1},
                {"number": 2, "jobName": f"{body['metadata']['name']}-2", "phase": "Running"},
            ],
        },
    }


def _stored(s: Session, uid: str) -> tuple[Any, ...]:
    row = s.scalars(select(TaskRow).where(TaskRow.uid == uid)).one()
    labels = {(x.key, x.value) for x in s.scalars(select(LabelRow).where(LabelRow.task_id == row.id))}
    attempts = [(a.number, a.phase) for a in s.scalars(select(AttemptRow).where(AttemptRow.task_id == row.id))]
    events = set(s.scalars(select(EventRow.key).where(EventRow.task_id == row.id)))
    return row.phase, row.resource_version, labels, sorted(attempts), events


def _expected(r: TaskRecord) -> tuple[Any, ...]:
    return (r.phase, r.resource_version, set(r.labels.items()), sorted((a.number, a.phase) for a in r.attempts),
            {e.key for e in r.events})  # fmt: skip


def test_a_batch_of_new_newer_and_stale_snapshots_lands_like_one_by_one(engine: Engine) -> None:
    rng = random.Random(5)
    v1 = [_body(i, rng) for i in range(60)]
    v2 = [_newer(b, 10_000 + i) for i, b in enumerate(v1)]
    first = [snapshot(b) for b in v1[:40]]  # 40 already mirrored, 20 brand new in the batch
    with Session(engine) as s, s.begin():
        assert upsert_many(s, first) == [True] * 40
    batch = [snapshot(v2[i]) for i in range(0, 40, 2)]  # newer versions of existing rows
    batch += [snapshot({**v1[i], "metadata": {**v1[i]["metadata"], "resourceVersion": "1"}}) for i in range(1, 40, 2)]
    batch += [snapshot(b) for b in v1[40:]]
    with Session(engine) as s, s.begin():
        got = upsert_many(s, batch)
    assert got == [True] * 20 + [False] * 20 + [True] * 20  # stale versions (rv 1) are refused
    newest = {r.uid: r for r in first} | {r.uid: r for r, ok in zip(batch, got, strict=True) if ok}
    seen_events = {r.uid: {e.key for e in r.events} for r in first}  # history keeps every event ever seen
    with Session(engine) as s:
        assert s.scalar(select(func.count()).select_from(TaskRow)) == 60
        for uid, r in newest.items():
            phase, rv, labels, attempts, events = _expected(r)
            assert _stored(s, uid) == (phase, rv, labels, attempts, events | seen_events.get(uid, set())), uid
