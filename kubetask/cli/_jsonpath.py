"""`-o jsonpath=TEMPLATE`: the subset of kubectl's JSONPath templates that scripts use (pure).

Supported, as in kubectl:
- literal text, with `\\n`, `\\t` and `\\\\` escapes, and quoted literals `{"\\n"}` / `{'...'}`;
- `{.a.b}` fields, `{.a['key.with.dots']}` quoted fields, `{.list[0]}` / `{.list[-1]}` indexes,
  `{.items[*].name}` every element (of a list, or every value of a mapping), `{@}` / `{.}` the
  current object;
- `{range .items[*]}...{end}`, nested; inside a range, paths are relative to the current element.

Several results of one `{...}` are joined with a space; strings print raw, numbers and booleans as
JSON, mappings and lists as compact JSON, null as `null`. A missing key prints nothing (kubectl's
default, `--allow-missing-template-keys=true`). Anything else (filters `?()`, slices `[1:2]`,
unions `[0,1]`, recursive descent `..`, functions) is refused with a `JsonPathError` naming it.
A template without braces is taken as one path (`.name` means `{.name}`), as kubectl does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

SUPPORTED = "{.a.b}, {.a['k']}, {.a[0]}, {.items[*].x}, {@}, {range .items[*]}...{end}, literal text"


class JsonPathError(ValueError):
    """The template is malformed or uses syntax outside the supported subset."""


@dataclass(frozen=True)
class Field:
    name: str


@dataclass(frozen=True)
class Index:
    number: int


@dataclass(frozen=True)
class Every:
    pass


Segment = Field | Index | Every


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Path:
    segments: tuple[Segment, ...]


@dataclass(frozen=True)
class Range:
    segments: tuple[Segment, ...]
    body: tuple[Node, ...]


Node = Text | Path | Range

_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}
_NAME = re.compile(r"[A-Za-z0-9_\-$]+")
_BRACKET = re.compile(r"\[(?:\*|-?\d+|'[^']*'|\"[^\"]*\")\]")


def _unescape(text: str) -> str:
    return re.sub(r"\\([nt\\])", lambda m: _ESCAPES[m.group(1)], text)


def _unsupported(expr: str, what: str) -> JsonPathError:
    return JsonPathError(f"jsonpath {{{expr}}}: {what} is not supported; supported: {SUPPORTED}")


def _segments(expr: str) -> tuple[Segment, ...]:
    """The segments of a path such as `.items[*].name` (`@` or `.` alone: none)."""
    text = expr.strip()
    if text in ("@", ".", "$"):
        return ()
    if text.startswith(("@", "$")):
        text = text[1:]
    if not text.startswith((".", "[")):
        raise JsonPathError(f"jsonpath {{{expr}}}: a path starts with `.` (e.g. {{.name}}); supported: {SUPPORTED}")
    out: list[Segment] = []
    i = 0
    while i < len(text):
        if text.startswith("..", i):
            raise _unsupported(expr, "recursive descent `..`")
        if text[i] == ".":
            m = _NAME.match(text, i + 1)
            if m is None:
                raise JsonPathError(f"jsonpath {{{expr}}}: expected a field name after `.` at {text[i:]!r}")
            out.append(Field(m.group()))
            i = m.end()
        elif text[i] == "[":
            m = _BRACKET.match(text, i)
            if m is None:
                inner = text[i:].split("]", 1)[0] + "]"
                what = {"?": "a filter", ":": "a slice", ",": "a union"}
                kind = next((v for k, v in what.items() if k in inner), f"the subscript {inner!r}")
                raise _unsupported(expr, kind)
            inner = m.group()[1:-1]
            if inner == "*":
                out.append(Every())
            elif inner[0] in "'\"":
                out.append(Field(inner[1:-1]))
            else:
                out.append(Index(int(inner)))
            i = m.end()
        else:
            raise _unsupported(expr, f"{text[i:]!r}")
    return tuple(out)


def _tokens(template: str) -> list[tuple[str, str]]:
    """("text", literal) and ("expr", inside-braces) pieces, in order."""
    out: list[tuple[str, str]] = []
    i = 0
    while i < len(template):
        start = template.find("{", i)
        if start < 0:
            out.append(("text", template[i:]))
            break
        if start > i:
            out.append(("text", template[i:start]))
        end = template.find("}", start)
        if end < 0:
            raise JsonPathError(f"jsonpath: unclosed {{ at {template[start:]!r}")
        out.append(("expr", template[start + 1 : end]))
        i = end + 1
    return out


def parse(template: str) -> tuple[Node, ...]:
    """The template's nodes; JsonPathError for anything outside the supported subset."""
    if "{" not in template and template.strip().startswith((".", "@", "[")):
        template = "{" + template.strip() + "}"
    stack: list[tuple[tuple[Segment, ...] | None, list[Node]]] = [(None, [])]
    for kind, piece in _tokens(template):
        body = stack[-1][1]
        expr = piece.strip()
        if kind == "text":
            body.append(Text(_unescape(piece)))
        elif len(expr) >= 2 and expr[0] == expr[-1] and expr[0] in "'\"":
            body.append(Text(_unescape(expr[1:-1])))
        elif expr.startswith("range ") or expr == "range":
            stack.append((_segments(expr[len("range") :]), []))
        elif expr == "end":
            if len(stack) == 1:
                raise JsonPathError("jsonpath: {end} without a {range ...}")
            segments, inner = stack.pop()
            assert segments is not None
            stack[-1][1].append(Range(segments, tuple(inner)))
        elif "(" in expr and not expr.startswith("."):
            raise _unsupported(expr, "a function")
        else:
            body.append(Path(_segments(expr)))
    if len(stack) > 1:
        raise JsonPathError("jsonpath: {range ...} without its {end}")
    return tuple(stack[0][1])


def _select(values: list[Any], segments: tuple[Segment, ...]) -> list[Any]:
    for seg in segments:
        nxt: list[Any] = []
        for v in values:
            if isinstance(seg, Field) and isinstance(v, dict) and seg.name in v:
                nxt.append(v[seg.name])
            elif isinstance(seg, Index) and isinstance(v, list) and -len(v) <= seg.number < len(v):
                nxt.append(v[seg.number])
            elif isinstance(seg, Every) and isinstance(v, list | dict):
                nxt.extend(v if isinstance(v, list) else v.values())
        values = nxt
    return values


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _render(nodes: tuple[Node, ...], current: Any) -> str:
    out = []
    for node in nodes:
        if isinstance(node, Text):
            out.append(node.text)
        elif isinstance(node, Path):
            out.append(" ".join(_text(v) for v in _select([current], node.segments)))
        else:
            out.extend(_render(node.body, item) for item in _select([current], node.segments))
    return "".join(out)


def render(template: str, document: Any) -> str:
    """The template applied to `document` (the JSON that `-o json` prints)."""
    return _render(parse(template), document)
