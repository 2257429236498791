"""Shell completion: `kubetask completion bash|zsh|fish` prints the script, and names complete live.

The script is typer's (click's protocol: the shell runs `kubetask` again with
`_KUBETASK_COMPLETE=complete_<shell>`); a `completion` command that prints it is what kubectl users
type (`source <(kubetask completion bash)`). Task, template and dead-letter names come from the
API of the current context, with the `-n/--api-url/--token/--context` already typed on the line.
Completion runs on every Tab, so it asks once with a short timeout and, on any error (API down,
bad config, no context), offers nothing rather than printing into the user's prompt. It calls
httpx directly, not `_client.Api`, only for that short timeout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import httpx
import typer
from typer._completion_shared import get_completion_script

from . import _config
from ._client import CONNECTION_OPTIONS, resolve
from ._errors import UsageProblem

PROG = "kubetask"
COMPLETE_VAR = "_KUBETASK_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
TIMEOUT_SECONDS = 2.0
MAX_NAMES = 100


def _names(ctx: typer.Context, path: Callable[[_config.Target], str], params: dict[str, Any], key: str) -> list[str]:
    try:  # the connection options already typed, by the names `with_api` gives them
        target = resolve(**{name: ctx.params.get(name) for name in CONNECTION_OPTIONS})
        headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        r = httpx.get(target.api_url + path(target), params=params, headers=headers, timeout=TIMEOUT_SECONDS)
        r.raise_for_status()
        return [str(i[key]) for i in r.json()["items"]]
    except Exception:  # any failure: completion must never break the shell's prompt
        return []


def _ns(target: _config.Target, plural: str) -> str:
    return f"/api/v1/namespaces/{target.namespace}/{plural}"


def complete_template_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """TaskTemplate names of the namespace that start with what was typed."""
    names = _names(ctx, lambda t: _ns(t, "templates"), {}, "name")
    return sorted(n for n in names if n.startswith(incomplete))


def complete_task_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """Task names of the namespace starting with what was typed, newest first (from history)."""
    query = {"limit": MAX_NAMES, "sort": "-created", **({"q": incomplete} if incomplete else {})}
    return [n for n in _names(ctx, lambda t: _ns(t, "tasks"), query, "name") if n.startswith(incomplete)]


def complete_dead_letter_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """Names of the namespace's dead letters starting with what was typed."""
    names = _names(ctx, lambda t: _ns(t, "deadletters"), {"limit": MAX_NAMES}, "name")
    return [n for n in names if n.startswith(incomplete)]


def completion(
    shell: Annotated[str, typer.Argument(help="bash, zsh or fish.", autocompletion=lambda: list(SHELLS))],
) -> None:
    """Print the shell completion script: `source <(kubetask completion bash)`."""
    if shell not in SHELLS:
        raise UsageProblem(f"completion: shell {shell!r} is not supported; use one of {', '.join(SHELLS)}")
    typer.echo(get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell))
