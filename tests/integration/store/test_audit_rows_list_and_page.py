"""The audit trail's SQL on SQLite and a real PostgreSQL: a row written before, finished after; the
listing's filters, namespace restriction and cursor pages; retention's purge."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from kubetask.store import audit
from kubetask.store.queries import CursorError
from kubetask.store.tables import AuditRow

T0 = datetime(2026, 6, 1, tzinfo=UTC)
Values = dict[str, Any]  # an audit row by column name


def _row(i: int, *, ns: str | None, user: str | None, verb: str = "create", decision: str = "allowed") -> Values:
    return {
        "time": T0 + timedelta(minutes=i),
        "user": user,
        "groups": ["g"] if user else [],
        "verb": verb,
        "resource": "tasks",
        "namespace": ns,
        "name": f"t-{i}",
        "operation": "POST /api/v1/namespaces/{ns}/tasks",
        "decision": decision,
        "status": 201 if decision == "allowed" else 403,
        "request_id": f"r-{i}",
        "source": "127.0.0.1",
    }


@pytest.fixture
def rows(engine: Engine) -> list[int]:
    """Ten rows a minute apart: alice in a (creates), bob in b (deletes, refused), cluster-wide ones."""
    made = [
        _row(0, ns="a", user="alice"),
        _row(1, ns="b", user="bob", verb="delete", decision="forbidden"),
        _row(2, ns=None, user=None, verb="list", decision="unauthenticated"),
        _row(3, ns="a", user="alice"),
        _row(4, ns="b", user="bob", verb="delete", decision="forbidden"),
        _row(5, ns="a", user="bob", verb="patch"),
        _row(6, ns=None, user="alice", verb="create"),
        _row(7, ns="a", user="alice"),
        _row(8, ns="b", user="alice"),
        _row(9, ns="c", user="carol"),
    ]
    with engine.begin() as conn:
        ids = [audit.record(conn, r) for r in made[:5]]
        audit.record_many(conn, made[5:])  # the refusals' way in
    return ids


def _ids(engine: Engine, **q: object) -> list[str]:
    with Session(engine) as s:
        return [r.request_id for r in audit.list_audit(s, audit.AuditQuery(**q)).items]  # type: ignore[arg-type]


@pytest.mark.usefixtures("rows")
def test_filters_each_and_together(engine: Engine) -> None:
    assert _ids(engine) == [f"r-{i}" for i in range(9, -1, -1)]  # newest first
    assert _ids(engine, users=["bob"]) == ["r-5", "r-4", "r-1"]
    assert _ids(engine, namespace=["a"]) == ["r-7", "r-5", "r-3", "r-0"]
    assert _ids(engine, verbs=["delete", "patch"]) == ["r-5", "r-4", "r-1"]
    assert _ids(engine, decisions=["forbidden", "unauthenticated"]) == ["r-4", "r-2", "r-1"]
    since, until = T0 + timedelta(minutes=3), T0 + timedelta(minutes=7)
    assert _ids(engine, since=since, until=until) == ["r-6", "r-5", "r-4", "r-3"]  # until is exclusive
    assert _ids(engine, users=["alice"], namespace=["a", "b"], since=since) == ["r-8", "r-7", "r-3"]


@pytest.mark.usefixtures("rows")
def test_a_caller_of_some_namespaces_sees_only_their_rows(engine: Engine) -> None:
    assert _ids(engine, namespaces=["a"], cluster_rows=False) == ["r-7", "r-5", "r-3", "r-0"]
    assert _ids(engine, namespaces=[], cluster_rows=False) == []
    assert _ids(engine, namespaces=["a", "c"], cluster_rows=False, users=["carol", "bob"]) == ["r-9", "r-5"]
    assert _ids(engine, namespaces=["c"], cluster_rows=True) == ["r-9", "r-6", "r-2"]
    with Session(engine) as s:
        assert sorted(audit.namespaces(s)) == ["a", "b", "c"]


@pytest.mark.usefixtures("rows")
def test_pages_follow_the_cursor_to_the_end_without_repeats(engine: Engine) -> None:
    seen: list[str] = []
    cursor = None
    with Session(engine) as s:
        for _ in range(10):
            page = audit.list_audit(s, audit.AuditQuery(limit=3, cursor=cursor))
            seen += [r.request_id for r in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert seen == [f"r-{i}" for i in range(9, -1, -1)]
        with pytest.raises(CursorError):
            audit.list_audit(s, audit.AuditQuery(cursor="not-a-cursor"))


def test_answers_set_status_and_decision_and_name_a_create_once(engine: Engine) -> None:
    with engine.begin() as conn:
        unnamed = {**_row(0, ns="a", user="alice"), "name": None, "status": None}
        row_id = audit.record(conn, unnamed)
        named_id = audit.record(conn, _row(1, ns="a", user="alice"))
        audit.finish_many(
            conn,
            [
                {"row_id": row_id, "status": 201, "decision": "allowed", "created": "made-1"},
                {"row_id": named_id, "status": 403, "decision": "forbidden", "created": "other"},
            ],
        )
    with Session(engine) as s:
        got = {r.id: (r.name, r.status, r.decision) for r in s.query(AuditRow)}
    assert got == {row_id: ("made-1", 201, "allowed"), named_id: ("t-1", 403, "forbidden")}


@pytest.mark.usefixtures("rows")
def test_purge_deletes_only_rows_older_than_the_cutoff(engine: Engine) -> None:
    with Session(engine) as s:
        assert audit.purge(s, T0 + timedelta(minutes=4)) == 4
    assert _ids(engine) == [f"r-{i}" for i in range(9, 3, -1)]
