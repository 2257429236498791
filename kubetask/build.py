"""What this build of kubetask is: its version, for User-Agents and the `kubetask_build` metric."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _installed


def version() -> str:
    """The installed package's version; "unknown" from a source tree that was never installed."""
    try:
        return _installed("kubetask")
    except PackageNotFoundError:
        return "unknown"
