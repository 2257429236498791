"""The operator's kopf wiring: the cheap diff-base storage is only used while it is safe."""

from __future__ import annotations

from typing import Any

import kopf
from kopf._cogs.structs.references import Resource  # kopf's own type of a watched resource

from kubetask.operator import handlers


def test_the_operator_registers_only_event_handlers() -> None:
    assert handlers.events_only(kopf.get_default_registry())


def test_a_change_handler_or_daemon_brings_kopfs_diff_base_back() -> None:
    with_change = kopf.OperatorRegistry()

    @kopf.on.update("kubetask.io", "v1alpha1", "tasks", registry=with_change)
    def changed(**_: Any) -> None: ...

    with_daemon = kopf.OperatorRegistry()

    @kopf.daemon("kubetask.io", "v1alpha1", "tasks", registry=with_daemon)
    def daemon(**_: Any) -> None: ...

    with_events = kopf.OperatorRegistry()

    @kopf.on.event("kubetask.io", "v1alpha1", "tasks", registry=with_events)
    def event(**_: Any) -> None: ...

    assert not handlers.events_only(with_change)
    assert not handlers.events_only(with_daemon)
    assert handlers.events_only(with_events)


def test_the_events_only_storage_keeps_nothing() -> None:
    storage = handlers.EventsOnlyDiffBase()
    body = kopf.Body({"metadata": {"name": "t"}, "spec": {"x": [1, 2]}})
    assert storage.build(body=body) == {}
    assert storage.fetch(body=body) is None


def test_jobs_and_pods_are_watched_server_side_filtered_to_what_every_handler_of_theirs_matches() -> None:
    registry = kopf.get_default_registry()
    for (group, version, plural), label in handlers.OWN_OBJECTS_ONLY.items():
        watched = [
            h
            for h in registry._watching.get_all_handlers()
            if h.selector is not None and h.selector.check(Resource(group, version, plural))
        ]
        assert watched, plural
        assert all((h.labels or {}).get(label) is kopf.PRESENT for h in watched), plural


def test_the_operator_asks_the_apiserver_for_the_labelled_jobs_and_pods_only() -> None:
    settings = kopf.OperatorSettings()
    handlers.watch_own_objects_only(settings)
    for (group, version, plural), label in handlers.OWN_OBJECTS_ONLY.items():
        assert list(settings.watching.label_selectors.collect(Resource(group, version, plural))) == [label]
    assert not list(settings.watching.label_selectors.collect(Resource("kubetask.io", "v1alpha1", "tasks")))
