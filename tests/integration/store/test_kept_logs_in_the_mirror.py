"""Kept logs on SQLite and a real PostgreSQL: written once per attempt, found by the newest Task of a name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from kubetask.store.logs import LogRecord, keep_log, kept_log
from kubetask.store.tables import AttemptLogRow, TaskRow

T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _record(uid: str, attempt: int, head: str, *, name: str = "t", at: datetime = T0) -> LogRecord:
    return LogRecord(
        task_uid=uid,
        namespace="ns",
        task_name=name,
        attempt=attempt,
        head=head,
        tail="",
        total_bytes=len(head.encode()),
        cut=False,
        kept_at=at,
    )


def _task(uid: str, name: str, created: datetime) -> TaskRow:
    return TaskRow(uid=uid, namespace="ns", name=name, phase="Succeeded", labels={}, created_at=created)


def test_a_second_keep_of_the_same_attempt_writes_nothing_and_keeps_the_first(engine: Engine) -> None:
    with Session(engine) as s:
        assert keep_log(s, _record("u1", 1, "first\n")) is True
        assert keep_log(s, _record("u1", 1, "again\n")) is False
        assert s.scalar(select(func.count()).select_from(AttemptLogRow)) == 1
        got = kept_log(s, "ns", "t", 1)
    assert got is not None
    assert got.text == "first\n"


def test_each_attempt_keeps_its_own_log(engine: Engine) -> None:
    with Session(engine) as s:
        keep_log(s, _record("u1", 1, "one\n"))
        keep_log(s, _record("u1", 2, "two\n"))
        one, two, three = (kept_log(s, "ns", "t", n) for n in (1, 2, 3))
    assert one is not None and one.head == "one\n"
    assert two is not None and two.head == "two\n"
    assert three is None


def test_a_reused_name_answers_with_the_newest_tasks_log(engine: Engine) -> None:
    with Session(engine) as s:
        s.add_all([_task("old", "t", T0), _task("new", "t", T0 + timedelta(hours=1))])
        s.commit()
        # the old Task's log kept later than the new one's: the tasks row decides, not kept_at
        keep_log(s, _record("new", 1, "new\n", at=T0 + timedelta(hours=1)))
        keep_log(s, _record("old", 1, "old\n", at=T0 + timedelta(hours=2)))
        got = kept_log(s, "ns", "t", 1)
    assert got is not None and got.head == "new\n"


def test_a_log_kept_before_the_mirror_wrote_its_task_is_found_by_name(engine: Engine) -> None:
    with Session(engine) as s:
        keep_log(s, _record("u9", 1, "early\n", name="early"))
        got = kept_log(s, "ns", "early", 1)
        other = kept_log(s, "other-ns", "early", 1)
    assert got is not None and got.head == "early\n"
    assert other is None


def test_a_cut_log_reads_with_the_marker_between_head_and_tail(engine: Engine) -> None:
    record = LogRecord(
        task_uid="u1",
        namespace="ns",
        task_name="t",
        attempt=1,
        head="H" * 1024,
        tail="T" * 1024,
        total_bytes=5 * 1024 * 1024,
        cut=True,
        kept_at=T0,
    )
    with Session(engine) as s:
        keep_log(s, record)
        got = kept_log(s, "ns", "t", 1)
    assert got is not None
    assert got.kept_at == T0
    assert got.text == "H" * 1024 + "\n[kubetask: 5.0 MiB cut here; the log was 5.0 MiB]\n" + "T" * 1024
