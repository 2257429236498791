"""The benchmark's report: `latest.json` and the Markdown page, for complete, partial and failed runs.

A figure's status is derived here, from what it recorded, never from what it meant to do:
FAILED when it raised (its error is shown, with whatever it measured before), PARTIAL when any
measured pass saw fewer than all of its objects (`k of n`), or a part of it could not run, and
COMPLETE otherwise. Rates and ratios are computed from the `per_s` of each pass, which divides what
was seen by the time to the last one seen. A benchmark run takes 20 minutes: a report that breaks at
the end loses it, so every renderer reads with `.get` and renders what is there.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

FIGURES = {
    "dispatch": "1. Dispatch throughput (control plane without scheduler or kubelet)",
    "latency": "2. Latency (seconds)",
    "api": "3. API submissions",
    "scale": "4. Operator scale",
    "history": "5. History queries, PostgreSQL",
    "e2e": "6. End to end on the real node",
    "schedules": "7. Schedule lateness against CronJob (control plane without a node)",
    "logs": "8. Log and large-result cost per task on the real node",
    "auth": "9. API submissions, authentication on vs off",
}
COMPLETE, PARTIAL, FAILED = "COMPLETE", "PARTIAL", "FAILED"
KEPT = ("when", "commit", "sizes")  # the stamp `--merge` puts on a figure kept from an earlier run


def passes(value: Any) -> Iterator[dict[str, Any]]:
    """Every measured pass (a dict made by `bench.harness.counted`) anywhere inside a figure's record."""
    if isinstance(value, dict):
        if {"what", "n", "seen"} <= value.keys():
            yield value
        for v in value.values():
            yield from passes(v)
    elif isinstance(value, list):
        for v in value:
            yield from passes(v)


def _not_run(value: Any) -> Iterator[str]:
    """Parts of a figure that recorded why they could not run (`{"not_run": reason}`)."""
    if isinstance(value, dict):
        if "not_run" in value:
            yield str(value["not_run"])
        for v in value.values():
            yield from _not_run(v)
    elif isinstance(value, list):
        for v in value:
            yield from _not_run(v)


def status(fig: dict[str, Any]) -> str:
    if fig.get("error"):
        return FAILED
    if any(p["seen"] < p["n"] for p in passes(fig)) or any(True for _ in _not_run(fig)):
        return PARTIAL
    return COMPLETE


def shortfalls(fig: dict[str, Any]) -> list[str]:
    """What made a figure PARTIAL, one phrase each."""
    out = [f"{p['what']}: only {p['seen']} of {p['n']}" for p in passes(fig) if p["seen"] < p["n"]]
    return out + [f"not run: {x}" for x in _not_run(fig)]


def to_json(result: dict[str, Any]) -> str:
    """The run as JSON, each figure with its derived status."""
    figures = {k: {**v, "status": status(v)} for k, v in (result.get("figures") or {}).items()}
    return json.dumps({**result, "figures": figures}, indent=2, default=str)


# -- formatting ----------------------------------------------------------------------------------


def num(value: Any, fmt: str = ".1f") -> str:
    """A number, or "—" when it was not measured."""
    return "—" if value is None else format(value, fmt)


def ratio(a: Any, b: Any) -> float | None:
    return a / b if a is not None and b else None


def seen(p: dict[str, Any] | None) -> str:
    """`k/n` of a pass, flagged when short."""
    if not p:
        return "—"
    return f"{p['seen']}/{p['n']}" + ("" if p["seen"] >= p["n"] else " PARTIAL")


def _cell(text: str, limit: int = 300) -> str:
    """One line of text safe inside a table cell or a status line."""
    line = " ".join(text.split())
    return (line[:limit] + "…" if len(line) > limit else line).replace("|", "\\|")


def summary_table(figures: dict[str, dict[str, Any]]) -> list[str]:
    lines = ["| figure | status | measured |", "|---|---|---|"]
    for key, title in FIGURES.items():
        if key not in figures:
            lines.append(f"| {title.split(' (')[0]} | not run | |")
            continue
        fig = figures[key]
        st = status(fig)
        if st == FAILED:
            what = _cell(str(fig["error"]))
        elif st == PARTIAL:
            what = _cell("; ".join(shortfalls(fig)))
        else:
            ps = list(passes(fig))
            what = (
                f"{len(ps)} measured pass{'' if len(ps) == 1 else 'es'}, {sum(p['seen'] for p in ps)} of "
                f"{sum(p['n'] for p in ps)} objects seen"
            )
        lines.append(f"| {title.split(' (')[0]} | {st} | {what} |")
    return lines


def status_lines(fig: dict[str, Any]) -> list[str]:
    """Under a figure's heading: nothing when complete; what failed or fell short otherwise."""
    st = status(fig)
    if st == FAILED:
        before = " — what it measured before that is below" if set(fig) - {"error", "status"} else ""
        return ["", f"**FAILED**: `{_cell(str(fig['error']), 2000)}`{before}"]
    if st == PARTIAL:
        return ["", "**PARTIAL**: " + _cell("; ".join(shortfalls(fig)), 2000)]
    return []


def markdown(result: dict[str, Any]) -> str:
    """The whole page: a summary of every figure's status, then one section per figure that ran."""
    figures: dict[str, dict[str, Any]] = result.get("figures") or {}
    lines = [f"# kubetask benchmarks — {result.get('when', '')}", "", f"Machine: {result.get('machine', '')}", ""]
    if result.get("commit"):
        lines += [f"Commit: {result['commit']} (every figure below without a *kept* line)", ""]
    lines += summary_table(figures)
    for key, title in FIGURES.items():
        if key in figures:
            fig = figures[key]
            lines += ["", f"## {title}", *status_lines(fig)]
            if fig.get("when"):  # kept by `--merge` from an earlier run
                of = f" (commit {fig['commit']})" if fig.get("commit") else ""
                lines += ["", f"*Kept from the run of {fig['when']}{of} (`--merge`): not measured in this run.*"]
            if set(fig) - {"error", "status", *KEPT}:  # a figure that failed before measuring anything has no table
                lines += RENDER[key](fig, figures)
    return "\n".join(lines) + "\n"


# -- one renderer per figure: (its record, every figure's record) -> lines -------------------------


def _dispatch(fig: dict[str, Any], _all: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "| tasks | floor: bare Jobs/s | kubetask Tasks→Jobs/s | ratio | floor 2: Task+Job+status/s | ratio 2 "
        "| seen: floor · floor 2 · kubetask |",
        "|---|---|---|---|---|---|---|",
    ]
    for d in fig.get("rows") or []:
        floor, writes, kt = (d.get(k) or {} for k in ("floor", "writes_floor", "kubetask"))
        f, w, k = floor.get("per_s"), writes.get("per_s"), kt.get("per_s")
        lines.append(
            f"| {d['n']} | {num(f)} | {num(k)} | {num(ratio(k, f), '.2f')} | {num(w)} | "
            f"{num(ratio(k, w), '.2f')} | {seen(floor)} · {seen(writes)} · {seen(kt)} |"
        )
    return lines + _metrics_table(fig.get("rows") or []) + _cpu_table(fig.get("rows") or [])


def _metrics_table(rows: list[dict[str, Any]]) -> list[str]:
    """The operator's metrics on vs off: the on pass's rate over the mean of the two off passes'."""
    out: list[str] = []
    for d in rows:
        m = d.get("metrics") or {}
        if not m:
            continue
        off, on, again = d.get("kubetask") or {}, m.get("on") or {}, m.get("off_again") or {}
        offs = [p["per_s"] for p in (off, again) if p.get("per_s")]
        base = sum(offs) / len(offs) if offs else None
        sc = m.get("scraper") or {}
        if not out:
            out = [
                "",
                "Metrics on vs off (the operator restarted with `KUBETASK_OPERATOR_METRICS_PORT`, scraped every "
                "second): Tasks→Jobs/s of each pass, on / mean of the two off passes (goal ≥ 0.95):",
                "",
                "| tasks | off | on | off again | on / off | operator CPU s: off · on · off again "
                "| scrapes (failed) | seen: off · on · off again |",
                "|---|---|---|---|---|---|---|---|",
            ]
        cpu = " · ".join(num((p.get("cpu_seconds") or {}).get("operator")) for p in (off, on, again))
        out.append(
            f"| {d['n']} | {num(off.get('per_s'))} | {num(on.get('per_s'))} | {num(again.get('per_s'))} | "
            f"{num(ratio(on.get('per_s'), base), '.2f')} | {cpu} | {sc.get('scrapes', 0)} ({sc.get('failures', 0)}) | "
            f"{seen(off)} · {seen(on)} · {seen(again)} |"
        )
    return out


def _cpu_table(rows: list[dict[str, Any]]) -> list[str]:
    measured = [
        (f"{d['n']} {label}", d[key]["cpu_seconds"])
        for d in rows
        for key, label in (("floor", "bare Jobs"), ("writes_floor", "Task+Job+status"), ("kubetask", "Tasks"))
        if (d.get(key) or {}).get("cpu_seconds")
    ]
    if not measured:
        return []
    names = list(measured[0][1])
    out = [
        "",
        "CPU seconds used during each pass (2 cores: the machine's budget is 2 s per second):",
        "",
        "| pass | " + " | ".join(names) + " | total |",
        "|---" * (len(names) + 2) + "|",
    ]
    for label, cpu in measured:
        cells = " | ".join(f"{cpu.get(x, 0):.1f}" for x in names)
        out.append(f"| {label} | {cells} | {sum(cpu.values()):.1f} |")
    return out


def _latency(fig: dict[str, Any], figures: dict[str, Any]) -> list[str]:
    lines = ["", "| path | when | seen | p50 | p95 | p99 |", "|---|---|---|---|---|---|"]

    def row(path: str, when: str, p: dict[str, Any] | None) -> None:
        if p:
            lines.append(
                f"| {path} | {when} | {seen(p)} | {num(p['p50'], '.3f')} | {num(p['p95'], '.3f')} | "
                f"{num(p['p99'], '.3f')} |"
            )

    idle, load = fig.get("idle") or {}, fig.get("load") or {}
    first = ((figures.get("dispatch") or {}).get("rows") or [{}])[0]
    row("Task created → Job created", "idle", idle.get("task_to_job"))
    row("Task created → Job created", f"load ({first.get('n')} at once)", first.get("task_to_job_latency_under_load"))
    row("pod finished → Task final", "idle", idle.get("pod_done_to_task_final"))
    row("pod finished → Task final", f"load ({load.get('pods_finished')} at once)", load.get("pod_done_to_task_final"))
    return lines


def _api(fig: dict[str, Any], _all: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "| backend | n | concurrency | floor/s (CR + 1 insert) | floor p99 ms | API/s | API p99 ms | ratio "
        "| seen: floor · API |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in fig.get("rows") or []:
        floor, api = a.get("floor") or {}, a.get("api") or {}
        f, x = floor.get("per_s"), api.get("per_s")
        lines.append(
            f"| {a['backend']} | {floor.get('n', '—')} | {a['concurrency']} | {num(f)} | "
            f"{num(floor.get('p99_ms'), '.0f')} | {num(x)} | {num(api.get('p99_ms'), '.0f')} | "
            f"{num(ratio(x, f), '.2f')} | {seen(floor)} · {seen(api)} |"
        )
    return lines


def _scale(fig: dict[str, Any], _all: dict[str, Any]) -> list[str]:
    base = fig.get("baseline_rss_mib")
    lines = [
        "",
        f"Operator RSS before any Task: {num(base, '.0f')} MiB. Task counts are listed from the cluster.",
        "",
        "| active Tasks | final Tasks | RSS MiB | KiB per Task over the baseline | top-up seen |",
        "|---|---|---|---|---|",
    ]
    for x in fig.get("rows") or []:
        held = x["active_tasks"] + x["final_tasks"]
        per = (x["rss_mib"] - base) * 1024 / held if base is not None and held else None
        lines.append(
            f"| {x['active_tasks']} | {x['final_tasks']} | {x['rss_mib']:.0f} | {num(per)} | "
            f"{seen(x.get('top_up')) if 'top_up' in x else 'figure 1'} |"
        )
    return lines + _restart(fig.get("restart"))


def _restart(rs: dict[str, Any] | None) -> list[str]:
    if not rs:
        return []
    if rs.get("timed_out"):
        return [
            "",
            f"SIGKILL and restart with {rs['n']} Tasks in the cluster: **timed out** — no "
            f"`resync: N tasks reconciled` line within {rs['timeout_seconds']} s.",
        ]
    return [
        "",
        f"SIGKILL and restart with {rs['n']} Tasks in the cluster: {rs['seen']} of them re-derived "
        f"(log `resync: N tasks reconciled`) {num(rs['seconds'])} s after the new process began.",
    ]


def _history(fig: dict[str, Any], _all: dict[str, Any]) -> list[str]:
    floor = fig.get("floor") or {}
    fp99 = floor.get("p99_ms")
    lines = [
        "",
        f"{fig.get('rows', 0):,} generated rows; floor: bare newest-50 SELECT, p99 {num(fp99)} ms ({_answer(floor)}).",
        "",
        "| query | p50 ms | p99 ms | p99 / floor | answer |",
        "|---|---|---|---|---|",
    ]
    for label, v in (fig.get("queries") or {}).items():
        lines.append(
            f"| {label} | {v['p50_ms']:.1f} | {v['p99_ms']:.1f} | {num(ratio(v['p99_ms'], fp99))} | {_answer(v)} |"
        )
    return lines


def _answer(v: dict[str, Any]) -> str:
    if not v:
        return "not measured"
    if v.get("ok"):
        return f"checked, {v.get('returned')} rows"
    want = f", expected {v['expected']}" if v.get("expected") is not None else ""
    return f"WRONG: {v.get('returned')} rows{want}"


def _e2e(fig: dict[str, Any], _all: dict[str, Any]) -> list[str]:
    floor, kt = fig.get("floor") or {}, fig.get("kubetask") or {}
    complete = bool(floor) and bool(kt) and floor["seen"] == floor["n"] and kt["seen"] == kt["n"]
    overhead = (kt["seconds"] - floor["seconds"]) / kt["n"] * 1000 if complete else None
    other = {f"bare Jobs {k}": v for k, v in (floor.get("other_outcomes") or {}).items()}
    other |= {f"Tasks {k}": v for k, v in (kt.get("other_outcomes") or {}).items()}
    return [
        "",
        "| n | bare Jobs (s) | kubetask (s) | ratio (kubetask rate / floor rate) | overhead per task (ms) "
        "| seen: floor · kubetask | did not succeed |",
        "|---|---|---|---|---|---|---|",
        f"| {fig.get('n')} | {num(floor.get('seconds'))} | {num(kt.get('seconds'))} | "
        f"{num(ratio(kt.get('per_s'), floor.get('per_s')), '.2f')} | {num(overhead, '.0f')} | "
        f"{seen(floor)} · {seen(kt)} | {', '.join(f'{k}: {v}' for k, v in other.items()) or 'none'} |",
        *_logs_on_off(fig),
    ]


def _logs_on_off(fig: dict[str, Any]) -> list[str]:
    """Figure 6's passes with log keeping on, off (the operator restarted) and on again, in that order."""
    off = fig.get("kubetask_logs_off")
    if not off:
        return []
    floor = fig.get("floor") or {}
    lines = [
        "",
        "Log keeping on, off (`KUBETASK_OPERATOR_KEEP_LOGS=false`) and on again, back to back; time to the last "
        "Task Succeeded, and to the last pod let go (its log in SQL); on / off compares those times.",
        "",
        "| pass | logs kept | seen | Tasks Succeeded (s) | ratio to bare Jobs | on / off | last log kept (s) "
        "| operator CPU s | apiserver CPU s | load (1 min) before → after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for label, key in (("first", "kubetask"), ("off", "kubetask_logs_off"), ("again", "kubetask_again")):
        p = fig.get(key)
        if not p:
            continue
        cpu = p.get("cpu_seconds") or {}
        load = p.get("loadavg") or {}
        before, after = ((load.get(k) or [None])[0] for k in ("before", "after"))
        kept = "on" if p.get("logs_kept", key != "kubetask_logs_off") else "off"
        lines.append(
            f"| {label} | {kept} | {seen(p)} | {num(p.get('seconds'))} | "
            f"{num(ratio(p.get('per_s'), floor.get('per_s')), '.2f')} | "
            f"{num(ratio(p.get('seconds'), off.get('seconds')), '.2f')} | {num(p.get('released_seconds'))} | "
            f"{num(cpu.get('operator'))} | {num(cpu.get('kube-apiserver'))} | "
            f"{num(before, '.2f')} → {num(after, '.2f')} |"
        )
    return lines


def _logs(fig: dict[str, Any], _all: dict[str, Any]) -> list[str]:
    rows = fig.get("rows") or []
    base = rows[0] if rows else {}
    lines = [
        "",
        f"{fig.get('n')} Tasks per kind, one kind at a time; the first kind (0 B of log, `{{}}`) is the baseline, "
        "measured in the same run. Seconds from the first create to the last Task Succeeded, and to the last pod "
        "let go (log and large result in SQL); CPU and SQL per task; × = this kind's value / the baseline's.",
        "",
        "| kind | seen | Succeeded (s) | × | last log kept (s) | × | operator CPU ms/task | × "
        "| apiserver CPU ms/task | kept log + result KiB/task | DB growth KiB/task | load before → after |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def per_task_ms(r: dict[str, Any], who: str) -> float | None:
        cpu = (r.get("cpu_seconds") or {}).get(who)
        return cpu * 1000 / r["n"] if cpu is not None and r.get("n") else None

    for r in rows:
        sql = r.get("sql") or {}
        kept_kib = (sql.get("log_bytes", 0) + sql.get("result_bytes", 0)) / 1024 / r["n"] if r.get("n") else None
        growth = r.get("db_growth_bytes")
        load = r.get("loadavg") or {}
        before, after = ((load.get(k) or [None])[0] for k in ("before", "after"))
        op, base_op = per_task_ms(r, "operator"), per_task_ms(base, "operator")
        secs, kept = r.get("seconds"), r.get("released_seconds")
        cells = [
            str(r.get("kind")),
            seen(r),
            num(secs),
            num(ratio(secs, base.get("seconds")), ".2f"),
            num(kept),
            num(ratio(kept, base.get("released_seconds")), ".2f"),
            num(op, ".0f"),
            num(ratio(op, base_op), ".2f"),
            num(per_task_ms(r, "kube-apiserver"), ".0f"),
            num(kept_kib),
            num(growth / 1024 / r["n"] if growth is not None and r.get("n") else None),
            f"{num(before, '.2f')} → {num(after, '.2f')}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    other = [
        f"{r.get('kind')}: " + ", ".join(f"{k} {v}" for k, v in r["other_outcomes"].items())
        for r in rows
        if r.get("other_outcomes")
    ]
    if other:
        lines += ["", "Did not succeed: " + "; ".join(other) + "."]
    return lines


def _schedules(fig: dict[str, Any], _all: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"Lateness = created − nominal instant, seconds, from a watch; {fig.get('minutes')} minute(s) of "
        "instants per pass, every schedule due once a minute. CPU: seconds used by the component per minute "
        "measured, per 1000 schedules; memory: RSS growth from before the schedules to when they were "
        "settled, per 1000 schedules.",
        "",
        "| side | schedules | due | measured | seen | p50 | p95 | p99 | max | CPU s/min/1000 | MiB/1000 |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in fig.get("rows") or []:
        me = "operator" if r.get("side") == "kubetask" else "kube-controller-manager"
        per_k = r["n"] / 1000
        minutes = (r.get("measured_seconds") or 0) / 60
        cpu = (r.get("cpu_seconds") or {}).get(me)
        mem = (r.get("memory_mib") or {}).get(me) or {}
        grew = mem["settled"] - mem["before"] if {"settled", "before"} <= mem.keys() else None
        for what in ("Task created", "Job created"):
            p = r.get(what)
            if not p:
                continue
            lines.append(
                f"| {r['side']} ({me}) | {r['n']} | {r['pattern']} `{r['schedule']}` | {what} − nominal | {seen(p)} "
                f"| {num(p.get('p50'), '.2f')} | {num(p.get('p95'), '.2f')} | {num(p.get('p99'), '.2f')} "
                f"| {num(p.get('max'), '.2f')} | {num(ratio(ratio(cpu, minutes), per_k), '.1f')} "
                f"| {num(ratio(grew, per_k), '.1f')} |"
            )
    lines += _schedule_cpu(fig.get("rows") or [])
    for key, label in (("controller_manager_v2", "with CronJobControllerV2"), ("controller_manager_back", "back")):
        cm = fig.get(key)
        if cm:
            said = cm.get("cronjob_controller_log")
            lines += [
                "",
                f"kube-controller-manager restarted {label} (gates {cm.get('gates')}): its log said "
                f"{repr(said) if said else 'no CronJob controller start line'}.",
            ]
    return lines


def _schedule_cpu(rows: list[dict[str, Any]]) -> list[str]:
    measured = [r for r in rows if r.get("cpu_seconds")]
    if not measured:
        return []
    names = list(measured[0]["cpu_seconds"])
    out = [
        "",
        "CPU seconds used while each pass was measured (its window and the wait for its last runs; 2 cores):",
        "",
        "| pass | seconds | " + " | ".join(names) + " | total | load (1 min) before → after |",
        "|---" * (len(names) + 4) + "|",
    ]
    for r in measured:
        cpu = r["cpu_seconds"]
        cells = " | ".join(f"{cpu.get(x, 0):.1f}" for x in names)
        load = r.get("loadavg") or {}
        before, after = ((load.get(k) or [None])[0] for k in ("before", "after"))
        out.append(
            f"| {r['side']} {r['n']} {r['pattern']} | {num(r.get('measured_seconds'))} | {cells} "
            f"| {sum(cpu.values()):.1f} | {num(before, '.2f')} → {num(after, '.2f')} |"
        )
    return out


def _auth(fig: dict[str, Any], _all: dict[str, Any]) -> list[str]:
    lines = [
        "",
        f"Concurrency {fig.get('concurrency', '—')}; ratio (mean of the on passes / mean of the off passes): "
        f"**{num(fig.get('ratio'), '.2f')}** (goal ≥ 0.9).",
        "",
        "| pass | n | submissions/s | p99 ms | seen | load before → after |",
        "|---|---|---|---|---|---|",
    ]
    for r in fig.get("rows") or []:
        api = r.get("api") or {}
        load = r.get("load") or [None, None]
        lines.append(
            f"| {r.get('pass')} | {api.get('n', '—')} | {num(api.get('per_s'))} | {num(api.get('p99_ms'), '.0f')} "
            f"| {seen(api)} | {num(load[0], '.2f')} → {num(load[-1], '.2f')} |"
        )
    return lines


RENDER = {
    "dispatch": _dispatch,
    "latency": _latency,
    "api": _api,
    "scale": _scale,
    "history": _history,
    "e2e": _e2e,
    "schedules": _schedules,
    "logs": _logs,
    "auth": _auth,
}
