"""`kubetask end2end`'s rules, pure: what to submit, how progress reads, what the outcome says.

The command (`end2end.py`) only submits, polls and prints; every decision is here, on plain
values, so it is tested without an API or a cluster. The run's tasks carry one label with a run id
(chosen by the caller), so one listing per poll follows all of them, whatever else runs.

The exit code follows the CLI's: 0 when every task succeeded, 4 when the run timed out with tasks
still unfinished (a timeout wins: the run's outcome is unknown, not failed), 1 otherwise (some
task ended in another final phase).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kubetask.models import FINAL_PHASES, Phase

from ._errors import ExitCode

RUN_LABEL = "kubetask.io/end2end-run"  # on every Task of one run, value = the run id
NOT_LISTED = "Submitted"  # a submitted task the history listing does not show yet (the mirror lags)


@dataclass(frozen=True)
class Sample:
    """A template end2end submits to; `manifest` is the spec to create it with when it is absent."""

    template: str
    params: Mapping[str, Any]
    manifest: Mapping[str, Any] | None = None

    def params_for(self, index: int) -> dict[str, Any]:
        """This sample's params; the built-in ones carry the task's index, so results differ per task."""
        filled: dict[str, Any] = _fill(dict(self.params), index)
        return filled


def _fill(value: Any, index: int) -> Any:
    if value is INDEX:
        return index
    if isinstance(value, dict):
        return {k: _fill(v, index) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, index) for v in value]
    return value


class _Index:
    """Placeholder in a sample's params for the task's index."""

    def __repr__(self) -> str:
        return "INDEX"


INDEX: Any = _Index()


def builtin_samples(image: str) -> list[Sample]:
    """The mixed set run by default: an executor handler, a sleeping one, a plain command.

    Each takes well under a second of work, so a run measures kubetask, not the tasks.
    """
    # a safety net, not a measure: 100 at once on one busy node (a CI run at load 30: 30 containers
    # starting Python on 2 cores) failed a third of them with 120 s; `--timeout` bounds the whole run
    pull = {"image": image, "imagePullPolicy": "IfNotPresent", "timeoutSeconds": 600}
    indexed = {"type": "object", "required": ["index"], "properties": {"index": {"type": "integer", "minimum": 0}}}
    command = "import json, os; json.dump(json.loads(os.environ['KUBETASK_PARAMS']), open('/dev/termination-log', 'w'))"
    return [
        Sample(
            "e2e-echo",
            {"message": "end2end", "index": INDEX},
            {**pull, "handler": "echo", "paramSchema": indexed, "resultSchema": indexed},
        ),
        Sample(
            "e2e-sleep",
            {"seconds": 0.2, "result": {"index": INDEX}},
            {
                **pull,
                "handler": "sleep",
                "paramSchema": {"type": "object", "properties": {"seconds": {"type": "number", "maximum": 5}}},
                "resultSchema": indexed,
            },
        ),
        Sample(
            "e2e-command",
            {"index": INDEX},
            {**pull, "command": ["python3", "-c", command], "paramSchema": indexed, "resultSchema": indexed},
        ),
    ]


@dataclass(frozen=True)
class Planned:
    name: str
    template: str
    params: dict[str, Any]


def plan(n: int, samples: Sequence[Sample], run_id: str) -> list[Planned]:
    """N tasks, round-robin over the samples, named `e2e-<run>-<index>` so a run is easy to find."""
    if n < 1 or not samples:
        raise ValueError("end2end needs at least one task and one template")
    width = len(str(n - 1))
    picked = [(i, samples[i % len(samples)]) for i in range(n)]
    return [Planned(f"e2e-{run_id}-{i:0{width}d}", s.template, s.params_for(i)) for i, s in picked]


@dataclass(frozen=True)
class Seen:
    """One task as the history listing shows it."""

    name: str
    phase: str
    reason: str | None = None
    created_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None

    @property
    def final(self) -> bool:
        return self.phase in FINAL_PHASES


def phase_counts(planned: Iterable[str], seen: Mapping[str, Seen]) -> Counter[str]:
    """Tasks per phase; submitted ones the listing does not show yet count as `Submitted`."""
    return Counter(seen[name].phase if name in seen else NOT_LISTED for name in planned)


def all_final(planned: Iterable[str], seen: Mapping[str, Seen]) -> bool:
    return all(name in seen and seen[name].final for name in planned)


# Progress lists phases in lifecycle order, so successive lines are easy to compare by eye.
_ORDER = [NOT_LISTED, *(p.value for p in Phase)]


def progress_line(counts: Mapping[str, int], *, elapsed: float) -> str:
    """`end2end 12s: 37/100 finished · Succeeded 35 · Failed 2 · Running 10 · ...` (zeros left out)."""
    total = sum(counts.values())
    done = sum(c for p, c in counts.items() if p in FINAL_PHASES)
    parts = [f"{p} {counts[p]}" for p in sorted(counts, key=_rank) if counts[p]]
    return f"end2end {elapsed:.0f}s: {done}/{total} finished · " + " · ".join(parts)


def _rank(phase: str) -> int:
    return _ORDER.index(phase) if phase in _ORDER else len(_ORDER)


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-quantile (the ceil(q·n)-th smallest), as the API's stats compute p95."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Report:
    """The outcome of a run; `as_dict` is what `-o json|yaml` prints."""

    submitted: int
    succeeded: int
    failed: dict[str, int]  # final phases other than Succeeded, e.g. {"Failed": 2}
    unfinished: int  # not final when the run timed out
    elapsed_seconds: float
    run_p50: float | None
    run_p95: float | None
    latency_p50: float | None
    latency_p95: float | None
    tasks_per_minute: float
    run_id: str
    failures: list[dict[str, str | None]] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        if self.unfinished:
            return ExitCode.TIMEOUT
        return ExitCode.TASK_FAILED if self.succeeded < self.submitted else ExitCode.OK

    @property
    def outcome(self) -> str:
        return {ExitCode.OK: "passed", ExitCode.TASK_FAILED: "partial", ExitCode.TIMEOUT: "timed out"}[self.exit_code]

    def as_dict(self) -> dict[str, Any]:
        return {
            "runId": self.run_id,
            "outcome": self.outcome,
            "submitted": self.submitted,
            "succeeded": self.succeeded,
            "failed": dict(self.failed),
            "unfinished": self.unfinished,
            "elapsedSeconds": round(self.elapsed_seconds, 3),
            "runSeconds": {"p50": self.run_p50, "p95": self.run_p95},
            "latencySeconds": {"p50": self.latency_p50, "p95": self.latency_p95},
            "tasksPerMinute": round(self.tasks_per_minute, 2),
            "failures": list(self.failures),
        }


MAX_FAILURES_LISTED = 10


def report(planned: Sequence[Planned], seen: Mapping[str, Seen], *, elapsed: float, run_id: str) -> Report:
    """The run's outcome from the last listing: counts, run time and latency quantiles, throughput.

    Run time is the API's `durationSeconds` (first container start to completion); latency runs
    from the Task's creation to its completion, which is what a submitter waits.
    """
    final = [seen[p.name] for p in planned if p.name in seen and seen[p.name].final]
    runs = [s.duration_seconds for s in final if s.duration_seconds is not None]
    latencies = [
        (s.finished_at - s.created_at).total_seconds() for s in final if s.finished_at and s.created_at is not None
    ]
    bad = [s for s in final if s.phase != Phase.SUCCEEDED]
    return Report(
        submitted=len(planned),
        succeeded=len(final) - len(bad),
        failed=dict(Counter(s.phase for s in bad)),
        unfinished=len(planned) - len(final),
        elapsed_seconds=elapsed,
        run_p50=nearest_rank(runs, 0.5),
        run_p95=nearest_rank(runs, 0.95),
        latency_p50=nearest_rank(latencies, 0.5),
        latency_p95=nearest_rank(latencies, 0.95),
        tasks_per_minute=len(final) / elapsed * 60 if elapsed > 0 else 0.0,
        run_id=run_id,
        failures=[{"name": s.name, "phase": s.phase, "reason": s.reason} for s in bad[:MAX_FAILURES_LISTED]],
    )


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def report_lines(r: Report) -> list[str]:
    """The human report (`-o table`)."""
    detail = ", ".join(f"{p} {c}" for p, c in sorted(r.failed.items()))
    failed = f"{sum(r.failed.values())} failed" + (f" ({detail})" if detail else "")
    lines = [
        f"end2end {r.outcome}: {r.succeeded}/{r.submitted} succeeded, {failed}, {r.unfinished} unfinished",
        f"run time    p50 {_seconds(r.run_p50)}  p95 {_seconds(r.run_p95)}",
        f"latency     p50 {_seconds(r.latency_p50)}  p95 {_seconds(r.latency_p95)}  (created to finished)",
        f"throughput  {r.tasks_per_minute:.1f} tasks/min over {r.elapsed_seconds:.1f}s",
        f"label       {RUN_LABEL}={r.run_id}",
    ]
    lines += [f"  {f['name']}: {f['phase']} ({f['reason'] or 'no reason'})" for f in r.failures]
    return lines
