"""Task use cases of the API: validate completely, then create the CR exactly as kubectl would.

The API never writes the SQL mirror (the operator is its only writer); it reads history from it
and live detail from the CR. Idempotency: a repeated `Idempotency-Key` maps to a deterministic
Task name, so two concurrent requests with the same key collide on the name and both get the
same Task; a key whose Task has already expired from the cluster is found in the mirror.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from kubetask import schema_check
from kubetask.history import TaskRecord, snapshot
from kubetask.labels import ANNOTATION_SUBMITTED_BY
from kubetask.models import API_VERSION, FINAL_PHASES, TaskTemplate
from kubetask.store import queries
from kubetask.store.tables import TaskRow

from .bodies import AttemptPublic, EventPublic, TaskCreate, TaskDetail, TaskPublic
from .custom_resources import Body, CustomResources
from .problems import FieldProblem, ProblemError, conflict, invalid, not_found, too_large
from .progress_service import ProgressReader, running
from .settings import ApiSettings
from .validation import check_namespace, label_problems, name_problems


def public_from_record(rec: TaskRecord, *, live: bool) -> TaskPublic:
    return TaskPublic(
        namespace=rec.namespace,
        name=rec.name,
        uid=rec.uid,
        template=rec.template,
        phase=rec.phase,
        reason=rec.reason,
        message=rec.message,
        params=rec.params,
        result=rec.result,
        labels=rec.labels,
        idempotency_key=rec.idempotency_key,
        created_at=rec.created_at,
        started_at=rec.started_at,
        finished_at=rec.finished_at,
        attempt_count=rec.attempt_count,
        duration_seconds=rec.duration_seconds,
        live=live,
    )


def public_from_row(row: TaskRow, *, live: bool = False) -> TaskPublic:
    return TaskPublic(
        namespace=row.namespace,
        name=row.name,
        uid=row.uid,
        template=row.template,
        phase=row.phase,
        reason=row.reason,
        message=row.message,
        params=row.params,
        result=row.result,
        labels=row.labels or {},
        idempotency_key=row.idempotency_key,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        attempt_count=row.attempt_count,
        duration_seconds=row.duration_seconds,
        live=live and row.deleted_at is None,
    )


def _run_at_problems(run_at: datetime) -> list[FieldProblem]:
    if run_at.utcoffset() is None:
        return [FieldProblem("/runAt", "needs an offset (Z or +01:00): the time is ambiguous without one")]
    try:
        run_at.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 is before the first instant a datetime can hold in UTC
        return [FieldProblem("/runAt", "is out of range in UTC (years 1 to 9999)")]
    return []


def task_spec(body: TaskCreate, idempotency_key: str | None) -> dict[str, Any]:
    """The Task's spec as `kubectl apply` would send it: only what the request set."""
    spec: dict[str, Any] = {"templateRef": {"name": body.template}}
    if body.params is not None:
        spec["params"] = body.params
    if body.timeout_seconds is not None:
        spec["timeoutSeconds"] = body.timeout_seconds
    if body.run_at is not None:  # checked to be an instant in UTC's range (`_run_at_problems`)
        spec["runAt"] = body.run_at.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if idempotency_key:
        spec["idempotencyKey"] = idempotency_key
    return spec


class TaskService:
    def __init__(self, crs: CustomResources, sessions: sessionmaker[Session], settings: ApiSettings) -> None:
        self.crs = crs
        self.sessions = sessions
        self.settings = settings
        self.progress = ProgressReader(crs.json.api, timeout=crs.timeout)

    # -- create ------------------------------------------------------------------------------

    def _check(self, ns: str, body: TaskCreate) -> dict[str, Any]:
        """Every problem with the request at once, before anything is written; returns the template spec."""
        check_namespace(ns)
        problems: list[FieldProblem] = []
        if body.name is not None:
            problems += name_problems(body.name, "/name")
        if body.generate_name:  # the apiserver appends 5 alphanumerics: the prefix less its dashes is a name
            problems += name_problems(body.generate_name.rstrip("-"), "/generateName", max_len=200)
        problems += label_problems(body.labels)
        if body.run_at is not None:
            problems += _run_at_problems(body.run_at)
        size = len(json.dumps(body.params, separators=(",", ":")).encode())
        limit = self.settings.max_params_bytes
        if size > limit:
            raise too_large(
                f"params are {size} bytes; the limit is {limit} bytes (KUBETASK_API_MAX_PARAMS_BYTES)", "/params"
            )
        raw = self.crs.get(ns, "tasktemplates", body.template)
        if raw is None:
            missing = f"TaskTemplate {body.template!r} not found in namespace {ns!r}: create it first or fix the name"
            problems.append(FieldProblem("/template", missing))
            detail = missing if len(problems) == 1 else "the request has several problems"
            raise invalid(detail, problems, slug="unknown-template")
        spec = TaskTemplate.model_validate(raw).spec
        params = body.params if body.params is not None else {}
        for e in schema_check.validate(params, spec.param_schema):
            problems.append(FieldProblem("/params" + e.pointer, e.message))
        if problems:
            slug = "invalid-params" if all(p.pointer.startswith("/params") for p in problems) else "invalid-request"
            detail = "; ".join(f"{p.pointer}: {p.message}" for p in problems[:5])
            raise invalid(detail, problems, slug=slug)
        return raw

    def create(
        self, ns: str, body: TaskCreate, idempotency_key: str | None, *, submitted_by: str | None = None
    ) -> tuple[TaskPublic, bool]:
        """(task, created): created is False when an idempotent repeat returned an existing task.
        `submitted_by`: the caller's user name, kept in the `kubetask.io/submitted-by` annotation."""
        if idempotency_key is not None and not (0 < len(idempotency_key) <= 256):
            bad_key = FieldProblem("header:Idempotency-Key", "must be 1 to 256 characters")
            raise invalid("Idempotency-Key must be 1 to 256 characters", [bad_key])
        if idempotency_key:
            with self.sessions() as s:
                row = queries.find_by_idempotency_key(s, ns, idempotency_key)
                if row is not None:
                    return public_from_row(row, live=self.crs.get(ns, "tasks", row.name) is not None), False
        self._check(ns, body)
        meta: dict[str, Any] = {"labels": body.labels}
        if submitted_by:
            meta["annotations"] = {ANNOTATION_SUBMITTED_BY: submitted_by}
        prefix = body.generate_name or f"{body.template[:52]}-"
        if body.name:
            meta["name"] = body.name
        elif idempotency_key:
            meta["name"] = prefix[:52] + hashlib.sha256(idempotency_key.encode()).hexdigest()[:10]
        else:
            meta["generateName"] = prefix[:58]
        spec = task_spec(body, idempotency_key)
        cr: Body = {"apiVersion": API_VERSION, "kind": "Task", "metadata": meta, "spec": spec}
        try:
            created = self.crs.create(ns, "tasks", cr)
        except ProblemError as e:
            if e.status != 409:
                raise
            if not idempotency_key:
                raise conflict(f"a Task named {meta.get('name')!r} already exists in namespace {ns!r}") from e
            existing = self.crs.get(ns, "tasks", meta["name"])
            if existing is None or (existing.get("spec") or {}).get("idempotencyKey") != idempotency_key:
                raise conflict(f"Task {meta['name']!r} exists with another idempotency key") from e
            return public_from_record(snapshot(existing), live=True), False
        return public_from_record(snapshot(created), live=True), True

    # -- read --------------------------------------------------------------------------------

    def detail(self, ns: str, name: str, *, progress: bool = False) -> TaskDetail:
        """Live CR status merged with history; history alone once the CR is gone. `progress`: also the
        running attempt's last progress, from its pod's log (`progress_service`; no apiserver write)."""
        check_namespace(ns)
        cr = self.crs.get(ns, "tasks", name)
        if cr is not None:
            rec = snapshot(cr)
            base = public_from_record(rec, live=True)
            atts = [AttemptPublic(**a.__dict__) for a in rec.attempts]
            conds = (cr.get("status") or {}).get("conditions") or []
            attempt = running(rec.attempts) if progress else None
            said = self.progress.read(ns, attempt) if attempt is not None else None
            return TaskDetail(**base.model_dump(), attempts=atts, conditions=conds, progress=said)
        with self.sessions() as s:
            row = queries.find_task(s, ns, name)
            if row is None:
                raise not_found(f"Task {name!r} not found in namespace {ns!r} (nor in history)")
            atts = [AttemptPublic.model_validate(a, from_attributes=True) for a in queries.attempts(s, row.id)]
            return TaskDetail(**public_from_row(row).model_dump(), attempts=atts)

    def attempts(self, ns: str, name: str) -> list[AttemptPublic]:
        return self.detail(ns, name).attempts

    def events(self, ns: str, name: str) -> list[EventPublic]:
        check_namespace(ns)
        cr = self.crs.get(ns, "tasks", name)
        if cr is not None:
            events = sorted(snapshot(cr).events, key=lambda e: e.timestamp)
            return [EventPublic(timestamp=e.timestamp, type=e.type, reason=e.reason, message=e.message) for e in events]
        with self.sessions() as s:
            row = queries.find_task(s, ns, name)
            if row is None:
                raise not_found(f"Task {name!r} not found in namespace {ns!r} (nor in history)")
            return [EventPublic.model_validate(e, from_attributes=True) for e in queries.events(s, row.id)]

    def cancel(self, ns: str, name: str) -> TaskPublic:
        """Ask the operator to stop the task (spec.cancel); 409 once it is final."""
        check_namespace(ns)
        cr = self.crs.get(ns, "tasks", name)
        if cr is None:
            raise not_found(f"Task {name!r} not found in namespace {ns!r}")
        phase = (cr.get("status") or {}).get("phase")
        if phase in FINAL_PHASES:
            raise conflict(f"Task {name!r} already finished ({phase}); nothing to cancel")
        patched = self.crs.patch(ns, "tasks", name, {"spec": {"cancel": True}})
        return public_from_record(snapshot(patched), live=True)

    def delete(self, ns: str, name: str) -> None:
        check_namespace(ns)
        if self.crs.get(ns, "tasks", name) is None:
            raise not_found(f"Task {name!r} not found in namespace {ns!r}")
        self.crs.delete(ns, "tasks", name)
