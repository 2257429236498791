"""The `kubetask` command line: one module per command group, registered here in one line each.

Foundation shared by every group (see each module's docstring):
- `_client`: `@with_api` (adds the connection options `-n/--api-url/--token/--context` to a
  command and hands it an `Api`) and `Api.call()`, API problems as one-line errors with exit code 3;
- `_output`: `OutputOpt`, `parse_format()`, `Column`, `emit()`, `age()`/`local_time()`;
- `_errors`: `CliError` and its exit codes (`UsageProblem` 2, `ApiError` 3, `TaskFailed` 1,
  `WaitTimedOut` 4); raise them, the root group prints them;
- `_config`: contexts (the config file, environment overrides, flags over both).
A group is a `typer.Typer()` of its own: `app.add_typer(x_app)` merges its commands at the top
level, `app.add_typer(x_app, name="x")` makes them `kubetask x ...`.
"""

from __future__ import annotations

from ._app import app
from ._complete import completion
from ._crds import app as crds_app
from .config import app as config_app
from .dlq import app as dlq_app
from .end2end import end2end
from .logs import app as logs_app
from .result import app as result_app
from .run import app as run_app
from .schedule_actions import app as schedules_app  # its trigger/backfill/preview join schedules' app
from .stats import stats
from .tasks import app as tasks_app
from .templates import app as templates_app
from .watching import app as watching_app

__all__ = ["app"]

app.add_typer(crds_app)
app.add_typer(config_app, name="config", help="Contexts: API URL, token and namespace (kubectl-style).")
app.add_typer(tasks_app)
app.add_typer(watching_app)
app.add_typer(logs_app)  # kubetask logs NAME: an attempt's log, live or kept
app.add_typer(result_app)  # kubetask result NAME: a task's result, whole
app.add_typer(templates_app, name="templates", help="TaskTemplates: list, get, apply -f, delete, generate.")
app.command()(completion)
app.add_typer(dlq_app, name="dlq", help="Dead letters: list, redrive, purge.")
app.add_typer(schedules_app, name="schedules")
app.command()(stats)
app.command()(end2end)
app.add_typer(run_app)  # kubetask run HANDLER: a handler here, as its pod runs it
