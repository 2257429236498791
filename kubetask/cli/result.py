"""`kubetask result NAME`: a task's result, whole (`GET …/tasks/{name}/result`), up to 1 MiB.

`-o json` (the default) and `-o yaml` print the result as the other commands print documents
(`_output.render`); `-o raw` writes the body exactly as the API sent it, no newline added, so
`kubetask result x -o raw | sha256sum` is the status' `largeResult.sha256` for a large result.
`--attempt N` asks for one attempt's (default: the attempt that succeeded). No result is the API's
404 problem as one line on stderr, exit 3. With `-v`, stderr says which attempt, its size and
sha256, and where the API read it (`status`, or `kept` in SQL).
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from ._client import Api, with_api
from ._complete import complete_task_names
from ._errors import ApiError, UsageProblem
from ._output import Format, render

app = typer.Typer()

FORMATS = ("json", "yaml", "raw")


def parse_output(text: str | None) -> str:
    """The -o value, or a UsageProblem (exit 2) naming the choices."""
    kind = text or "json"
    if kind not in FORMATS:
        raise UsageProblem(f"-o {text!r}: use one of {', '.join(FORMATS)}")
    return kind


def rendered(body: bytes, kind: str) -> bytes:
    """What to print of the result's JSON text `body` for `-o kind`."""
    if kind == "raw":
        return body
    try:
        value = json.loads(body)
    except ValueError as e:
        raise ApiError(f"the API's result is not JSON: {e}") from e
    out = render(value, Format("yaml" if kind == "yaml" else "json"), (), many=False)
    assert isinstance(out, str)  # json and yaml render as text
    return out.encode()


@app.command()
@with_api
def result(
    name: Annotated[str, typer.Argument(help="Task name.", show_default=False, autocompletion=complete_task_names)],
    attempt: Annotated[
        int | None,
        typer.Option("--attempt", min=1, help="Attempt number (default: the one that succeeded).", show_default=False),
    ] = None,
    output: Annotated[
        str | None, typer.Option("--output", "-o", help="json, yaml or raw (the bytes as sent).", show_default=False)
    ] = None,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Say on stderr which attempt, size, sha256.")
    ] = False,
    *,
    api: Api,
) -> None:
    """Print a task's result, whole: small ones from its status, large ones (to 1 MiB) as kept in SQL."""
    kind = parse_output(output)
    params = {"attempt": attempt} if attempt is not None else None
    with api.stream(api.ns("tasks", name, "result"), params=params) as r:
        body = r.read()
        if verbose:
            h = r.headers
            typer.echo(
                f"attempt {h.get('X-Kubetask-Result-Attempt', '?')}: {len(body)} bytes, sha256 "
                f"{h.get('X-Kubetask-Result-Sha256', '?')} ({h.get('X-Kubetask-Result-Source', '?')})",
                err=True,
            )
    out = sys.stdout.buffer
    out.write(rendered(body, kind))
    out.flush()
