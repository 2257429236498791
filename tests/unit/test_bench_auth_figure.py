"""Figure 9 (authentication on vs off): its ratio is on over off, from complete rates only, and its page
shows every pass, a short one flagged."""

from __future__ import annotations

from typing import Any

from bench.auth import PASSES, on_off_ratio
from bench.harness import counted
from bench.report import PARTIAL, markdown, status


def _row(label: str, per_s_seconds: float, *, seen: int = 100) -> dict[str, Any]:
    api = {**counted("100 submissions answered and found", n=100, seen=seen, seconds=per_s_seconds), "p99_ms": 80.0}
    return {"pass": label, "auth": label != "off", "settings": {}, "api": api, "load": [1.5, 2.0]}


def test_the_ratio_is_the_mean_on_rate_over_the_mean_off_rate_without_the_cache_off_pass() -> None:
    rows = [_row("off", 1.0), _row("on", 1.25), _row("off", 0.5), _row("on", 0.5), _row("on, cache off", 10.0)]
    # off: 100/s and 200/s (mean 150); on: 80/s and 200/s (mean 140)
    assert on_off_ratio(rows) == 140 / 150
    assert on_off_ratio(rows[:1]) is None
    nothing_seen = {**_row("on", 1.0), "api": counted("x", n=100, seen=0)}
    assert on_off_ratio([_row("off", 1.0), nothing_seen]) is None


def test_the_passes_alternate_off_and_on_and_end_with_the_uncached_one() -> None:
    assert [(label, on) for label, on, _ in PASSES] == [
        ("off", False),
        ("on", True),
        ("off", False),
        ("on", True),
        ("on, cache off", True),
    ]
    assert PASSES[-1][2]["KUBETASK_API_AUTH_CACHE_SECONDS"] == "0"


def test_the_page_shows_each_pass_and_a_short_one_makes_the_figure_partial() -> None:
    rows = [_row("off", 1.0), _row("on", 1.0, seen=90)]
    fig = {"concurrency": 16, "rows": rows, "ratio": on_off_ratio(rows)}
    page = markdown({"figures": {"auth": fig}})
    assert "## 9. API submissions, authentication on vs off" in page
    assert "**0.90** (goal ≥ 0.9)" in page
    assert "| off | 100 | 100.0 | 80 | 100/100 | 1.50 → 2.00 |" in page
    assert "| on | 100 | 90.0 | 80 | 90/100 PARTIAL | 1.50 → 2.00 |" in page
    assert status(fig) == PARTIAL
