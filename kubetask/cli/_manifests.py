"""TaskTemplate and TaskSchedule manifests for `kubetask templates|schedules apply -f`, read and
compared (pure).

A file holds YAML or JSON: one manifest, several YAML documents, a JSON/YAML list, or a
`kind: List` with `items`, as kubectl accepts them. Every document is checked before anything is
sent, and every bad one is reported at once, each named by its position (`file#2`).

Whether an apply changes anything is decided by comparing the specs after both went through the
model's normalisation (what the API stores: unset fields omitted), so a manifest that leaves
fields out is `unchanged` against the stored spec it produced. A schedule's labels are compared
too (its replace sets them); a template's are not sent, so they are not compared.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError

from kubetask.models import API_VERSION, TaskScheduleSpec, TaskTemplateSpec

Verb = Literal["created", "configured", "unchanged"]
Kind = Literal["TaskTemplate", "TaskSchedule"]
COMMANDS: dict[Kind, str] = {"TaskTemplate": "templates apply", "TaskSchedule": "schedules apply"}
SPECS: dict[Kind, type[BaseModel]] = {"TaskTemplate": TaskTemplateSpec, "TaskSchedule": TaskScheduleSpec}


class ManifestError(ValueError):
    """One or more documents are not of the kind asked for; the message names each (one line)."""


@dataclass(frozen=True)
class Manifest:
    name: str
    namespace: str | None
    spec: dict[str, Any]
    where: str  # `file#n`, for messages
    labels: dict[str, str] = field(default_factory=dict)


TemplateManifest = Manifest


def parse_templates(text: str, source: str) -> list[Manifest]:
    """The TaskTemplates in `text`; a ManifestError listing every problem otherwise."""
    return parse_manifests(text, source, "TaskTemplate")


def parse_schedules(text: str, source: str) -> list[Manifest]:
    """The TaskSchedules in `text`; a ManifestError listing every problem otherwise."""
    return parse_manifests(text, source, "TaskSchedule")


def parse_manifests(text: str, source: str, kind: Kind) -> list[Manifest]:
    """The manifests of `kind` in `text`; a ManifestError listing every problem otherwise."""
    try:
        docs = [d for d in yaml.safe_load_all(text) if d is not None]
    except yaml.YAMLError as e:
        raise ManifestError(f"{source}: not valid YAML or JSON: {' '.join(str(e).split())}") from e
    flat: list[Any] = []
    for doc in docs:
        if isinstance(doc, list):
            flat += doc
        elif isinstance(doc, dict) and doc.get("kind") == "List":
            flat += doc.get("items") or []
        else:
            flat.append(doc)
    out: list[Manifest] = []
    problems: list[str] = []
    for i, doc in enumerate(flat, 1):
        where = f"{source}#{i}"
        try:
            out.append(_one(doc, where, kind))
        except ManifestError as e:
            problems.append(str(e))
    if problems:
        raise ManifestError("; ".join(problems))
    if not out:
        raise ManifestError(f"{source}: no {kind} in it")
    return out


def _one(doc: Any, where: str, want: Kind) -> Manifest:
    if not isinstance(doc, dict):
        raise ManifestError(f"{where}: expected a {want} mapping, got {type(doc).__name__}")
    kind, version = doc.get("kind"), doc.get("apiVersion")
    if kind != want:
        raise ManifestError(f"{where}: /kind is {kind!r}, not {want} (the only kind `{COMMANDS[want]}` takes)")
    if version != API_VERSION:
        raise ManifestError(f"{where}: /apiVersion is {version!r}, expected {API_VERSION}")
    meta = doc.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if not isinstance(name, str) or not name:
        raise ManifestError(f"{where}: /metadata/name is missing")
    assert isinstance(meta, dict)
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        raise ManifestError(f"{where} ({name}): /spec must be a mapping")
    labels = (meta.get("labels") or {}) if want == "TaskSchedule" else {}  # a template's are not sent
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        raise ManifestError(f"{where} ({name}): /metadata/labels must map names to strings")
    ns = meta.get("namespace")
    return Manifest(
        name=name,
        namespace=str(ns) if ns else None,
        spec=spec,
        where=where,
        labels={str(k): v for k, v in labels.items()},
    )


def normalized(spec: Mapping[str, Any], kind: Kind = "TaskTemplate") -> dict[str, Any] | None:
    """The spec as the API stores it; None when the model refuses it (the API will say why)."""
    try:
        model = SPECS[kind].model_validate(dict(spec))
    except ValidationError:
        return None
    return model.model_dump(mode="json", by_alias=True, exclude_none=True)


def apply_verb(current: Mapping[str, Any] | None, desired: Mapping[str, Any], kind: Kind = "TaskTemplate") -> Verb:
    """`created` when absent, `unchanged` when the normalised specs are equal, else `configured`."""
    if current is None:
        return "created"
    new = normalized(desired, kind)
    return "unchanged" if new is not None and new == normalized(current, kind) else "configured"
