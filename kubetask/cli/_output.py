"""`-o table|wide|json|yaml|name|jsonpath=EXPR`: how every command prints objects.

A command describes its table once as `Column`s and hands the API's JSON to `emit()`:

    COLUMNS = (Column("NAME", lambda t: t["name"]), Column("AGE", age_of("createdAt")),
               Column("REASON", lambda t: t.get("reason") or "", wide=True))
    emit(doc, parse_format(output), COLUMNS, many=True)

- `json` / `yaml` print exactly what the API returned; a list is the API's `{"items": [...]}`
  (with `nextCursor` when there is a next page; `--all` merges the pages into one `items`).
  Times are the API's ISO 8601 strings. Nothing but the document goes to stdout.
- `jsonpath=` applies `kubetask.cli._jsonpath` to that same document.
- `name` prints bare names, one per line, so `$(kubetask submit ...)` feeds other commands.
- `table` / `wide` (wide adds the `wide=True` columns) use rich: no colour when stdout is not a
  terminal or `NO_COLOR` is set; times relative (`age()`, like kubectl's AGE) or local.
Rendering (`render()`, `table()`) is pure; `emit()` is the only writer.
"""

from __future__ import annotations

import io
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import typer
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from kubetask.timeutil import parse_time

from . import _jsonpath
from ._errors import UsageProblem

Kind = Literal["table", "wide", "json", "yaml", "name", "jsonpath"]
KINDS: tuple[Kind, ...] = ("table", "wide", "json", "yaml", "name", "jsonpath")

OutputOpt = Annotated[
    str | None,
    typer.Option("--output", "-o", help="table, wide, json, yaml, name or jsonpath=TEMPLATE.", show_default=False),
]

# phases (and other states) that get a colour on a terminal; the rest stay plain
STYLES = {
    "Succeeded": "green",
    "Failed": "red",
    "DeadLettered": "red",
    "Cancelled": "yellow",
    "Retrying": "yellow",
    "Running": "cyan",
    "Scheduled": "blue",
}
PIPE_WIDTH = 1000  # rows are never cut when stdout is a pipe


@dataclass(frozen=True)
class Format:
    kind: Kind
    template: str = ""


@dataclass(frozen=True)
class Column:
    header: str
    value: Callable[[dict[str, Any]], str]
    wide: bool = False  # only with -o wide
    styled: bool = False  # colour the cell by STYLES


def parse_format(text: str | None, default: Kind = "table") -> Format:
    """The -o value as a Format; a UsageProblem (exit 2) naming the choices otherwise."""
    if text is None or text == "":
        return Format(default)
    kind, _, template = text.partition("=")
    if kind == "jsonpath":
        if not template:
            raise UsageProblem("-o jsonpath needs a template: -o jsonpath='{.name}'")
        try:
            _jsonpath.parse(template)
        except _jsonpath.JsonPathError as e:
            raise UsageProblem(f"-o: {e}") from e
        return Format("jsonpath", template)
    if kind not in KINDS or template:
        raise UsageProblem(f"-o {text!r}: use one of table, wide, json, yaml, name, jsonpath=TEMPLATE")
    return Format(kind)


def age(then: datetime | None, now: datetime) -> str:
    """A duration as kubectl prints ages: 42s, 5m30s, 47m, 3h12m, 20h, 3d4h, 12d, 2y10d."""
    if then is None:
        return ""
    return duration(max((now - then).total_seconds(), 0))


def duration(seconds: float | None) -> str:
    """kubectl's HumanDuration: seconds under 2m, minutes+seconds under 10m, then coarser."""
    if seconds is None:
        return ""
    s = int(seconds)
    m, h, d = s // 60, s // 3600, s // 86400
    if s < 120:
        return f"{s}s"
    if m < 10:
        return f"{m}m{s % 60}s" if s % 60 else f"{m}m"
    if m < 180:
        return f"{m}m"
    if h < 8:
        return f"{h}h{m % 60}m" if m % 60 else f"{h}h"
    if h < 48:
        return f"{h}h"
    if h < 24 * 8:
        return f"{d}d{h % 24}h" if h % 24 else f"{d}d"
    if d < 365 * 2:
        return f"{d}d"
    return f"{d // 365}y{d % 365}d" if d < 365 * 8 else f"{d // 365}y"


def local_time(value: Any) -> str:
    """An API timestamp in the local timezone, to the second (`2026-12-02 05:04:41`)."""
    t = parse_time(value)
    return "" if t is None else t.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def age_of(key: str, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Callable[[dict[str, Any]], str]:
    """A column value: the age of the timestamp field `key`."""
    return lambda obj: age(parse_time(obj.get(key)), now())


def table(items: Sequence[dict[str, Any]], columns: Sequence[Column], *, wide: bool = False) -> Table:
    """The rich Table of `items` (a renderable: printed by emit, redrawn by watch)."""
    shown = [c for c in columns if wide or not c.wide]
    t = Table(box=None, header_style="bold", pad_edge=False)
    for c in shown:
        t.add_column(c.header, no_wrap=True, overflow="ellipsis", max_width=60)
    for item in items:
        cells = [c.value(item) for c in shown]
        t.add_row(*(Text(v, style=STYLES.get(v, "") if c.styled else "") for c, v in zip(shown, cells, strict=True)))
    return t


def _plain(doc: Any) -> Any:
    """The document as JSON types (datetimes as ISO 8601), as json and yaml print it."""
    return json.loads(json.dumps(doc, default=lambda o: o.isoformat() if isinstance(o, datetime) else str(o)))


def render(doc: Any, fmt: Format, columns: Sequence[Column], *, many: bool) -> str | Table:
    """Text to print (or a Table) for `doc`: an object, or `{"items": [...]}` when `many`."""
    items: list[dict[str, Any]] = list(doc["items"]) if many else [doc]
    if fmt.kind == "json":
        return json.dumps(_plain(doc), indent=2, ensure_ascii=False) + "\n"
    if fmt.kind == "yaml":
        return yaml.safe_dump(_plain(doc), sort_keys=False, allow_unicode=True)
    if fmt.kind == "name":
        return "".join(f"{i['name']}\n" for i in items)
    if fmt.kind == "jsonpath":
        return _jsonpath.render(fmt.template, _plain(doc))
    return table(items, columns, wide=fmt.kind == "wide")


def console() -> Console:
    """stdout's Console: on a terminal its width, colour unless `NO_COLOR` (rich checks it); in a
    pipe no colour and no cut rows."""
    if sys.stdout.isatty():
        return Console(file=sys.stdout, highlight=False)
    return Console(file=sys.stdout, width=PIPE_WIDTH, highlight=False, color_system=None)


def emit(doc: Any, fmt: Format, columns: Sequence[Column], *, many: bool = False) -> None:
    """Print `doc` in `fmt` on stdout (see the module docstring)."""
    out = render(doc, fmt, columns, many=many)
    if isinstance(out, str):
        typer.echo(out, nl=False)
        return
    if many and not doc["items"]:
        typer.echo("No resources found.", err=True)  # as kubectl: stdout stays empty, parsable
        return
    if sys.stdout.isatty():
        console().print(out)
        return
    buf = io.StringIO()  # a pipe: no colour, no cut rows, no trailing padding
    Console(file=buf, width=PIPE_WIDTH, highlight=False, color_system=None).print(out)
    typer.echo("\n".join(line.rstrip() for line in buf.getvalue().splitlines()))
