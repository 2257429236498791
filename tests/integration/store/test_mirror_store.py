"""The SQL mirror on SQLite and on a real PostgreSQL: upserts, filters, sort, cursors, stats.

Expected sides come from the raw CRs through tests/oracle.py (never from `snapshot`, which writes the
rows) and selector results from filters written by hand (never from the product's selector parser).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kubetask.history import snapshot
from kubetask.selectors import parse
from kubetask.store import make_engine, migrate
from kubetask.store.aggregates import Figures, p95_index, stats
from kubetask.store.queries import CursorError, TaskQuery, list_tasks
from kubetask.store.tables import EventRow, TaskRow
from kubetask.store.writer import upsert, upsert_many
from kubetask.testing.timestamps import parse_instant
from tests.oracle import differences_in, expected_task

Loaded = tuple[Engine, list[SimpleNamespace]]  # the engine, and each task's expected row (oracle columns)

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
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "Task",
        "metadata": {
            "name": f"task-{i:04d}",
            "namespace": rng.choice(["a", "b"]),
            "uid": f"uid-{i}",
            "resourceVersion": str(100 + i),
            "creationTimestamp": created.isoformat(),
            "labels": labels,
        },
        "spec": spec,
        "status": status,
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded_db(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    """300 tasks with mixed phases, templates, labels and times, loaded once per backend."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('store') / 'kubetask.db'}"
    else:
        url = request.getfixturevalue("postgres").new_database()
    e = make_engine(url)
    migrate(e)
    rng = random.Random(7)
    bodies = [_body(i, rng) for i in range(300)]
    with Session(e) as s, s.begin():
        for b in bodies:
            upsert(s, snapshot(b))
    assert differences_in(e, bodies) == []
    yield e, [SimpleNamespace(**expected_task(b)) for b in bodies]
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


def _key(r: SimpleNamespace, sort: str) -> tuple[Any, ...]:
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
            lambda r: r.labels.get("team") == "data" and "tier" in r.labels,
            id="selector",
        ),
        pytest.param(
            TaskQuery(selector=parse("team notin (web),!tier")),
            lambda r: r.labels.get("team") != "web" and "tier" not in r.labels,
            id="selector-negative",
        ),
        pytest.param(
            TaskQuery(selector=parse("tier in (gold,bronze),team!=ops")),
            lambda r: r.labels.get("tier") == "gold" and r.labels.get("team") != "ops",
            id="selector-in-and-not-equals",
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
    loaded_db: Loaded, query: TaskQuery, predicate: Any, sort: str
) -> None:
    engine, loaded = loaded_db
    q = TaskQuery(**{**query.__dict__, "sort": sort, "limit": 37})
    expected = sorted(
        (r for r in loaded if predicate(r)),
        key=lambda r: (_key(r, sort), int(r.uid[4:]) + 1),
        reverse=sort.startswith("-"),
    )
    # rows are inserted in uid order, so the id tiebreak follows the uid number
    assert _all_pages(engine, q) == [f"{r.namespace}/{r.name}" for r in expected]


def test_cursor_from_another_sort_is_refused(loaded_db: Loaded) -> None:
    engine, _ = loaded_db
    with Session(engine) as s:
        page = list_tasks(s, TaskQuery(sort="name", limit=5))
        assert page.next_cursor
        with pytest.raises(CursorError, match="sort='name'"):
            list_tasks(s, TaskQuery(sort="-created", cursor=page.next_cursor))
        with pytest.raises(CursorError, match="not valid"):
            list_tasks(s, TaskQuery(cursor="garbage!"))


def _by_hand(records: list[SimpleNamespace], minutes: float) -> dict[str, object]:
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


def test_stats_agree_with_a_count_by_hand(loaded_db: Loaded) -> None:
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
    assert differences_in(engine, [newer]) == []


def _newer(body: dict[str, Any], rv: int) -> dict[str, Any]:
    """The next version of a Task, as the operator would write it: a changed label, and for an active
    Task its first attempt failed and a second one running (a final Task only gets the label)."""
    status = body["status"]
    meta = {**body["metadata"], "resourceVersion": str(rv), "labels": {"team": "moved"}}
    if status["phase"] in ("Succeeded", "Failed"):
        return {**body, "metadata": meta}
    start = status.get("startTime") or body["metadata"]["creationTimestamp"]
    failed_at = (parse_instant(start) + timedelta(seconds=5)).isoformat()
    return {
        **body,
        "metadata": meta,
        "status": {
            "phase": "Running",
            "attemptCount": 2,
            "startTime": start,
            "attempts": [
                {
                    **status["attempts"][0],
                    "phase": "Failed",
                    "exitCode": 1,
                    "startTime": start,
                    "finishTime": failed_at,
                },
                {"number": 2, "jobName": f"{body['metadata']['name']}-2", "phase": "Running"},
            ],
        },
    }


def test_a_batch_of_new_newer_and_stale_snapshots_lands_like_one_by_one(engine: Engine) -> None:
    rng = random.Random(5)
    v1 = [_body(i, rng) for i in range(60)]
    v2 = [_newer(b, 10_000 + i) for i, b in enumerate(v1)]
    with Session(engine) as s, s.begin():  # 40 already mirrored, 20 brand new in the batch
        assert upsert_many(s, [snapshot(b) for b in v1[:40]]) == [True] * 40
    stale = [{**v1[i], "metadata": {**v1[i]["metadata"], "resourceVersion": "1"}} for i in range(1, 40, 2)]
    batch = [v2[i] for i in range(0, 40, 2)] + stale + v1[40:]
    with Session(engine) as s, s.begin():
        got = upsert_many(s, [snapshot(b) for b in batch])
    assert got == [True] * 20 + [False] * 20 + [True] * 20  # stale versions (rv 1) are refused
    newest = [v2[i] if i % 2 == 0 and i < 40 else v1[i] for i in range(60)]
    assert differences_in(engine, newest) == []
