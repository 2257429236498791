"""kubetask benchmarks: every figure against a baseline measured in the same run.

    python -m bench.run [--sizes 1000,5000] [--scale 1000,5000,10000] [--rows 1000000] [--quick] [--logs-n 20]
                        [--only dispatch,latency,...] [--fail-figure NAME] [--out DIR] [--name latest]
                        [--schedules 1000] [--schedules-at-once 1000,5000] [--schedule-minutes 2]
                        [--schedule-sides kubetask,cronjob-v1,cronjob-v2] [--merge] [--commit TEXT]

Starts its own cluster, PostgreSQL and operator, runs the figures one after another in a fixed order
(each in its own module), and writes DIR/NAME.json after every figure and DIR/NAME.md at the end;
with --merge the figures not run are kept from DIR/NAME.json, each marked with the run it came from.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from bench import api, auth, dispatch, e2e, history, latency, logs, report, scale, schedules
from bench.context import QUICK, ROOT, Context, Sizes, log
from kubetask.testing.cluster import Cluster, OperatorProcess
from kubetask.testing.postgres import PostgresServer

Step = Callable[[Context, dict[str, Any], dict[str, dict[str, Any]]], None]
# The fixed order. Figure 2's load half finishes the Tasks of figure 1's first pass, so it runs after it;
# figure 7 restarts the controller-manager (and back) and needs no node; figure 6 adds the node, so it and
# figure 8 (the node too) run last.
STEPS: list[tuple[str, Step]] = [
    ("latency", latency.idle),
    ("api", api.run),
    ("auth", auth.run),
    ("dispatch", dispatch.run),
    ("latency", latency.load),
    ("scale", scale.run),
    ("history", history.run),
    ("schedules", schedules.run),
    ("e2e", e2e.run),
    ("logs", logs.run),
]


class ForcedFailure(RuntimeError):
    """Raised by `--fail-figure NAME`: a test hook to show how a failed figure is reported."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", help="dispatch sizes (default 1000,5000)")
    p.add_argument("--scale", help="active task counts for the memory figure (default 1000,5000,10000)")
    p.add_argument("--rows", type=int, help="history rows in PostgreSQL (default 1000000)")
    p.add_argument("--api-n", type=int, help="API submissions per backend (default 500)")
    p.add_argument("--e2e-n", type=int, help="Tasks and bare Jobs on the node (default 100)")
    p.add_argument("--logs-n", type=int, help="Tasks of each log / result size on the node (default 20)")
    p.add_argument("--schedules", help="schedules every minute spread with H (default 1000)")
    p.add_argument("--schedules-at-once", help="schedules due at the same instant (default 1000,5000)")
    p.add_argument("--schedule-minutes", type=int, help="minutes measured per schedules pass (default 2)")
    p.add_argument(
        "--schedule-sides", help="schedules figure sides: " + ",".join(Sizes.schedule_sides) + " (default all)"
    )
    p.add_argument("--commit", help="what the run measures, for the report (default: git HEAD of the tree)")
    p.add_argument("--merge", action="store_true", help="keep NAME.json's other figures; replace the ones run")
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every figure")
    p.add_argument("--only", default="", help="comma-separated figures to run: " + ",".join(report.FIGURES))
    p.add_argument("--fail-figure", default="", choices=["", *report.FIGURES], help="test hook: make NAME raise")
    p.add_argument("--out", default=str(ROOT / "bench/results"))
    p.add_argument("--name", default="latest", help="results file names: NAME.json, NAME.md")
    return p.parse_args(argv)


def sizes(a: argparse.Namespace) -> Sizes:
    """The run's sizes: --quick's or the defaults, then any size given explicitly."""
    base = QUICK if a.quick else Sizes()
    given: dict[str, Any] = {
        "rows": a.rows,
        "api_n": a.api_n,
        "e2e_n": a.e2e_n,
        "logs_n": a.logs_n,
        "schedule_minutes": a.schedule_minutes,
    }
    if a.sizes:
        given["dispatch"] = tuple(int(x) for x in a.sizes.split(","))
    if a.scale:
        given["scale"] = tuple(int(x) for x in a.scale.split(","))
    if a.schedules is not None:  # "" (or 0) runs none
        given["schedules_spread"] = _counts(a.schedules)
    if a.schedules_at_once is not None:
        given["schedules_at_once"] = _counts(a.schedules_at_once)
    if a.schedule_sides:
        given["schedule_sides"] = tuple(x for x in a.schedule_sides.split(",") if x)
        unknown = set(given["schedule_sides"]) - set(Sizes.schedule_sides)
        if unknown:
            sys.exit(f"--schedule-sides: unknown {sorted(unknown)}; known: {','.join(Sizes.schedule_sides)}")
    return replace(base, **{k: v for k, v in given.items() if v is not None})


def _counts(text: str) -> tuple[int, ...]:
    return tuple(n for n in (int(x) for x in text.split(",") if x.strip()) if n)


def commit(root: Path) -> str | None:
    """HEAD of the tree the bench runs from, `+dirty` when operator/, kubetask/ or api/ have uncommitted
    changes (what runs is then not that commit); None outside a git checkout (a `git archive` copy)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True)
    if head.returncode:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "operator", "kubetask", "api"], cwd=root, capture_output=True, text=True
    ).stdout.strip()
    return head.stdout.strip() + ("+dirty" if dirty else "")


@contextmanager
def environment(s: Sizes, *, node: bool = True) -> Iterator[Context]:
    """A control plane without scheduler or kubelet (pods stay Pending and nothing retries them: a
    cordoned node made kube-scheduler write a FailedScheduling Event per pod per retry; figure 6 adds the
    node), a throwaway PostgreSQL and the operator; all stopped on exit, SIGTERM included. The node's
    images are built only when the node will join (`node`): images.sh keeps one executor image in the
    shared cache, and a run from a copy of another commit would replace the one the tests use."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="kubetask-bench-"))
    images = (
        subprocess.run(["bash", str(ROOT / "scripts/images.sh")], capture_output=True, text=True, check=True).stdout
        if node
        else "(no node in this run)"
    )
    # No apiserver audit log: the tests' oracle for "once", but a blocking write per request here, which
    # the baselines of earlier runs (bench/results) never paid.
    env = {**os.environ, "KUBETASK_CRDS": str(ROOT / "crds"), "KUBETASK_NO_NODE": "1", "KUBETASK_AUDIT": "0"}
    cluster_sh = str(ROOT / "scripts/cluster/cluster.sh")
    up = subprocess.run(["bash", cluster_sh, "up", str(tmp / "k8s")], env=env, capture_output=True, text=True)
    if up.returncode:
        sys.exit(f"cluster did not start: {up.stderr[-2000:]}")
    pg = PostgresServer()
    op: OperatorProcess | None = None
    try:
        pg.start()
        cluster = Cluster(dir=tmp / "k8s", kubeconfig=Path(up.stdout.split()[-1]))
        op = OperatorProcess(cluster, tmp / "operator.log", f"sqlite:///{tmp / 'mirror.db'}")
        ctx = Context(cluster=cluster, operator=op, pg=pg, tmp=tmp, node_images=images.split()[-1], sizes=s)
        ctx.restart_operator()
        ctx.baseline_rss_mib = ctx.rss()
        yield ctx
    finally:
        if op:
            op.stop()
        pg.destroy()
        subprocess.run(["bash", cluster_sh, "down", str(tmp / "k8s")], capture_output=True)


def run_steps(
    ctx: Context,
    only: set[str],
    fail: str,
    save: Callable[[], None],
    result: dict[str, Any],
    steps: list[tuple[str, Step]] = STEPS,
) -> None:
    """Every step of the chosen figures, in order; a step that raises marks its figure FAILED (its later
    steps are skipped, the other figures still run); results are saved after every step."""
    figures: dict[str, dict[str, Any]] = result["figures"]
    for name, step in steps:
        if name not in only or figures.get(name, {}).get("error"):
            continue
        record = figures.setdefault(name, {})
        log(f"figure {name}: {step.__module__}.{step.__name__}")
        try:
            if name == fail:
                raise ForcedFailure(f"forced by --fail-figure {name} (test hook)")
            step(ctx, record, figures)
        except Exception as e:
            log(f"{name} failed: {e!r}")
            record["error"] = repr(e)
        save()


def merged(previous: dict[str, Any], result: dict[str, Any], only: set[str]) -> dict[str, Any]:
    """`--merge`: the previous run's figures that are not run now, each stamped with that run's time,
    commit and sizes (unless it already had them: kept twice, it keeps the first), under this run; the
    chosen figures start empty."""
    stamp = {k: previous.get(k) for k in ("when", "commit", "sizes") if previous.get(k) is not None}
    kept = {  # a figure with a `when` was kept before: its stamp is its own run's, not the previous one's
        k: {**({} if v.get("when") else stamp), **{x: y for x, y in v.items() if x != "status"}}
        for k, v in (previous.get("figures") or {}).items()
        if k not in only
    }
    return {**result, "figures": kept}


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    s = sizes(a)
    only = set(a.only.split(",")) if a.only else set(report.FIGURES)
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": a.commit or commit(ROOT),
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "sizes": asdict(s),
        "figures": {},
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if a.merge and (out / f"{a.name}.json").exists():
        result = merged(orjson.loads((out / f"{a.name}.json").read_bytes()), result, only)

    def save() -> None:
        (out / f"{a.name}.json").write_text(report.to_json(result))

    try:
        with environment(s, node=bool({"e2e", "logs"} & only)) as ctx:
            result["baseline_rss_mib"] = ctx.baseline_rss_mib
            run_steps(ctx, only, a.fail_figure, save, result)
    finally:  # an interrupted run still leaves a page of what it measured
        save()
        page = report.markdown(result)
        (out / f"{a.name}.md").write_text(page)
        print(page)


if __name__ == "__main__":
    main()
