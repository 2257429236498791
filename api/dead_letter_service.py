"""Dead letters: list, redrive (a fresh Task linked to the original), purge.

A redrive creates Task `<original>-r<n>` from the original's spec (from the CR while it exists,
else from history), with `spec.redriveOf` naming the original; the name is deterministic, so
a repeated or concurrent redrive of the same dead letter returns the same new task. Purging is
the one write the API makes to SQL: it deletes history on an operator's explicit request (and
the Task CR, if it still exists); the operator never recreates a purged row because the CR is
gone.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session, sessionmaker

from kubetask.labels import ANNOTATION_SUBMITTED_BY, LABEL_REDRIVE_OF, label_value
from kubetask.models import API_VERSION
from kubetask.store import queries
from kubetask.store.tables import DeadLetterRow, TaskRow

from .bodies import DeadLetterPublic, RedriveRequest, RedriveResult
from .custom_resources import CustomResources
from .problems import ProblemError, conflict, not_found
from .validation import check_namespace


def dead_letter_public(dl: DeadLetterRow, task: TaskRow) -> DeadLetterPublic:
    return DeadLetterPublic(
        namespace=dl.namespace,
        name=dl.name,
        uid=task.uid,
        template=dl.template,
        reason=dl.reason,
        message=dl.message,
        attempt_count=dl.attempt_count,
        dead_lettered_at=dl.dead_lettered_at,
        redrive_count=dl.redrive_count,
        last_redrive=dl.last_redrive,
        last_redrive_at=dl.last_redrive_at,
    )


class DeadLetterService:
    """Dead-letter use cases: redrive one or many (a new Task per dead letter), purge history."""

    def __init__(self, crs: CustomResources, sessions: sessionmaker[Session]) -> None:
        self.crs = crs
        self.sessions = sessions

    def redrive(self, ns: str, name: str, *, submitted_by: str | None = None) -> str:
        """Create the redrive Task of a dead letter; returns its name. `submitted_by`: the caller's
        user name, kept in the `kubetask.io/submitted-by` annotation."""
        check_namespace(ns)
        with self.sessions() as s:
            found = queries.find_dead_letter(s, ns, name)
            if found is None:
                raise not_found(f"no dead letter for Task {name!r} in namespace {ns!r}")
            dl, row = found
            count, uid, stored_spec, labels = dl.redrive_count, row.uid, row.spec, dict(row.labels or {})
        cr = self.crs.get(ns, "tasks", name)
        spec = copy.deepcopy((cr or {}).get("spec") if cr and cr["metadata"]["uid"] == uid else stored_spec)
        if not spec:
            raise conflict(f"the spec of {name!r} is not in history (mirrored before 0002); cannot redrive")
        for key in ("cancel", "idempotencyKey"):
            spec.pop(key, None)
        # a spec stored before the CRDs stopped declaring nullable fields may hold nulls: omit them
        spec = {key: value for key, value in spec.items() if value is not None}
        spec["redriveOf"] = {"name": name, "uid": uid}
        new_name = f"{name[:240]}-r{count + 1}"
        labels[LABEL_REDRIVE_OF] = label_value(name)
        meta: dict[str, Any] = {"name": new_name, "labels": labels}
        if submitted_by:
            meta["annotations"] = {ANNOTATION_SUBMITTED_BY: submitted_by}
        body = {"apiVersion": API_VERSION, "kind": "Task", "metadata": meta, "spec": spec}
        try:
            self.crs.create(ns, "tasks", body)
        except ProblemError as e:
            if e.status != 409:
                raise
            existing = self.crs.get(ns, "tasks", new_name)
            if existing is None or ((existing.get("spec") or {}).get("redriveOf") or {}).get("uid") != uid:
                raise conflict(f"Task {new_name!r} exists and is not a redrive of {name!r}") from e
        return new_name

    def redrive_many(
        self, req: RedriveRequest, *, namespaces: Sequence[str] | None = None, submitted_by: str | None = None
    ) -> list[RedriveResult]:
        """Redrive `req`'s items, or the pending dead letters its filters select (of `namespaces` only,
        unless None); one result per dead letter, an error in it when that one could not be redriven."""
        if req.items is not None:
            targets = [(i.namespace, i.name) for i in req.items]
        else:
            with self.sessions() as s:
                page = queries.list_dead_letters(
                    s,
                    namespace=req.namespace,
                    namespaces=namespaces,
                    templates=[req.template] if req.template else [],
                    reasons=[req.reason] if req.reason else [],
                    pending_only=True,
                    limit=req.limit,
                )
                targets = [(dl.namespace, dl.name) for dl, _ in page.items]
        out = []
        for ns, name in targets:
            try:
                out.append(
                    RedriveResult(namespace=ns, original=name, task=self.redrive(ns, name, submitted_by=submitted_by))
                )
            except ProblemError as e:
                out.append(RedriveResult(namespace=ns, original=name, error=e.detail))
        return out

    def purge(self, ns: str, name: str) -> None:
        check_namespace(ns)
        with self.sessions() as s, s.begin():
            found = queries.find_dead_letter(s, ns, name)
            if found is None:
                raise not_found(f"no dead letter for Task {name!r} in namespace {ns!r}")
            dl, row = found
            cr = self.crs.get(ns, "tasks", name)
            if cr is not None and cr["metadata"]["uid"] == row.uid:
                self.crs.delete(ns, "tasks", name)
            s.execute(sql_delete(DeadLetterRow).where(DeadLetterRow.id == dl.id))
            s.execute(sql_delete(TaskRow).where(TaskRow.id == row.id))
