"""Large results on SQLite and a real PostgreSQL: one verdict per attempt, the body only when accepted."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

from sqlalchemy import Engine, func, inspect, select
from sqlalchemy.orm import Session

from kubetask.conditions import REASON_RESULT_LOST
from kubetask.large_results import Verdict
from kubetask.store.results import ResultRecord, keep_result, kept_result, verdict
from kubetask.store.tables import AttemptResultRow

T0 = datetime(2026, 6, 1, tzinfo=UTC)
BODY = json.dumps({"rows": ["é€" * 50] * 6000}, ensure_ascii=False, separators=(",", ":"))  # ~600 KiB


def _record(uid: str, attempt: int, *, reason: str | None = None, body: str = BODY) -> ResultRecord:
    raw = body.encode()
    v = Verdict(attempt, len(raw), hashlib.sha256(raw).hexdigest(), body[:100], reason=reason, message=reason)
    return ResultRecord(task_uid=uid, namespace="ns", task_name="t", verdict=v, body=body, kept_at=T0)


def test_an_accepted_result_is_kept_byte_for_byte_once(engine: Engine) -> None:
    with Session(engine) as s:
        assert keep_result(s, _record("u1", 1)) is True
        assert keep_result(s, _record("u1", 1, body='{"other":1}')) is False
        assert s.scalar(select(func.count()).select_from(AttemptResultRow)) == 1
        got = kept_result(s, "u1", 1)
        v = verdict(s, "u1", 1)
    assert got is not None and hashlib.sha256(got.encode()).hexdigest() == hashlib.sha256(BODY.encode()).hexdigest()
    assert v is not None and v.accepted and v.size == len(BODY.encode())


def test_a_refused_result_keeps_its_verdict_but_no_body(engine: Engine) -> None:
    with Session(engine) as s:
        keep_result(s, _record("u2", 1, reason=REASON_RESULT_LOST))
        v = verdict(s, "u2", 1)
        assert kept_result(s, "u2", 1) is None
        assert s.scalar(select(AttemptResultRow.body).where(AttemptResultRow.task_uid == "u2")) is None
    assert v is not None and v.reason == REASON_RESULT_LOST


def test_attempts_are_judged_apart_and_an_unjudged_one_has_no_verdict(engine: Engine) -> None:
    with Session(engine) as s:
        keep_result(s, _record("u3", 1, reason=REASON_RESULT_LOST))
        keep_result(s, _record("u3", 2))
        assert verdict(s, "u3", 3) is None
        one, two = verdict(s, "u3", 1), verdict(s, "u3", 2)
    assert one is not None and not one.accepted and two is not None and two.accepted


def test_the_migration_made_the_table_the_model_describes(engine: Engine) -> None:
    columns = {c["name"] for c in inspect(engine).get_columns("attempt_results")}
    assert columns == set(AttemptResultRow.__table__.columns.keys())
