"""The mirror holds exactly what the CRs state, whichever of their versions it saw, on SQLite and PostgreSQL.

Task histories are written as the operator writes them (snapshot → upsert, one batch per version) and
compared with tests/oracle.py, which derives every row from the raw CRs by its own mapping. A mirror that
saw every version and one that saw only the last (the database was down meanwhile) must agree with it.
The oracle is also shown to fail: a mirror tampered with column by column is reported column by column.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.orm import Session

from kubetask.history import snapshot
from kubetask.store.tables import AttemptRow, DeadLetterRow, EventRow, LabelRow, TaskRow
from kubetask.store.writer import upsert_many
from tests.oracle import differences_in, expected_task


def _t(seconds: int) -> str:
    return f"2026-06-01T12:{seconds // 60:02d}:{seconds % 60:02d}Z"


def _cr(name: str, rv: int, spec: dict[str, Any], status: dict[str, Any] | None, **meta: Any) -> dict[str, Any]:
    identity = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "resourceVersion": str(rv)}
    body: dict[str, Any] = {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "Task",
        "metadata": {**identity, "creationTimestamp": _t(0), **meta},
        "spec": spec,
    }
    if status is not None:
        body["status"] = status
    return body


def _status(phase: str, *attempts: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A status holding `attempts` (so counting them), plus `fields`."""
    return {"phase": phase, **fields, "attemptCount": len(attempts), "attempts": list(attempts)}


def _accepted(status: str, reason: str, message: str, at: int) -> dict[str, Any]:
    """The Accepted condition, as set at second `at`."""
    return {"type": "Accepted", "status": status, "reason": reason, "message": message, "lastTransitionTime": _t(at)}


def _attempt(n: int, **kw: Any) -> dict[str, Any]:
    return {"number": n, "jobName": f"doomed-{n}", **kw}


def _failed(n: int, start: int, end: int, **kw: Any) -> dict[str, Any]:
    times = {"startTime": _t(start), "finishTime": _t(end)}
    fault = {"exitCode": 1, "reason": "NonZeroExit", "message": f"exit code 1: boom {n}"}
    return _attempt(n, podName=f"doomed-{n}-pod", phase="Failed", **fault, **times, **kw)


SPEC = {"templateRef": {"name": "flaky"}, "params": {"n": 1}, "retry": {"maxAttempts": 2}}
TEAM, GOLD = {"team": "data"}, {"team": "data", "tier": "gold"}
FAILED_1, FAILED_2 = _failed(1, 3, 7), _failed(2, 11, 14)
RUNNING_1 = _attempt(1, podName="doomed-1-pod", phase="Running", startTime=_t(3))
RUNNING_2 = _attempt(2, podName="doomed-2-pod", phase="Running", startTime=_t(11))
RETRYING = {"reason": "Retrying", "message": "attempt 2 at 12:00:09", "nextAttemptTime": _t(9)}
EXHAUSTED = {
    "reason": "AttemptsExhausted",
    "message": "2 attempts failed: exit code 1: boom 2",
    "completionTime": _t(14),
}
DOOMED = [  # every status the operator writes for a Task that fails twice and is dead-lettered
    _cr("doomed", 10, SPEC, None, labels=TEAM),
    _cr("doomed", 11, SPEC, _status("Pending", _attempt(1)), labels=TEAM),
    _cr("doomed", 12, SPEC, _status("Running", RUNNING_1, startTime=_t(3)), labels=TEAM),
    _cr("doomed", 13, SPEC, _status("Retrying", FAILED_1, startTime=_t(3), **RETRYING), labels=TEAM),
    _cr("doomed", 14, SPEC, _status("Pending", FAILED_1, _attempt(2), startTime=_t(3)), labels=GOLD),
    _cr("doomed", 15, SPEC, _status("Running", FAILED_1, RUNNING_2, startTime=_t(3)), labels=GOLD),
    _cr("doomed", 16, SPEC, _status("DeadLettered", FAILED_1, FAILED_2, startTime=_t(3), **EXHAUSTED), labels=GOLD),
]
NEW = {"templateRef": {"name": "new"}}
MISSING = _accepted("False", "TemplateNotFound", "TaskTemplate new not found", 1)
ACCEPTED = _accepted("True", "Accepted", "Job late-1 created", 4)
LATE_1 = {
    "number": 1,
    "jobName": "late-1",
    "podName": "late-1-pod",
    "phase": "Succeeded",
    "exitCode": 0,
    "reason": "Completed",
    "startTime": _t(5),
    "finishTime": _t(6),
}
SUCCEEDED = {"reason": "Completed", "startTime": _t(5), "completionTime": _t(6), "result": {"ok": [1, 2.5, None]}}
WAITING = [  # refused while its template was missing, accepted once it appeared, then succeeded
    _cr("late", 20, NEW, {"phase": "Pending", "reason": "TemplateNotFound", "conditions": [MISSING]}),
    _cr("late", 21, NEW, _status("Succeeded", LATE_1, conditions=[ACCEPTED], **SUCCEEDED)),
]
NOT_INTEGER = "/i: 'x' is not of type 'integer'"
INVALID = [
    _cr(
        "bad",
        30,
        {"templateRef": {"name": "echo"}, "params": {"i": "x"}, "idempotencyKey": "order-7"},
        {
            "phase": "Failed",
            "reason": "InvalidParams",
            "message": NOT_INTEGER,
            "completionTime": _t(1),
            "conditions": [_accepted("False", "InvalidParams", NOT_INTEGER, 1)],
        },
    ),
]
REDRIVE_SPEC = {**SPEC, "redriveOf": {"name": "doomed", "uid": "uid-doomed"}}
REDRIVE = [_cr("doomed-again", 40, REDRIVE_SPEC, None, creationTimestamp=_t(30))]
HISTORIES = [DOOMED, WAITING, INVALID, REDRIVE]  # a redrive is created once its original is dead-lettered


def _write(engine: Engine, versions: list[dict[str, Any]]) -> None:
    with Session(engine) as s, s.begin():
        assert all(upsert_many(s, [snapshot(v) for v in versions]))


@pytest.mark.parametrize("seen", ["every-version", "last-version-only"])
def test_the_mirror_holds_exactly_what_the_crs_state(engine: Engine, seen: str) -> None:
    if seen == "every-version":
        running = HISTORIES[:-1]
        for step in range(max(len(h) for h in running)):
            _write(engine, [h[step] for h in running if step < len(h)])
        _write(engine, REDRIVE)
    else:
        _write(engine, [h[-1] for h in HISTORIES])
    assert differences_in(engine, [h[-1] for h in HISTORIES]) == []


def _redrive(name: str, rv: int, status: dict[str, Any] | None) -> dict[str, Any]:
    return _cr(name, rv, REDRIVE_SPEC, status, creationTimestamp=_t(30))


# Two redrives of one dead letter created in the same second (1 s timestamps), each mirrored once per
# status it reaches, their versions interleaved: a counter bumped on arrival counts the repeats too.
SAME_SECOND = [
    [_redrive("doomed-r1", 50, None)],
    [_redrive("doomed-r2", 51, None)],
    [_redrive("doomed-r1", 52, {"phase": "Pending"})],
    [_redrive("doomed-r2", 53, {"phase": "Pending"}), _redrive("doomed-r1", 54, {"phase": "Running"})],
    [_redrive("doomed-r1", 55, {"phase": "Running", "startTime": _t(31)})],
]


@pytest.mark.parametrize("original_first", [True, False], ids=["original-first", "redrives-first"])
def test_redrives_are_counted_once_whatever_order_their_versions_arrive(engine: Engine, original_first: bool) -> None:
    if original_first:
        _write(engine, [DOOMED[-1]])
    for batch in SAME_SECOND:
        _write(engine, batch)
    if not original_first:  # a mirror rebuilt from the CRs may write the original last
        _write(engine, [DOOMED[-1]])
    finals = [DOOMED[-1], SAME_SECOND[-1][0], SAME_SECOND[3][0]]
    assert differences_in(engine, finals) == []
    with Session(engine) as s:
        assert s.scalars(select(DeadLetterRow.redrive_count)).one() == 2


def test_the_oracle_reports_each_column_the_mirror_got_wrong(engine: Engine) -> None:
    finals = [h[-1] for h in HISTORIES]
    _write(engine, finals)
    with Session(engine) as s, s.begin():
        doomed = s.query(TaskRow).filter_by(name="doomed").one().id
        late = s.query(TaskRow).filter_by(name="late").one().id
        s.execute(update(TaskRow).where(TaskRow.id == doomed).values(message=None, duration_seconds=11.5))
        s.execute(
            update(AttemptRow)
            .where(AttemptRow.task_id == doomed, AttemptRow.number == 2)
            .values(finished_at=expected_task(finals[0])["created_at"])
        )
        s.execute(delete(LabelRow).where(LabelRow.task_id == doomed, LabelRow.key == "tier"))
        s.execute(
            update(EventRow)
            .where(EventRow.task_id == doomed, EventRow.key == "attempt-2-job")
            .values(message="Job doomed-2 created")
        )
        s.execute(delete(EventRow).where(EventRow.task_id == late, EventRow.key == "final"))
        s.execute(update(DeadLetterRow).where(DeadLetterRow.task_id == doomed).values(attempt_count=1))
        s.execute(
            insert(DeadLetterRow).values(
                task_id=late,
                namespace="ns",
                name="late",
                attempt_count=1,
                dead_lettered_at=expected_task(finals[1])["finished_at"],
            )
        )
    got = differences_in(engine, finals)
    # one line per tampered column, each starting with the row and column (written out by hand)
    expected = [
        "ns/doomed: message is None in SQL",
        "ns/doomed: duration_seconds is 11.5 in SQL, 11.0 by the CR",
        "ns/doomed: task_labels [('team', 'data')] in SQL, [('team', 'data'), ('tier', 'gold')] by the CR",
        "ns/doomed attempt 2: finished_at is datetime.datetime(2026, 6, 1, 12, 0, tzinfo=",
        "ns/doomed: event attempt-2-job is ",
        "ns/doomed dead letter: attempt_count is 1 in SQL, 2 by the CR",
        "ns/late: event final missing from SQL",
        "ns/late: has a dead_letters row but is Succeeded",
    ]
    assert len(got) == len(expected), got
    for line, start in zip(got, expected, strict=True):
        assert line.startswith(start), (line, start)
    assert "'Job doomed-2 created'" in got[4] and "'Job doomed-2 created for attempt 2'" in got[4]


def test_the_oracle_reports_rows_no_cr_accounts_for(engine: Engine) -> None:
    finals = [h[-1] for h in HISTORIES]
    _write(engine, finals)
    assert differences_in(engine, finals[:3]) == [
        "ns/doomed dead letter: redrive_count is 1 in SQL, 0 by the CR",
        "ns/doomed dead letter: last_redrive is 'doomed-again' in SQL, {None} by the CR",
        "ns/doomed-again: in SQL (not deleted) but not among the CRs",
    ]


def _job(name: str, owner: str, attempt: int, **status: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": name,
            "labels": {"kubetask.io/attempt": str(attempt)},
            "ownerReferences": [{"kind": "Task", "name": owner, "uid": f"uid-{owner}"}],
        },
        "status": status,
    }


def test_the_oracle_checks_attempt_rows_against_the_jobs(engine: Engine) -> None:
    finals = [h[-1] for h in HISTORIES]
    _write(engine, finals)
    right = [
        _job("doomed-1", "doomed", 1, failed=1),
        _job("doomed-2", "doomed", 2, failed=1),
        _job("late-1", "late", 1, succeeded=1),
        _job("other-1", "other", 1, succeeded=1),
    ]
    assert differences_in(engine, finals, right) == []
    wrong = [
        _job("doomed-1", "doomed", 1, failed=1),
        _job("doomed-2", "doomed", 1, failed=1),
        _job("doomed-3", "doomed", 3, failed=1),
        _job("late-1", "late", 1, failed=1),
    ]
    assert differences_in(engine, finals, wrong) == [
        "ns/doomed: Job doomed-2 is labelled attempt 1, row 2",
        "ns/doomed: Job doomed-3 is owned by the Task but no attempt row names it",
        "ns/late: attempt 1 is Succeeded in SQL but Job late-1 did not succeed",
    ]
