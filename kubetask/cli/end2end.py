"""`kubetask end2end -n N`: submit N tasks over mixed templates, follow them, report, exit by outcome.

By default it runs three sample templates of its own (`e2e-echo`, `e2e-sleep`, `e2e-command`:
an executor handler, a sleeping one, a plain command; see `_e2e_report.builtin_samples`), created
in the namespace when absent and used as they are when present. `--template T` (repeatable) runs
existing templates instead, all with the params of `-p`/`-f`, checked against each paramSchema
before anything is submitted. `-n` is the count here, as in the service kubetask replaces, so the
namespace is `--namespace` only.

Submissions are sequential; one history listing per second (the run's label selects its tasks)
follows them; progress goes to stderr every `--progress` seconds and the report to stdout. The
run's tasks are left in place (their TTL removes them), labelled for inspection. Exit 0 when all
succeeded, 1 when some did not, 4 when `--timeout` passed first, 3 when a submission failed.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Annotated, Any

import typer

from kubetask.timeutil import parse_time

from . import _e2e_report as e2e
from ._client import Api, with_api
from ._complete import complete_template_names
from ._errors import ApiError, ExitCode, TaskFailed, UsageProblem, WaitTimedOut
from ._output import OutputOpt, emit, parse_format
from ._params import check_params, duration_seconds, params_from
from .tasks import read_file

PAGE = 500  # the API's largest page by default
POLL_SECONDS = 1.0
DEFAULT_IMAGE = "kubetask/executor:dev"


def _ensure(api: Api, sample: e2e.Sample) -> None:
    """Create a built-in sample template when absent; check a named one exists and takes the params."""
    try:
        found = api.call("GET", api.ns("templates", sample.template))
    except ApiError as e:
        if e.status != 404 or sample.manifest is None:
            raise
        api.call("POST", api.ns("templates"), json={"name": sample.template, "spec": dict(sample.manifest)})
        return
    if sample.manifest is None:
        check_params(sample.params_for(0), found["spec"].get("paramSchema"), template=sample.template)


def _seen(api: Api, run_id: str) -> dict[str, e2e.Seen]:
    """The run's tasks as history lists them now (every page)."""
    out: dict[str, e2e.Seen] = {}
    query: dict[str, Any] = {"labelSelector": f"{e2e.RUN_LABEL}={run_id}", "limit": PAGE}
    while True:
        page = api.call("GET", api.ns("tasks"), params=query)
        for t in page["items"]:
            out[t["name"]] = e2e.Seen(
                name=t["name"],
                phase=t["phase"],
                reason=t.get("reason"),
                created_at=parse_time(t.get("createdAt")),
                finished_at=parse_time(t.get("finishedAt")),
                duration_seconds=t.get("durationSeconds"),
            )
        if not page.get("nextCursor"):
            return out
        query["cursor"] = page["nextCursor"]


def _follow(
    api: Api, names: list[str], run_id: str, *, started: float, limit: float, every: float
) -> dict[str, e2e.Seen]:
    """Poll history until every task is final or `limit` seconds passed; progress on stderr."""
    next_progress = started
    while True:
        seen = _seen(api, run_id)
        now = time.monotonic()
        over = e2e.all_final(names, seen) or now - started >= limit
        if over or now >= next_progress:
            typer.echo(e2e.progress_line(e2e.phase_counts(names, seen), elapsed=now - started), err=True)
            next_progress = now + every
        if over:
            return seen
        time.sleep(POLL_SECONDS)


def _submit(api: Api, planned: list[e2e.Planned], run_id: str) -> None:
    for i, p in enumerate(planned):
        body = {"template": p.template, "name": p.name, "params": p.params, "labels": {e2e.RUN_LABEL: run_id}}
        try:
            api.call("POST", api.ns("tasks"), json=body)
        except ApiError as e:
            raise ApiError(
                f"{e.message} (after submitting {i} of {len(planned)}, run {run_id})", status=e.status
            ) from e


NamespaceLongOpt = Annotated[str | None, typer.Option("--namespace", help="Namespace (no -n: that is the count).")]


@with_api(namespace=NamespaceLongOpt)
def end2end(
    count: Annotated[int, typer.Option("--count", "-n", min=1, help="How many tasks to submit.")] = 10,
    template: Annotated[
        list[str] | None,
        typer.Option("--template", help="Run this template (repeatable).", autocompletion=complete_template_names),
    ] = None,
    param: Annotated[list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE for --template runs.")] = None,
    params_file: Annotated[Path | None, typer.Option("--file", "-f", help="Params file for --template.")] = None,
    timeout: Annotated[str, typer.Option("--timeout", help="Give up after this long: 90s, 10m.")] = "10m",
    progress: Annotated[float, typer.Option("--progress", min=1, help="Seconds between progress lines.")] = 5,
    image: Annotated[str, typer.Option("--image", help="Image of the sample templates.")] = DEFAULT_IMAGE,
    output: OutputOpt = None,
    *,
    api: Api,
) -> None:
    """Submit N tasks over mixed templates, follow them to the end and report."""
    fmt = parse_format(output)
    limit = duration_seconds(timeout, "--timeout")
    if template:
        params = params_from(param or [], read_file(params_file))
        samples = [e2e.Sample(t, params) for t in template]
    elif param or params_file:
        raise UsageProblem("-p/-f set the params of --template runs; the sample templates have their own")
    else:
        samples = e2e.builtin_samples(image)
    run_id = uuid.uuid4().hex[:6]
    planned = e2e.plan(count, samples, run_id)
    for sample in samples:
        _ensure(api, sample)
    started = time.monotonic()
    _submit(api, planned, run_id)
    seen = _follow(api, [p.name for p in planned], run_id, started=started, limit=limit, every=progress)
    result = e2e.report(planned, seen, elapsed=time.monotonic() - started, run_id=run_id)
    if fmt.kind in ("table", "wide"):
        typer.echo("\n".join(e2e.report_lines(result)))
    elif fmt.kind == "name":
        typer.echo("".join(f"{p.name}\n" for p in planned), nl=False)
    else:
        emit(result.as_dict(), fmt, ())
    if result.exit_code == ExitCode.TIMEOUT:
        raise WaitTimedOut(f"end2end: {result.unfinished} of {count} tasks unfinished after {timeout}")
    if result.exit_code == ExitCode.TASK_FAILED:
        raise TaskFailed(f"end2end: {count - result.succeeded} of {count} tasks did not succeed")
