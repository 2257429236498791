"""PostgreSQL stopped while tasks run: tasks still finish; once it is back the mirror holds every
field the CRs state (rows, labels, attempts, events), checked by the tests' own oracle, and the
operator said it could not write during this test's outage."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubetask.testing.cluster import Cluster, OperatorProcess, create, get_task, task, template, wait_for, wait_task
from kubetask.testing.postgres import PostgresServer
from tests.oracle import mirror_differences, raw_jobs


@pytest.fixture
def own_postgres(operator: OperatorProcess) -> Iterator[PostgresServer]:
    before = operator.database_url
    server = PostgresServer()
    server.start()
    try:
        yield server
    finally:
        operator.use_database(before)
        server.destroy()


def _log_since(operator: OperatorProcess, offset: int) -> str:
    """What the operator logged after `offset`: the session operator's log is appended to by every test."""
    with operator.log.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def test_tasks_finish_while_database_is_down_and_mirror_catches_up(
    cluster: Cluster, operator: OperatorProcess, own_postgres: PostgresServer, namespace: str
) -> None:
    offset = operator.log.stat().st_size if operator.log.exists() else 0
    url = own_postgres.new_database()
    operator.use_database(url)
    create(cluster, namespace, "tasktemplates", template("sleep", handler="sleep"))
    names = [f"nap-{i}" for i in range(4)]
    for i, name in enumerate(names):
        body = task(name, templateRef={"name": "sleep"}, params={"seconds": 6, "result": {"i": i}})
        body["metadata"]["labels"] = {"outage": "yes", "i": str(i)}
        create(cluster, namespace, "tasks", body)
    # a task looked at late may be done already; the outage must still hit a write (the log check says so)
    for name in names:
        wait_task(cluster, namespace, name, {"Running", "Succeeded"})

    own_postgres.stop()
    finals = [wait_task(cluster, namespace, name)["status"] for name in names]
    assert [f["phase"] for f in finals] == ["Succeeded"] * 4
    assert [f["result"] for f in finals] == [{"i": i} for i in range(4)]

    own_postgres.start()
    last: list[list[str]] = [[]]

    def caught_up() -> bool:
        # CRs and Jobs read afresh each time: the Job controller may count the pod's success a moment
        # after the operator acted on the pod itself
        crs = [get_task(cluster, namespace, name) for name in names]
        last[0] = mirror_differences(url, crs, raw_jobs(cluster, namespace))
        return not last[0]

    try:
        wait_for("mirror caught up", caught_up, timeout=60, interval=1)
    except AssertionError:
        pass  # the assertion below names what still differs
    assert last[0] == []
    # Only what this test caused: an earlier test's outage is in the same (appended) log file.
    logged = _log_since(operator, offset)
    down = logged.find("SQL mirror cannot write")
    assert down >= 0, f"no outage line in what the operator logged during this test:\n{logged[-3000:]}"
    assert "SQL mirror is writing" in logged[down:], f"not writing again after the outage:\n{logged[down:][-3000:]}"
