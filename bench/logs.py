"""Figure 8, log and large-result cost per task on the real node (issue 18): N Tasks of each kind —
printing 0 B, 64 KiB, 1 MiB or 4 MiB of log, returning 1 KiB (in the termination message) or 600 KiB
(framed in the log) — against the 0-byte kind measured in the same run.

Every kind runs the same handler through the executor runtime (`python3 -c`, inline in the executor
image), so only the bytes differ. Per kind: Tasks created → all Succeeded, and → every pod's log
finalizer gone (the log and any large result in SQL); CPU seconds per task of the operator and the
apiserver while that lasted; SQL bytes per task, as the kept columns (log head + tail, result body)
and as the mirror database's growth in used pages (SQLite: (page_count − freelist_count) × page_size,
which the earlier figures' deleted rows do not blur). One kind at a time, each in its own namespace,
deleted (and gone) before the next.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from bench.context import Context, log
from bench.e2e import PREFIXES, released
from bench.harness import counted, parallel
from kubetask.store import make_engine
from kubetask.store.tables import AttemptLogRow, AttemptResultRow
from kubetask.testing.cluster import GROUP, VERSION, python_spec, task

TIMEOUT = 900
KIB = 1024
HANDLER = "bench-cost"
# lines of 1 KiB (an 8-digit number, filler, newline) as the log tests print; then the result
CODE = """\
import sys
from kubetask.executor import handler
from kubetask.executor.runtime import main

@handler("{handler}")
def cost(_params):
    w = sys.stdout.write
    for i in range({lines}):
        w(f"{{i:08d}}" + "x" * 1015 + "\\n")
    sys.stdout.flush()
    return {result}

sys.argv = ["kubetask-executor", "{handler}"]
main()
"""


@dataclass(frozen=True)
class Kind:
    """What a task of this kind prints (KiB of log) and returns (KiB of result JSON; 0: `{}`)."""

    label: str
    log_kib: int
    result_kib: int

    def result_bytes(self) -> int:
        return self.result_kib * KIB if self.result_kib else 2

    def code(self) -> str:
        # {"x":"…"}: 8 bytes around the string, so the JSON text is exactly result_kib KiB
        result = f'{{"x": "r" * {self.result_kib * KIB - 8}}}' if self.result_kib else "{}"
        return CODE.format(handler=HANDLER, lines=self.log_kib, result=result)


KINDS = (
    Kind("0 B log, {} result (baseline)", 0, 0),
    Kind("64 KiB log", 64, 0),
    Kind("1 MiB log", 1024, 0),
    Kind("4 MiB log (cut to 64 KiB + 1 MiB)", 4096, 0),
    Kind("1 KiB result", 0, 1),
    Kind("600 KiB result (framed)", 0, 600),
)


def run(ctx: Context, record: dict[str, Any], _figures: dict[str, dict[str, Any]]) -> None:
    n = ctx.sizes.logs_n
    record["n"] = n
    ctx.clear((*PREFIXES, "e2e", "logs"))
    if not node_ready(ctx):
        log("log cost: starting the node")
        ctx.node_up()
    engine = make_engine(ctx.op.database_url)
    try:
        record["rows"] = []
        for kind in KINDS:
            record["rows"].append(one_kind(ctx, engine, kind, n))
            ctx.clear(("logs",))
    finally:
        engine.dispose()


def node_ready(ctx: Context) -> bool:
    for node in ctx.core.list_node().items:
        for c in node.status.conditions or []:
            if c.type == "Ready" and c.status == "True":
                return True
    return False


def one_kind(ctx: Context, engine: Engine, kind: Kind, n: int) -> dict[str, Any]:
    log(f"log cost: {n} Tasks, {kind.label}")
    ns = ctx.namespace("logs")
    names = [f"c{i}" for i in range(n)]
    body = python_spec(kind.code())
    finals = ctx.tasks_final(ns)
    meter = ctx.meter()
    used_before = used_bytes(engine)
    load_before = os.getloadavg()
    try:
        meter.start()
        t0 = time.monotonic()
        parallel(
            lambda x: ctx.custom.create_namespaced_custom_object(GROUP, VERSION, ns, "tasks", task(x, **body)), names
        )
        finals.wait_for(names, TIMEOUT)
        kept = released(ctx, ns, t0, TIMEOUT)
        cpu = meter.stop()
    finally:
        finals.stop()
    ok = [x for x in names if finals.value.get(x) == "Succeeded"]
    other: dict[str, int] = {}
    for x in names:
        if x in finals.value and finals.value[x] != "Succeeded":
            other[str(finals.value[x])] = other.get(str(finals.value[x]), 0) + 1
    return {
        "kind": kind.label,
        "log_bytes": kind.log_kib * KIB,
        "result_bytes": kind.result_bytes(),
        **counted(f"{n} Tasks Succeeded ({kind.label})", n=n, seen=len(ok), seconds=finals.last(ok, t0)),
        "other_outcomes": other,
        "released_seconds": kept,
        "cpu_seconds": cpu,
        "sql": kept_bytes(engine, ns),
        "db_growth_bytes": used_bytes(engine) - used_before,
        "loadavg": {"before": list(load_before), "after": list(os.getloadavg())},
    }


def kept_bytes(engine: Engine, ns: str) -> dict[str, int]:
    """What the kept rows of `ns` hold: log rows and their head + tail characters (ASCII here: bytes),
    result rows and their body characters."""
    with Session(engine) as s:
        logs = s.execute(
            select(
                func.count(),
                func.coalesce(func.sum(func.length(AttemptLogRow.head) + func.length(AttemptLogRow.tail)), 0),
            ).where(AttemptLogRow.namespace == ns)
        ).one()
        results = s.execute(
            select(func.count(), func.coalesce(func.sum(func.length(AttemptResultRow.body)), 0)).where(
                AttemptResultRow.namespace == ns
            )
        ).one()
    return {"log_rows": logs[0], "log_bytes": int(logs[1]), "result_rows": results[0], "result_bytes": int(results[1])}


def used_bytes(engine: Engine) -> int:
    """Bytes of the mirror database in use: SQLite's pages not on the free list, PostgreSQL's database size."""
    with engine.connect() as c:
        if engine.dialect.name == "postgresql":
            return int(c.execute(text("SELECT pg_database_size(current_database())")).scalar_one())
        pages = c.execute(text("PRAGMA page_count")).scalar_one()
        free = c.execute(text("PRAGMA freelist_count")).scalar_one()
        size = c.execute(text("PRAGMA page_size")).scalar_one()
    return int((pages - free) * size)
