"""kubetask benchmarks: every figure against a baseline measured in the same run.

    python -m bench.run [--sizes 1000,5000] [--scale 1000,5000,10000] [--rows 1000000] [--quick]
                        [--only dispatch,latency,...] [--fail-figure NAME] [--out DIR] [--name latest]

Starts its own cluster, PostgreSQL and operator, runs the figures one after another in a fixed order
(each in its own module), and writes DIR/NAME.json after every figure and DIR/NAME.md at the end.
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

from bench import api, dispatch, e2e, history, latency, report, scale
from bench.context import QUICK, ROOT, Context, Sizes, log
from kubetask.testing.cluster import Cluster, OperatorProcess
from kubetask.testing.postgres import PostgresServer

Step = Callable[[Context, dict[str, Any], dict[str, dict[str, Any]]], None]
# The fixed order. Figure 2's load half finishes the Tasks of figure 1's first pass, so it runs after it;
# figure 6 adds the node, so it runs last.
STEPS: list[tuple[str, Step]] = [
    ("latency", latency.idle),
    ("api", api.run),
    ("dispatch", dispatch.run),
    ("latency", latency.load),
    ("scale", scale.run),
    ("history", history.run),
    ("e2e", e2e.run),
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
    p.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run of every figure")
    p.add_argument("--only", default="", help="comma-separated figures to run: " + ",".join(report.FIGURES))
    p.add_argument("--fail-figure", default="", choices=["", *report.FIGURES], help="test hook: make NAME raise")
    p.add_argument("--out", default=str(ROOT / "bench/results"))
    p.add_argument("--name", default="latest", help="results file names: NAME.json, NAME.md")
    return p.parse_args(argv)


def sizes(a: argparse.Namespace) -> Sizes:
    """The run's sizes: --quick's or the defaults, then any size given explicitly."""
    base = QUICK if a.quick else Sizes()
    given: dict[str, Any] = {"rows": a.rows, "api_n": a.api_n, "e2e_n": a.e2e_n}
    if a.sizes:
        given["dispatch"] = tuple(int(x) for x in a.sizes.split(","))
    if a.scale:
        given["scale"] = tuple(int(x) for x in a.scale.split(","))
    return replace(base, **{k: v for k, v in given.items() if v is not None})


@contextmanager
def environment(s: Sizes) -> Iterator[Context]:
    """A control plane without scheduler or kubelet (pods stay Pending and nothing retries them: a
    cordoned node made kube-scheduler write a FailedScheduling Event per pod per retry; figure 6 adds the
    node), a throwaway PostgreSQL and the operator; all stopped on exit, SIGTERM included."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    tmp = Path(tempfile.mkdtemp(prefix="kubetask-bench-"))
    images = subprocess.run(["bash", str(ROOT / "scripts/images.sh")], capture_output=True, text=True, check=True)
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
        ctx = Context(cluster=cluster, operator=op, pg=pg, tmp=tmp, node_images=images.stdout.split()[-1], sizes=s)
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


def main(argv: list[str] | None = None) -> None:
    a = parse_args(argv)
    s = sizes(a)
    only = set(a.only.split(",")) if a.only else set(report.FIGURES)
    result: dict[str, Any] = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}",
        "sizes": asdict(s),
        "figures": {},
    }
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)

    def save() -> None:
        (out / f"{a.name}.json").write_text(report.to_json(result))

    try:
        with environment(s) as ctx:
            result["baseline_rss_mib"] = ctx.baseline_rss_mib
            run_steps(ctx, only, a.fail_figure, save, result)
    finally:  # an interrupted run still leaves a page of what it measured
        save()
        page = report.markdown(result)
        (out / f"{a.name}.md").write_text(page)
        print(page)


if __name__ == "__main__":
    main()
