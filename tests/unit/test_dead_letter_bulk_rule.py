"""`dlq redrive|purge`: acting on more than one dead letter needs --yes or a terminal's answer."""

from __future__ import annotations

import pytest

from kubetask.cli.dlq import Bulk, bulk_action


@pytest.mark.parametrize(
    ("count", "dry_run", "yes", "interactive", "action"),
    [
        (0, False, False, True, Bulk.NOTHING),
        (0, True, True, False, Bulk.NOTHING),
        (3, True, True, True, Bulk.DRY_RUN),
        (1, False, False, False, Bulk.ACT),
        (3, False, True, False, Bulk.ACT),
        (3, False, False, True, Bulk.ASK),
        (3, False, False, False, Bulk.REFUSE),
    ],
    ids=[
        "none",
        "none on a dry run",
        "dry run wins",
        "one",
        "many with --yes",
        "many on a terminal",
        "many in a script",
    ],
)
def test_acting_on_many_dead_letters_needs_a_yes(
    count: int, dry_run: bool, yes: bool, interactive: bool, action: Bulk
) -> None:
    assert bulk_action(count, dry_run=dry_run, yes=yes, interactive=interactive) is action
