"""`kubetask config ...`: the contexts of the config file (see kubetask.cli._config), like `kubectl config`."""

from __future__ import annotations

import os
from typing import Annotated, Any

import typer

from . import _config
from ._errors import UsageProblem
from ._output import Column, OutputOpt, emit, parse_format

app = typer.Typer(no_args_is_help=True)

REDACTED = "REDACTED"
NameArg = Annotated[str, typer.Argument(help="Context name.", show_default=False)]


def _path_and_config() -> tuple[Any, _config.Config]:
    path = _config.config_path(os.environ)
    return path, _config.load(path)


@app.command("set-context")
def set_context(
    name: NameArg,
    api_url: Annotated[str | None, typer.Option("--api-url", help="Base URL of the API.")] = None,
    token: Annotated[str | None, typer.Option("--token", help="Bearer token.")] = None,
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="Default namespace.")] = None,
    use: Annotated[bool, typer.Option("--use", help="Also make it the current context.")] = False,
) -> None:
    """Create a context or change its settings (the ones not given stay as they were)."""
    if api_url is not None and not api_url.startswith(("http://", "https://")):
        raise UsageProblem(f"--api-url {api_url!r}: give an http:// or https:// URL")
    path, config = _path_and_config()
    verb = "modified" if name in config.contexts else "created"
    config = config.with_context(name, api_url=api_url, token=token, namespace=namespace)
    if use or config.current is None:
        config = _config.Config(current=name, contexts=config.contexts)
    _config.save(path, config)
    typer.echo(f'Context "{name}" {verb}.')


@app.command("use-context")
def use_context(name: NameArg) -> None:
    """Make NAME the current context."""
    path, config = _path_and_config()
    if name not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none yet"
        raise UsageProblem(f"no context {name!r} (known: {known}); create it with `kubetask config set-context`")
    _config.save(path, _config.Config(current=name, contexts=config.contexts))
    typer.echo(f'Switched to context "{name}".')


@app.command("delete-context")
def delete_context(name: NameArg) -> None:
    """Remove a context (and unset it if it was the current one)."""
    path, config = _path_and_config()
    if name not in config.contexts:
        raise UsageProblem(f"no context {name!r} in {path}")
    rest = {k: v for k, v in config.contexts.items() if k != name}
    _config.save(path, _config.Config(current=None if config.current == name else config.current, contexts=rest))
    typer.echo(f'Deleted context "{name}".')


@app.command("current-context")
def current_context() -> None:
    """Print the current context's name."""
    _, config = _path_and_config()
    if config.current is None:
        raise UsageProblem("current-context is not set; use `kubetask config use-context NAME`")
    typer.echo(config.current)


@app.command("view")
def view(
    raw: Annotated[bool, typer.Option("--raw", help="Show tokens instead of REDACTED.")] = False,
    output: OutputOpt = None,
) -> None:
    """Print the config file (tokens redacted unless --raw); yaml by default."""
    _, config = _path_and_config()
    doc = config.as_yaml()
    if not raw:
        for ctx in doc["contexts"].values():
            if "token" in ctx:
                ctx["token"] = REDACTED
    fmt = parse_format(output, default="yaml")
    if fmt.kind in ("table", "wide", "name"):
        raise UsageProblem("-o: config view prints yaml, json or jsonpath=TEMPLATE")
    emit(doc, fmt, ())


CONTEXT_COLUMNS = (
    Column("CURRENT", lambda c: "*" if c["current"] else ""),
    Column("NAME", lambda c: c["name"]),
    Column("API-URL", lambda c: c.get("api-url") or ""),
    Column("NAMESPACE", lambda c: c.get("namespace") or ""),
    Column("TOKEN", lambda c: "set" if c.get("token") else "", wide=True),
)


@app.command("get-contexts")
def get_contexts(output: OutputOpt = None) -> None:
    """List the contexts; `*` marks the current one."""
    _, config = _path_and_config()
    items = [
        {"name": name, "current": name == config.current, **{k: v for k, v in ctx.as_yaml().items() if k != "token"}}
        | ({"token": REDACTED} if ctx.token else {})
        for name, ctx in sorted(config.contexts.items())
    ]
    emit({"items": items}, parse_format(output), CONTEXT_COLUMNS, many=True)
