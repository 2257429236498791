"""`kubetask run HANDLER [-p k=v]... [-f params.json]`: run a handler here, as its pod would.

No cluster and no API: the executor's own path (`kubetask.executor.runtime.execute`) in this
process, with the handler modules found as in the pod (entry points of group `kubetask.handlers`,
then `--module` and KUBETASK_HANDLER_MODULES), the same model validation, failure classes and
4 KiB report limit. On success the result's JSON is printed (exit 0); on failure one line,
`<Kind>: <message>`, on stderr, with the exit code the pod would have (`--report` prints the
whole report envelope instead, as the operator reads it).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from kubetask.executor.runtime import discover, execute, handler_modules

from ._errors import UsageProblem
from ._params import params_from
from .tasks import ParamOpt, read_file

app = typer.Typer()


@app.command("run")
def run_handler(
    handler: Annotated[str, typer.Argument(help="Handler name, e.g. echo.", show_default=False)],
    param: ParamOpt = None,
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="Params as a YAML/JSON mapping ('-': stdin).")
    ] = None,
    module: Annotated[
        list[str] | None, typer.Option("--module", "-m", help="Import this handler module first; repeatable.")
    ] = None,
    report: Annotated[bool, typer.Option("--report", help="Print the whole report envelope (JSON).")] = False,
    traceback: Annotated[
        bool, typer.Option("--traceback", help="Print the traceback of an exception the handler did not classify.")
    ] = False,
) -> None:
    """Run a handler locally, as its pod would, and print its result or its failure."""
    params = params_from(param or [], read_file(file), source=f"-f {file}")
    modules = [*handler_modules(os.environ), *(module or [])]
    try:
        discover({"KUBETASK_HANDLER_MODULES": ",".join(modules)})
    except ImportError as e:
        raise UsageProblem(f"cannot load the handler modules: {e}") from e
    attempt = execute(handler, params)
    if traceback and attempt.traceback:
        sys.stderr.write(attempt.traceback)
    if report:
        typer.echo(attempt.envelope)
    elif attempt.exit_code == 0:
        typer.echo(attempt.line)
    else:
        typer.echo(attempt.line, err=True)
    raise typer.Exit(attempt.exit_code)
