"""`kubetask templates list|get|apply|delete|generate`: TaskTemplates through the API, as kubectl handles them.

`generate MODULE [--image IMG]` needs no API: it imports MODULE and prints one TaskTemplate YAML
document per handler defined there, its schemas generated from the handler's models
(`kubetask.handler_templates`); `kubectl apply -f` or `templates apply -f` takes the output.

`apply -f` creates a template that is absent and replaces one whose spec differs, printing
`tasktemplate.kubetask.io/NAME created|configured|unchanged` per document (kubectl's words). The
whole file is checked first (`_manifests`), so a bad document sends nothing; documents go in file
order and the first one the API refuses stops the run (those before it stay applied). A
document's `metadata.namespace` wins over the context's and the environment's namespace; one that
contradicts an explicit `-n` is a usage error, as with kubectl.
"""

from __future__ import annotations

import importlib
from typing import Annotated, Any

import typer
import yaml

from kubetask.handler_templates import DEFAULT_IMAGE, defined_in, template

from ._applying import apply_file, get_or_none, send
from ._client import Api, NamespaceOpt, with_api
from ._complete import complete_template_names
from ._errors import UsageProblem
from ._manifests import TemplateManifest, apply_verb, parse_templates
from ._output import Column, OutputOpt, age_of, emit, parse_format

app = typer.Typer(help="TaskTemplates: list, get, apply -f, delete, generate.", no_args_is_help=True)

KIND = "tasktemplate.kubetask.io"


def _runs(t: dict[str, Any]) -> str:
    spec = t.get("spec") or {}
    return str(spec.get("handler") or " ".join(spec.get("command") or []) or "(image entrypoint)")


def _required(t: dict[str, Any]) -> str:
    return ",".join((t.get("spec") or {}).get("paramSchema", {}).get("required") or [])


def _spec(key: str, *path: str) -> Any:
    def value(t: dict[str, Any]) -> str:
        v: Any = (t.get("spec") or {}).get(key)
        for p in path:
            v = v.get(p) if isinstance(v, dict) else None
        return "" if v is None else str(v)

    return value


COLUMNS = (
    Column("NAME", lambda t: str(t["name"])),
    Column("RUNS", _runs),
    Column("TIMEOUT", _spec("timeoutSeconds")),
    Column("AGE", age_of("createdAt")),
    Column("IMAGE", _spec("image"), wide=True),
    Column("MAX-ATTEMPTS", _spec("retry", "maxAttempts"), wide=True),
    Column("REQUIRED-PARAMS", _required, wide=True),
    Column("DESCRIPTION", _spec("description"), wide=True),
)

NameArg = Annotated[str, typer.Argument(help="TaskTemplate name.", autocompletion=complete_template_names)]


@app.command("list")
@with_api
def list_templates(output: OutputOpt = None, *, api: Api) -> None:
    """List the TaskTemplates of a namespace."""
    fmt = parse_format(output)
    emit(api.call("GET", api.ns("templates")), fmt, COLUMNS, many=True)


@app.command("get")
@with_api
def get_template(name: NameArg, output: OutputOpt = None, *, api: Api) -> None:
    """Show one TaskTemplate (`-o yaml` for its whole spec)."""
    fmt = parse_format(output)
    emit(api.call("GET", api.ns("templates", name)), fmt, COLUMNS)


def _apply_one(api: Api, m: TemplateManifest, ns: str) -> tuple[str, dict[str, Any]]:
    current = get_or_none(api, "templates", m.name, ns)
    verb = apply_verb(None if current is None else current["spec"], m.spec)
    body = {"name": m.name, "spec": m.spec}
    return verb, send(api, "templates", verb, body, ns, current)


@app.command("apply")
@with_api
def apply_templates(
    filename: Annotated[str, typer.Option("--filename", "-f", help="YAML or JSON file of TaskTemplates; - for stdin.")],
    output: OutputOpt = None,
    namespace: NamespaceOpt = None,
    *,
    api: Api,
) -> None:
    """Create or update TaskTemplates from a file, like `kubectl apply -f`."""
    apply_file(
        api,
        filename,
        namespace=namespace,
        output=output,
        parse=parse_templates,
        apply_one=_apply_one,
        kind=KIND,
        columns=COLUMNS,
    )


@app.command("delete")
@with_api
def delete_templates(
    names: Annotated[list[str], typer.Argument(help="TaskTemplate names.", autocompletion=complete_template_names)],
    *,
    api: Api,
) -> None:
    """Delete TaskTemplates (tasks already created keep running)."""
    for name in names:
        api.call("DELETE", api.ns("templates", name))
        typer.echo(f"{KIND}/{name} deleted")


@app.command("generate")
def generate_templates(
    module: Annotated[str, typer.Argument(help="Python module whose handlers to describe, e.g. mypkg.handlers.")],
    image: Annotated[str, typer.Option("--image", help="Image of the templates (one with the handlers in it).")] = (
        DEFAULT_IMAGE
    ),
    namespace: Annotated[str | None, typer.Option("--namespace", "-n", help="metadata.namespace to set.")] = None,
) -> None:
    """Print TaskTemplate YAML for each handler of MODULE, schemas from its params/result models."""
    from kubetask.executor import default_registry

    try:
        importlib.import_module(module)
    except ImportError as e:
        raise UsageProblem(f"cannot import {module}: {e}") from e
    entries = [e for e in default_registry.entries() if defined_in(e, module)]
    if not entries:
        raise UsageProblem(f"{module} defines no handlers (@handler from kubetask.executor)")
    docs = [template(e, image=image, namespace=namespace) for e in entries]
    typer.echo(yaml.safe_dump_all(docs, sort_keys=False, explicit_start=True), nl=False)
