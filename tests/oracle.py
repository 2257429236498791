"""What the SQL mirror must hold for a set of Task CRs, computed from the raw CRs by code of the tests.

"SQL equals the CRs" used to compare the mirror with `kubetask.history.snapshot(cr)`, the very function
the mirror writes with, over a handful of fields: a snapshot that dropped or garbled a field agreed with
itself. This module derives every expected row from the raw CR (camelCase dicts as the apiserver returns
them) by the hand-written mapping below and imports nothing from the product that computes records; it
reads the tables through `kubetask.store.tables` only.

Mapping (CR → rows):

``tasks`` (one row per CR, keyed by ``metadata.uid``)
    uid, namespace, name ← ``metadata.uid/namespace/name``; template ← ``spec.templateRef.name`` (None for an
    inline image); phase ← ``status.phase`` ("Pending" when the CR has no status); reason, message, result ←
    ``status.reason/message/result``; params ← ``spec.params``; spec ← the whole ``spec``; labels (the JSON
    column and the ``task_labels`` rows) ← ``metadata.labels``; idempotency_key ← ``spec.idempotencyKey``;
    created_at ← ``metadata.creationTimestamp``; started_at ← ``status.startTime``; finished_at ←
    ``status.completionTime``; attempt_count ← ``status.attemptCount`` (0 when absent); duration_seconds ←
    completionTime − startTime in seconds (None unless both are set); resource_version ←
    ``int(metadata.resourceVersion)``; deleted_at is None (the CR exists).
``attempts`` (one row per ``status.attempts[]`` entry, by number)
    number, job_name ← ``jobName``, pod_name ← ``podName``, phase, exit_code ← ``exitCode``, reason, message,
    started_at ← ``startTime``, finished_at ← ``finishTime``, duration_seconds ← finishTime − startTime.
``events`` (key → time, type, reason, message; the mirror's history, written once per key)
    ``created``: creationTimestamp, Normal, Created, "Task created".
    Per attempt n: ``attempt-n-job``: the finishTime of attempt n-1 (for attempt 1, or when attempt n-1 has
    none: creationTimestamp, or ``spec.runAt`` when later), Normal, JobCreated, "Job <jobName> created for
    attempt <n>";
    ``attempt-n-started`` when it has a startTime: startTime, Normal, Started,
    "attempt <n> running in pod <podName>"; ``attempt-n-ended`` when it has a finishTime and ended
    Succeeded or Failed: finishTime, Normal (Succeeded) or Warning, reason or phase,
    message or "attempt <n> <phase in lower case>".
    ``rejected-<reason>`` for an ``Accepted`` condition with status False: its lastTransitionTime, Warning,
    reason, message. A ``rejected-*`` row for another reason is accepted as history (the Task was refused
    for a reason that has since gone, e.g. its template appeared); any other extra row is a difference.
    ``final`` once completionTime is set in a final phase: completionTime, Normal (Succeeded) or Warning,
    phase, message or phase.
``dead_letters``
    exactly one row for a DeadLettered CR: namespace, name, template, reason, message, attempt_count as on
    the task row, dead_lettered_at ← completionTime (creationTimestamp when absent); no redrive unless a CR
    given has ``spec.redriveOf.uid`` naming it (then redrive_count = how many do, last_redrive = the newest
    of them by creationTimestamp, any of them when several share it). No row for any other phase.
Jobs (only when given): every Job owned by a Task (ownerReferences uid) is one of its attempt rows, with
the ``kubetask.io/attempt`` label equal to the row's number; a Succeeded attempt's Job reports succeeded=1.

The only transformations are the ones the store must make: RFC 3339 text to an aware datetime (compared
as instants), durations as float seconds (to the microsecond).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from kubetask.store import make_engine
from kubetask.store.tables import AttemptRow, DeadLetterRow, EventRow, LabelRow, TaskRow
from kubetask.testing.cluster import FINAL, Cluster
from kubetask.testing.timestamps import parse_instant

Raw = Mapping[str, Any]
# the columns compared, as kubetask.store.tables names them
TASK_COLUMNS = tuple(
    "uid namespace name template phase reason message params result labels idempotency_key created_at started_at"
    " finished_at attempt_count duration_seconds resource_version spec deleted_at schedule schedule_uid"
    " scheduled_time".split()
)
ATTEMPT_COLUMNS = tuple(
    "number job_name pod_name phase exit_code reason message started_at finished_at duration_seconds".split()
)
DEAD_LETTER_COLUMNS = tuple(
    "namespace name template reason message attempt_count dead_lettered_at redrive_count last_redrive".split()
)


def instant(text: Any) -> datetime | None:
    """An RFC 3339 timestamp of the CR as an aware datetime (naive text is UTC); None when unset."""
    return None if text is None or text == "" else parse_instant(str(text))


def _seconds(start: Any, end: Any) -> float | None:
    a, b = instant(start), instant(end)
    return (b - a).total_seconds() if a is not None and b is not None else None


def expected_task(cr: Raw) -> dict[str, Any]:
    """The ``tasks`` row of a CR, column by column."""
    meta, spec, st = cr["metadata"], cr.get("spec") or {}, cr.get("status") or {}
    return {
        "uid": meta["uid"],
        "namespace": meta["namespace"],
        "name": meta["name"],
        "template": (spec.get("templateRef") or {}).get("name"),
        "phase": st.get("phase", "Pending"),
        "reason": st.get("reason"),
        "message": st.get("message"),
        "params": spec.get("params"),
        "result": st.get("result"),
        "labels": dict(meta.get("labels") or {}),
        "idempotency_key": spec.get("idempotencyKey"),
        "created_at": instant(meta["creationTimestamp"]),
        "started_at": instant(st.get("startTime")),
        "finished_at": instant(st.get("completionTime")),
        "attempt_count": st.get("attemptCount", 0),
        "duration_seconds": _seconds(st.get("startTime"), st.get("completionTime")),
        "resource_version": int(meta["resourceVersion"]),
        "spec": cr.get("spec"),
        "deleted_at": None,
        **_schedule_columns(meta),
    }


def _schedule_columns(meta: Raw) -> dict[str, Any]:
    """A run Task's link to its TaskSchedule: the controlling owner of that kind, and the instant."""
    owner = next((r for r in meta.get("ownerReferences") or [] if r.get("kind") == "TaskSchedule"), None)
    if owner is None:
        return {"schedule": None, "schedule_uid": None, "scheduled_time": None}
    stamp = (meta.get("annotations") or {}).get("kubetask.io/scheduled-time")
    return {"schedule": owner["name"], "schedule_uid": owner["uid"], "scheduled_time": instant(stamp)}


def expected_attempts(cr: Raw) -> list[dict[str, Any]]:
    """The ``attempts`` rows of a CR, by number."""
    rows = [
        {
            "number": a["number"],
            "job_name": a["jobName"],
            "pod_name": a.get("podName"),
            "phase": a.get("phase", "Pending"),
            "exit_code": a.get("exitCode"),
            "reason": a.get("reason"),
            "message": a.get("message"),
            "started_at": instant(a.get("startTime")),
            "finished_at": instant(a.get("finishTime")),
            "duration_seconds": _seconds(a.get("startTime"), a.get("finishTime")),
        }
        for a in (cr.get("status") or {}).get("attempts") or []
    ]
    return sorted(rows, key=lambda r: int(r["number"]))


def expected_events(cr: Raw) -> dict[str, tuple[datetime | None, str, str, str]]:
    """The ``events`` rows of a CR: key → (time, type, reason, message)."""
    created = instant(cr["metadata"]["creationTimestamp"])
    st = cr.get("status") or {}
    out: dict[str, tuple[datetime | None, str, str, str]] = {"created": (created, "Normal", "Created", "Task created")}
    if not cr.get("status"):
        return out
    attempts = st.get("attempts") or []
    finished = {a["number"]: instant(a.get("finishTime")) for a in attempts}
    run_at = instant(cr["spec"].get("runAt"))
    first = max(created, run_at) if created and run_at else created
    for a in attempts:
        n, phase = a["number"], a.get("phase", "Pending")
        job_at = finished.get(n - 1) or first
        out[f"attempt-{n}-job"] = (job_at, "Normal", "JobCreated", f"Job {a['jobName']} created for attempt {n}")
        if a.get("startTime"):
            out[f"attempt-{n}-started"] = (
                instant(a["startTime"]),
                "Normal",
                "Started",
                f"attempt {n} running in pod {a.get('podName')}",
            )
        if a.get("finishTime") and phase in ("Succeeded", "Failed"):
            out[f"attempt-{n}-ended"] = (
                instant(a["finishTime"]),
                "Normal" if phase == "Succeeded" else "Warning",
                a.get("reason") or phase,
                a.get("message") or f"attempt {n} {phase.lower()}",
            )
    for c in st.get("conditions") or []:
        if c.get("type") == "Accepted" and c.get("status") == "False" and c.get("lastTransitionTime"):
            reason = c.get("reason", "")
            out[f"rejected-{reason}"] = (instant(c["lastTransitionTime"]), "Warning", reason, c.get("message", ""))
    phase = st.get("phase", "Pending")
    if st.get("completionTime") and phase in FINAL:
        kind = "Normal" if phase == "Succeeded" else "Warning"
        out["final"] = (instant(st["completionTime"]), kind, phase, st.get("message") or phase)
    return out


def expected_dead_letter(cr: Raw, crs: Sequence[Raw]) -> dict[str, Any] | None:
    """The ``dead_letters`` row of a CR (None: there must be none)."""
    st = cr.get("status") or {}
    if st.get("phase") != "DeadLettered":
        return None
    meta = cr["metadata"]
    redrives = [c for c in crs if ((c.get("spec") or {}).get("redriveOf") or {}).get("uid") == meta["uid"]]
    newest = max((str(instant(c["metadata"]["creationTimestamp"])) for c in redrives), default=None)
    return {
        "namespace": meta["namespace"],
        "name": meta["name"],
        "template": ((cr.get("spec") or {}).get("templateRef") or {}).get("name"),
        "reason": st.get("reason"),
        "message": st.get("message"),
        "attempt_count": st.get("attemptCount", 0),
        "dead_lettered_at": instant(st.get("completionTime")) or instant(meta["creationTimestamp"]),
        "redrive_count": len(redrives),
        # several redrives created in the same second: the store keeps whichever of them it wrote last
        "last_redrive": {
            c["metadata"]["name"] for c in redrives if str(instant(c["metadata"]["creationTimestamp"])) == newest
        }
        or {None},
    }


def _same(want: Any, got: Any) -> bool:
    if isinstance(want, float) and isinstance(got, float):
        return math.isclose(want, got, rel_tol=0, abs_tol=1e-6)
    return bool(want == got)


def _compare(what: str, want: Mapping[str, Any], got: Mapping[str, Any], columns: Sequence[str]) -> list[str]:
    """Column by column; a set on the expected side lists the values that are all right."""
    return [
        f"{what}: {c} is {got[c]!r} in SQL, {want[c]!r} by the CR"
        for c in columns
        if not (got[c] in want[c] if isinstance(want[c], set) else _same(want[c], got[c]))
    ]


def _row(obj: Any, columns: Sequence[str]) -> dict[str, Any]:
    return {c: getattr(obj, c) for c in columns}


def _event_differences(name: str, cr: Raw, rows: Sequence[EventRow]) -> list[str]:
    want = expected_events(cr)
    got = {e.key: (e.timestamp, e.type, e.reason, e.message) for e in rows}
    out = [f"{name}: event {k} missing from SQL" for k in want if k not in got]
    for k, (when, kind, reason, message) in got.items():
        if k in want:
            if want[k] != (when, kind, reason, message):
                out.append(f"{name}: event {k} is {(when, kind, reason, message)!r} in SQL, {want[k]!r} by the CR")
        elif not (k.startswith("rejected-") and (kind, reason) == ("Warning", k.removeprefix("rejected-"))):
            out.append(f"{name}: event {k} in SQL is not in the CR's history")
    return out


def _job_differences(cr: Raw, attempts: Sequence[Mapping[str, Any]], jobs: Sequence[Raw]) -> list[str]:
    uid, name = cr["metadata"]["uid"], f"{cr['metadata']['namespace']}/{cr['metadata']['name']}"
    by_job = {a["job_name"]: a for a in attempts}
    out = []
    for j in jobs:
        if not any(ref.get("uid") == uid for ref in j["metadata"].get("ownerReferences") or []):
            continue
        jname, labels = j["metadata"]["name"], j["metadata"].get("labels") or {}
        a = by_job.get(jname)
        if a is None:
            out.append(f"{name}: Job {jname} is owned by the Task but no attempt row names it")
            continue
        if labels.get("kubetask.io/attempt") != str(a["number"]):
            out.append(
                f"{name}: Job {jname} is labelled attempt {labels.get('kubetask.io/attempt')}, row {a['number']}"
            )
        if a["phase"] == "Succeeded" and (j.get("status") or {}).get("succeeded") != 1:
            out.append(f"{name}: attempt {a['number']} is Succeeded in SQL but Job {jname} did not succeed")
    return out


def _task_differences(s: Session, cr: Raw, crs: Sequence[Raw], jobs: Sequence[Raw] | None) -> list[str]:
    name = f"{cr['metadata']['namespace']}/{cr['metadata']['name']}"
    row = s.scalars(select(TaskRow).where(TaskRow.uid == cr["metadata"]["uid"])).one_or_none()
    if row is None:
        return [f"{name}: not in SQL"]
    if row.resource_version > int(cr["metadata"]["resourceVersion"]):
        return [f"{name}: SQL holds resourceVersion {row.resource_version}, newer than the CR given (re-read it)"]
    out = _compare(name, expected_task(cr), _row(row, TASK_COLUMNS), TASK_COLUMNS)
    labels = {(x.key, x.value) for x in s.scalars(select(LabelRow).where(LabelRow.task_id == row.id))}
    if labels != set((cr["metadata"].get("labels") or {}).items()):
        want_labels = sorted((cr["metadata"].get("labels") or {}).items())
        out.append(f"{name}: task_labels {sorted(labels)} in SQL, {want_labels} by the CR")
    want_attempts = expected_attempts(cr)
    attempt_rows = s.scalars(select(AttemptRow).where(AttemptRow.task_id == row.id).order_by(AttemptRow.number))
    got_attempts = [_row(a, ATTEMPT_COLUMNS) for a in attempt_rows]
    got_numbers, want_numbers = [a["number"] for a in got_attempts], [a["number"] for a in want_attempts]
    if got_numbers != want_numbers:
        out.append(f"{name}: attempts {got_numbers} in SQL, {want_numbers} by the CR")
    else:
        for want, got in zip(want_attempts, got_attempts, strict=True):
            out += _compare(f"{name} attempt {want['number']}", want, got, ATTEMPT_COLUMNS)
    out += _event_differences(name, cr, s.scalars(select(EventRow).where(EventRow.task_id == row.id)).all())
    dead = s.scalars(select(DeadLetterRow).where(DeadLetterRow.task_id == row.id)).all()
    want_dead = expected_dead_letter(cr, crs)
    if want_dead is None and dead:
        out.append(f"{name}: has a dead_letters row but is {cr.get('status', {}).get('phase')}")
    elif want_dead is not None and len(dead) != 1:
        out.append(f"{name}: {len(dead)} dead_letters rows, want 1")
    elif want_dead is not None:
        out += _compare(f"{name} dead letter", want_dead, _row(dead[0], DEAD_LETTER_COLUMNS), DEAD_LETTER_COLUMNS)
    if jobs is not None:
        out += _job_differences(cr, got_attempts, jobs)
    return out


def differences_in(engine: Engine, crs: Sequence[Raw], jobs: Sequence[Raw] | None = None) -> list[str]:
    """`mirror_differences` on an engine the caller holds."""
    out: list[str] = []
    try:
        with Session(engine) as s:
            for cr in crs:
                out += _task_differences(s, cr, crs, jobs)
            uids = {cr["metadata"]["uid"] for cr in crs}
            namespaces = {cr["metadata"]["namespace"] for cr in crs}
            keys = select(TaskRow.namespace, TaskRow.name, TaskRow.uid)
            extra = s.execute(keys.where(TaskRow.namespace.in_(namespaces), TaskRow.deleted_at.is_(None)))
            out += [f"{ns}/{n}: in SQL (not deleted) but not among the CRs" for ns, n, uid in extra if uid not in uids]
    except SQLAlchemyError as e:  # the database may be down or starting: a difference, the caller retries
        out.append(f"database: {str(e).splitlines()[0]}")
    return out


def mirror_differences(url: str, crs: Sequence[Raw], jobs: Sequence[Raw] | None = None) -> list[str]:
    """How the mirror at `url` differs from what `crs` (every live Task of their namespaces, raw) say it must
    hold, one readable line per difference; empty when it holds exactly that. Pass the raw Jobs of the same
    namespaces (see `raw_jobs`) to check the attempt rows against the Jobs too."""
    try:
        engine = make_engine(url)
    except SQLAlchemyError as e:
        return [f"database: {str(e).splitlines()[0]}"]
    try:
        return differences_in(engine, crs, jobs)
    finally:
        engine.dispose()


def raw_jobs(cluster: Cluster, namespace: str) -> list[dict[str, Any]]:
    """The namespace's Jobs as the apiserver sends them (camelCase), for `mirror_differences(jobs=...)`."""
    resp = cluster.batch().list_namespaced_job(namespace, _preload_content=False)
    items: list[dict[str, Any]] = json.loads(resp.data)["items"]
    return items
