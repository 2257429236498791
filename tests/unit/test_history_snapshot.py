"""`snapshot`: the record the SQL mirror writes for a Task CR, checked against records written by hand.

The mirror's integration tests compare SQL with the CRs through an oracle of their own (tests/oracle.py);
this file pins down the pure mapping itself, one raw CR per case, each expected field typed out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kubetask.history import AttemptRecord, EventRecord, TaskRecord, snapshot

T0 = datetime(2026, 5, 4, 10, 0, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    """T0 plus `seconds`, written by hand in the CRs below as RFC 3339 text."""
    return datetime.fromtimestamp(T0.timestamp() + seconds, tz=UTC)


def _cr(name: str, spec: dict[str, Any], status: dict[str, Any] | None, **meta: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "kubetask.io/v1alpha1",
        "kind": "Task",
        "metadata": {
            "name": name,
            "namespace": "ns",
            "uid": f"uid-{name}",
            "resourceVersion": "42",
            "creationTimestamp": "2026-05-04T10:00:00Z",
            **meta,
        },
        "spec": spec,
    }
    if status is not None:
        body["status"] = status
    return body


def _record(name: str, **fields: Any) -> TaskRecord:
    """The expected record of `_cr(name, ...)`: the identity `_cr` gives every CR, then `fields`."""
    return TaskRecord(uid=f"uid-{name}", namespace="ns", name=name, created_at=T0, resource_version=42, **fields)


SUCCEEDED = _cr(
    "report",
    {"templateRef": {"name": "send-report"}, "params": {"to": "x@y"}, "idempotencyKey": "k-1"},
    {
        "phase": "Succeeded",
        "reason": "Completed",
        "message": "done",
        "attemptCount": 1,
        "startTime": "2026-05-04T10:00:02Z",
        "completionTime": "2026-05-04T10:00:09.500000Z",
        "result": {"sent": 3},
        "attempts": [
            {
                "number": 1,
                "jobName": "report-1",
                "podName": "report-1-abcde",
                "phase": "Succeeded",
                "exitCode": 0,
                "reason": "Completed",
                "startTime": "2026-05-04T10:00:02Z",
                "finishTime": "2026-05-04T10:00:09.500000Z",
            },
        ],
    },
    labels={"team": "data"},
)
SUCCEEDED_RECORD = _record(
    "report",
    template="send-report",
    phase="Succeeded",
    reason="Completed",
    message="done",
    params={"to": "x@y"},
    result={"sent": 3},
    labels={"team": "data"},
    idempotency_key="k-1",
    started_at=at(2),
    finished_at=at(9.5),
    attempt_count=1,
    duration_seconds=7.5,
    spec={"templateRef": {"name": "send-report"}, "params": {"to": "x@y"}, "idempotencyKey": "k-1"},
    attempts=(AttemptRecord(1, "report-1", "report-1-abcde", "Succeeded", 0, "Completed", None, at(2), at(9.5), 7.5),),
    events=(
        EventRecord("created", T0, "Normal", "Created", "Task created"),
        EventRecord("attempt-1-job", T0, "Normal", "JobCreated", "Job report-1 created for attempt 1"),
        EventRecord("attempt-1-started", at(2), "Normal", "Started", "attempt 1 running in pod report-1-abcde"),
        EventRecord("attempt-1-ended", at(9.5), "Normal", "Completed", "attempt 1 succeeded"),
        EventRecord("final", at(9.5), "Normal", "Succeeded", "done"),
    ),
)

EXIT_1 = "container exited with code 1"  # attempt 1's message, in the CR and in two records
DEAD_LETTERED = _cr(
    "doomed",
    {"image": "busybox:1", "command": ["false"], "retry": {"maxAttempts": 2}},
    {
        "phase": "DeadLettered",
        "reason": "AttemptsExhausted",
        "message": "2 attempts failed",
        "attemptCount": 2,
        "startTime": "2026-05-04T10:00:01Z",
        "completionTime": "2026-05-04T10:00:20Z",
        "attempts": [
            {
                "number": 1,
                "jobName": "doomed-1",
                "podName": "doomed-1-aaaaa",
                "phase": "Failed",
                "exitCode": 1,
                "reason": "NonZeroExit",
                "message": EXIT_1,
                "startTime": "2026-05-04T10:00:01Z",
                "finishTime": "2026-05-04T10:00:03Z",
            },
            {
                "number": 2,
                "jobName": "doomed-2",
                "podName": "doomed-2-bbbbb",
                "phase": "Failed",
                "exitCode": 1,
                "reason": "NonZeroExit",
                "startTime": "2026-05-04T10:00:10Z",
                "finishTime": "2026-05-04T10:00:20Z",
            },
        ],
    },
)
DEAD_LETTERED_RECORD = _record(
    "doomed",
    template=None,
    phase="DeadLettered",
    reason="AttemptsExhausted",
    message="2 attempts failed",
    params=None,
    result=None,
    labels={},
    idempotency_key=None,
    started_at=at(1),
    finished_at=at(20),
    attempt_count=2,
    duration_seconds=19.0,
    spec={"image": "busybox:1", "command": ["false"], "retry": {"maxAttempts": 2}},
    attempts=(
        AttemptRecord(1, "doomed-1", "doomed-1-aaaaa", "Failed", 1, "NonZeroExit", EXIT_1, at(1), at(3), 2.0),
        AttemptRecord(2, "doomed-2", "doomed-2-bbbbb", "Failed", 1, "NonZeroExit", None, at(10), at(20), 10.0),
    ),
    events=(
        EventRecord("created", T0, "Normal", "Created", "Task created"),
        EventRecord("attempt-1-job", T0, "Normal", "JobCreated", "Job doomed-1 created for attempt 1"),
        EventRecord("attempt-1-started", at(1), "Normal", "Started", "attempt 1 running in pod doomed-1-aaaaa"),
        EventRecord("attempt-1-ended", at(3), "Warning", "NonZeroExit", EXIT_1),
        # attempt 2's Job came after attempt 1 ended: stamped then, whichever snapshot the mirror saw first
        EventRecord("attempt-2-job", at(3), "Normal", "JobCreated", "Job doomed-2 created for attempt 2"),
        EventRecord("attempt-2-started", at(10), "Normal", "Started", "attempt 2 running in pod doomed-2-bbbbb"),
        EventRecord("attempt-2-ended", at(20), "Warning", "NonZeroExit", "attempt 2 failed"),
        EventRecord("final", at(20), "Warning", "DeadLettered", "2 attempts failed"),
    ),
)

CANCELLED = _cr(
    "nap",
    {"templateRef": {"name": "sleep"}, "params": {"seconds": 60}, "cancel": True},
    {
        "phase": "Cancelled",
        "reason": "Cancelled",
        "attemptCount": 1,
        "startTime": "2026-05-04T10:00:04Z",
        "completionTime": "2026-05-04T10:00:06Z",
        "attempts": [
            {
                "number": 1,
                "jobName": "nap-1",
                "podName": "nap-1-ccccc",
                "phase": "Cancelled",
                "startTime": "2026-05-04T10:00:04Z",
                "finishTime": "2026-05-04T10:00:06Z",
            },
        ],
    },
)
CANCELLED_RECORD = _record(
    "nap",
    template="sleep",
    phase="Cancelled",
    reason="Cancelled",
    message=None,
    params={"seconds": 60},
    result=None,
    labels={},
    idempotency_key=None,
    started_at=at(4),
    finished_at=at(6),
    attempt_count=1,
    duration_seconds=2.0,
    spec={"templateRef": {"name": "sleep"}, "params": {"seconds": 60}, "cancel": True},
    attempts=(AttemptRecord(1, "nap-1", "nap-1-ccccc", "Cancelled", None, None, None, at(4), at(6), 2.0),),
    events=(
        EventRecord("created", T0, "Normal", "Created", "Task created"),
        EventRecord("attempt-1-job", T0, "Normal", "JobCreated", "Job nap-1 created for attempt 1"),
        EventRecord("attempt-1-started", at(4), "Normal", "Started", "attempt 1 running in pod nap-1-ccccc"),
        # a cancelled attempt did not end by itself: no "ended" event, the final one says why
        EventRecord("final", at(6), "Warning", "Cancelled", "Cancelled"),
    ),
)

INVALID_PARAMS = _cr(
    "bad",
    {"templateRef": {"name": "echo"}, "params": {"i": "x"}},
    {
        "phase": "Failed",
        "reason": "InvalidParams",
        "message": "/i: 'x' is not of type 'integer'",
        "completionTime": "2026-05-04T10:00:01Z",
        "conditions": [
            {
                "type": "Accepted",
                "status": "False",
                "reason": "InvalidParams",
                "message": "/i: 'x' is not of type 'integer'",
                "lastTransitionTime": "2026-05-04T10:00:01Z",
            },
        ],
    },
)
INVALID_PARAMS_RECORD = _record(
    "bad",
    template="echo",
    phase="Failed",
    reason="InvalidParams",
    message="/i: 'x' is not of type 'integer'",
    params={"i": "x"},
    result=None,
    labels={},
    idempotency_key=None,
    started_at=None,
    finished_at=at(1),
    attempt_count=0,
    duration_seconds=None,
    spec={"templateRef": {"name": "echo"}, "params": {"i": "x"}},
    events=(
        EventRecord("created", T0, "Normal", "Created", "Task created"),
        EventRecord("rejected-InvalidParams", at(1), "Warning", "InvalidParams", "/i: 'x' is not of type 'integer'"),
        EventRecord("final", at(1), "Warning", "Failed", "/i: 'x' is not of type 'integer'"),
    ),
)

NO_STATUS = _cr("fresh", {"templateRef": {"name": "echo"}}, None, labels={"a": "1", "b": "2"})
NO_STATUS_RECORD = _record(
    "fresh",
    template="echo",
    phase="Pending",
    reason=None,
    message=None,
    params=None,
    result=None,
    labels={"a": "1", "b": "2"},
    idempotency_key=None,
    started_at=None,
    finished_at=None,
    attempt_count=0,
    duration_seconds=None,
    spec={"templateRef": {"name": "echo"}},
    events=(EventRecord("created", T0, "Normal", "Created", "Task created"),),
)

REDRIVE = _cr("doomed-redrive-1", {"image": "busybox:1", "redriveOf": {"name": "doomed", "uid": "uid-doomed"}}, None)
REDRIVE_RECORD = _record(
    "doomed-redrive-1",
    template=None,
    phase="Pending",
    reason=None,
    message=None,
    params=None,
    result=None,
    labels={},
    idempotency_key=None,
    started_at=None,
    finished_at=None,
    attempt_count=0,
    duration_seconds=None,
    spec={"image": "busybox:1", "redriveOf": {"name": "doomed", "uid": "uid-doomed"}},
    redrive_of_uid="uid-doomed",
    events=(EventRecord("created", T0, "Normal", "Created", "Task created"),),
)


@pytest.mark.parametrize(
    ("cr", "expected"),
    [
        pytest.param(SUCCEEDED, SUCCEEDED_RECORD, id="succeeded-with-result"),
        pytest.param(DEAD_LETTERED, DEAD_LETTERED_RECORD, id="retried-then-dead-lettered"),
        pytest.param(CANCELLED, CANCELLED_RECORD, id="cancelled"),
        pytest.param(INVALID_PARAMS, INVALID_PARAMS_RECORD, id="invalid-params-no-attempts"),
        pytest.param(NO_STATUS, NO_STATUS_RECORD, id="no-status-yet"),
        pytest.param(REDRIVE, REDRIVE_RECORD, id="redrive-of-a-dead-letter"),
    ],
)
def test_snapshot_holds_every_field_the_cr_states(cr: dict[str, Any], expected: TaskRecord) -> None:
    got = snapshot(cr)
    # field by field first, so a failure names the field; then the whole record (nothing left unchecked)
    for name in TaskRecord.__dataclass_fields__:
        assert getattr(got, name) == getattr(expected, name), name
    assert got == expected


def test_an_event_already_mirrored_is_stamped_the_same_in_every_later_snapshot() -> None:
    """Event rows are written once per key: the first snapshot that holds a key fixes its row, so each
    event's content must not move as the Task progresses (else a mirror that missed the early snapshots,
    e.g. while the database was down, holds other times than one that saw them)."""
    final = snapshot(DEAD_LETTERED)
    st = DEAD_LETTERED["status"]
    first, second = st["attempts"]
    earlier = [
        {**st, "phase": "Running", "attempts": [{k: first[k] for k in ("number", "jobName")}]},
        {**st, "phase": "Running", "attempts": [{**first, "phase": "Running", "finishTime": None}]},
        {**st, "phase": "Retrying", "attempts": [first]},
        {**st, "phase": "Running", "attempts": [first, {k: second[k] for k in ("number", "jobName")}]},
        {**st, "phase": "Running", "attempts": [first, {**second, "phase": "Running", "finishTime": None}]},
    ]
    for status in earlier:
        for e in snapshot({**DEAD_LETTERED, "status": status}).events:
            assert e == next(f for f in final.events if f.key == e.key), (status["phase"], e.key)
