"""Cron schedules of TaskSchedules, as pure functions: parsing, instants across DST, run decisions.

- `cron`: parse and validate a schedule and its zone; the instants it names (Vixie cron's DST rule).
- `plan`: one controller pass: what starts, what is missed, skipped, queued or replaced.
- `naming`: the run Task's name and an instant's jitter, both from the schedule's identity.
- `retention`: which finished run Tasks the history limits delete.
"""

from kubetask.schedules.cron import (
    DEFAULT_TIME_ZONE,
    MACROS,
    Cron,
    ScheduleError,
    instants_after,
    next_instants,
    parse_schedule,
    parse_time_zone,
)
from kubetask.schedules.naming import RUN_NAME_MAX, jitter_delay, run_task_name
from kubetask.schedules.plan import (
    DEFAULT_CONCURRENCY_POLICY,
    DEFAULT_MAX_MISSED_RUNS,
    DEFAULT_MISSED_RUN_POLICY,
    LATE_RUNS_LIMIT,
    SCAN_LIMIT,
    ConcurrencyPolicy,
    MissedRunPolicy,
    Observed,
    Plan,
    Policies,
    plan_runs,
)
from kubetask.schedules.retention import FinishedRun, runs_to_delete

__all__ = [
    "DEFAULT_CONCURRENCY_POLICY",
    "DEFAULT_MAX_MISSED_RUNS",
    "DEFAULT_MISSED_RUN_POLICY",
    "DEFAULT_TIME_ZONE",
    "LATE_RUNS_LIMIT",
    "MACROS",
    "RUN_NAME_MAX",
    "SCAN_LIMIT",
    "ConcurrencyPolicy",
    "Cron",
    "FinishedRun",
    "MissedRunPolicy",
    "Observed",
    "Plan",
    "Policies",
    "ScheduleError",
    "instants_after",
    "jitter_delay",
    "next_instants",
    "parse_schedule",
    "parse_time_zone",
    "plan_runs",
    "run_task_name",
    "runs_to_delete",
]
