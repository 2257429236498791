"""TaskSchedule use cases of the API: check completely, then act on the CR as kubectl would.

The API acts only through the TaskSchedule custom resources; the operator sees each change by its
events. A write is checked with the controller's own rules before anything is sent, every bad
field reported at once with its JSON pointer (a 422, nothing created or changed):

- the spec against `TaskScheduleSpec`, strictly and by wire names, as the templates route does
  (its validators run the cron parser and the zone check of `kubetask.schedules`); an integral
  float such as `3.0` counts as the integer it is (outside the params), as for the apiserver;
- the schedule once more with its own `H` hash key (namespace/name), as the controller parses it,
  so an `H` that lands on a day the month never has is refused for this schedule;
- the template: it must exist (else `/spec/task/templateRef/name`) and take the params
  (`/spec/task/params/...`). The controller would wait for a missing template; the API refuses
  one, as the tasks route does, so that a typo is a 422 rather than a schedule that never runs.

Lists filter by label selector and `spec.suspend` in process, over the namespace's schedules (one
LIST), with the selector grammar the tasks list uses; no pagination, as for templates.
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from kubetask import schema_check
from kubetask.models import API_VERSION, TaskScheduleSpec, TaskTemplate
from kubetask.schedules import ScheduleError, parse_schedule
from kubetask.scheduling import READY
from kubetask.selectors import SelectorError, matches, parse
from kubetask.timeutil import parse_time

from .custom_resources import Body, CustomResources
from .problems import FieldProblem, ProblemError, conflict, invalid, not_found
from .schedule_bodies import ReadyPublic, ScheduleBody, SchedulePublic
from .validation import check_namespace, label_problems, name_problems

PLURAL = "taskschedules"
_TEMPLATE = "/spec/task/templateRef/name"


def public(raw: Body) -> SchedulePublic:
    meta = raw["metadata"]
    spec = raw.get("spec") or {}
    status = raw.get("status") or {}
    ready = next((c for c in status.get("conditions") or [] if c.get("type") == READY), None)
    return SchedulePublic(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta["uid"],
        labels=meta.get("labels") or {},
        spec=spec,
        status=status,
        suspended=bool(spec.get("suspend")),
        ready=None
        if ready is None
        else ReadyPublic(status=str(ready.get("status")), reason=ready.get("reason"), message=ready.get("message")),
        created_at=parse_time(meta.get("creationTimestamp")),
        resource_version=meta.get("resourceVersion"),
    )


def _pointer(loc: tuple[int | str, ...]) -> str:
    return "/spec" + "".join(f"/{x}" for x in loc)


def _integers(value: Any) -> Any:
    """`value` with each integral float (`66.0`) as an int: JSON Schema and the apiserver take one for
    an `integer` field, the strict model would not. Floats past int64 stay floats, and are refused."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
        return int(value)
    if isinstance(value, dict):
        return {k: _integers(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integers(v) for v in value]
    return value


def _spec_integers(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec with `_integers` applied everywhere but to the params (free-form: kept as sent)."""
    task = spec.get("task")
    if not isinstance(task, dict) or "params" not in task:
        return dict(_integers(spec))
    params = task["params"]
    out: dict[str, Any] = _integers({**spec, "task": {k: v for k, v in task.items() if k != "params"}})
    out["task"]["params"] = params
    return out


def _message(msg: str) -> str:
    return msg.removeprefix("Value error, ")


def _detail(problems: list[FieldProblem]) -> str:
    return "; ".join(f"{p.pointer}: {p.message}" for p in problems[:5])


class ScheduleService:
    def __init__(self, crs: CustomResources) -> None:
        self.crs = crs

    # -- checks ------------------------------------------------------------------------------

    def _spec(self, ns: str, name: str, raw: dict[str, Any]) -> tuple[TaskScheduleSpec | None, list[FieldProblem]]:
        try:
            spec = TaskScheduleSpec.model_validate(_spec_integers(raw), by_alias=True, by_name=False, strict=True)
        except ValidationError as e:
            return None, [FieldProblem(_pointer(err["loc"]), _message(err["msg"])) for err in e.errors()]
        try:
            parse_schedule(spec.schedule, time_zone=spec.time_zone, hash_key=f"{ns}/{name}")
        except ScheduleError as err:
            return None, [FieldProblem("/" + err.field.replace(".", "/"), err.message)]
        return spec, []

    def _template_problems(self, ns: str, spec: TaskScheduleSpec) -> list[FieldProblem]:
        ref = spec.task.template_ref.name
        raw = self.crs.get(ns, "tasktemplates", ref)
        if raw is None:
            why = f"TaskTemplate {ref!r} not found in namespace {ns!r}: create it first or fix the name"
            return [FieldProblem(_TEMPLATE, why)]
        schema = TaskTemplate.model_validate(raw).spec.param_schema
        params = spec.task.params if spec.task.params is not None else {}
        return [FieldProblem("/spec/task/params" + e.pointer, e.message) for e in schema_check.validate(params, schema)]

    def _checked(self, ns: str, body: ScheduleBody, *, url_name: str | None = None) -> Body:
        """The body as a CR, after every check of the module docstring; all problems at once."""
        check_namespace(ns)
        problems = name_problems(body.name, "/name")
        if not problems and url_name is not None and body.name != url_name:
            problems.append(FieldProblem("/name", f"the body's name must match the URL: expected {url_name!r}"))
        problems += label_problems(body.labels)
        spec, spec_problems = self._spec(ns, body.name, body.spec)
        problems += spec_problems
        template = self._template_problems(ns, spec) if spec is not None else []
        problems += template
        if problems:
            unknown = any(p.pointer == _TEMPLATE for p in template)
            raise invalid(_detail(problems), problems, slug="unknown-template" if unknown else "invalid-schedule")
        assert spec is not None
        return {
            "apiVersion": API_VERSION,
            "kind": "TaskSchedule",
            "metadata": {"name": body.name, "labels": body.labels},
            "spec": spec.model_dump(mode="json", by_alias=True, exclude_none=True),
        }

    def _current(self, ns: str, name: str) -> Body:
        check_namespace(ns)
        raw = self.crs.get(ns, PLURAL, name)
        if raw is None:
            raise not_found(f"TaskSchedule {name!r} not found in namespace {ns!r}")
        return raw

    # -- use cases ---------------------------------------------------------------------------

    def create(self, ns: str, body: ScheduleBody) -> SchedulePublic:
        cr = self._checked(ns, body)
        try:
            return public(self.crs.create(ns, PLURAL, cr))
        except ProblemError as e:
            if e.status == 409:
                raise conflict(f"a TaskSchedule named {body.name!r} already exists in namespace {ns!r}") from e
            raise

    def list(self, ns: str, *, label_selector: str | None, suspended: bool | None) -> list[SchedulePublic]:
        check_namespace(ns)
        try:
            selector = parse(label_selector or "")
        except SelectorError as e:
            raise invalid(str(e), [FieldProblem("query:labelSelector", str(e))]) from e
        out = [public(raw) for raw in self.crs.list(ns, PLURAL)]
        return [
            s
            for s in sorted(out, key=lambda s: s.name)
            if matches(selector, s.labels) and (suspended is None or s.suspended == suspended)
        ]

    def get(self, ns: str, name: str) -> SchedulePublic:
        return public(self._current(ns, name))

    def replace(self, ns: str, name: str, body: ScheduleBody) -> SchedulePublic:
        """Replace labels and spec; the status (the operator's) and annotations stay."""
        cr = self._checked(ns, body, url_name=name)
        current = self._current(ns, name)
        meta = current["metadata"]
        cr["metadata"]["resourceVersion"] = meta["resourceVersion"]
        if meta.get("annotations"):
            cr["metadata"]["annotations"] = meta["annotations"]
        return public(self.crs.replace(ns, PLURAL, name, cr))

    def delete(self, ns: str, name: str) -> None:
        """Delete the schedule; its run Tasks go with it (owner references), their history stays in SQL."""
        self._current(ns, name)
        self.crs.delete(ns, PLURAL, name)

    def suspend(self, ns: str, name: str, reason: str | None) -> SchedulePublic:
        self._current(ns, name)
        return public(self.crs.patch(ns, PLURAL, name, {"spec": {"suspend": True, "suspendReason": reason}}))

    def resume(self, ns: str, name: str) -> SchedulePublic:
        self._current(ns, name)
        return public(self.crs.patch(ns, PLURAL, name, {"spec": {"suspend": False, "suspendReason": None}}))
