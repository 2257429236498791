"""`kubetask.schedules` re-exports exactly its public surface (what the controller and the models use)."""

from __future__ import annotations

import types

import kubetask.schedules as schedules


def test_all_lists_every_public_name_and_nothing_else() -> None:
    public = {
        name
        for name, value in vars(schedules).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert sorted(schedules.__all__) == sorted(public)
    assert len(schedules.__all__) == len(set(schedules.__all__))
