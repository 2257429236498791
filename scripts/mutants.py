"""Prove that the suite can fail: apply each mutants/*.patch to a scratch copy and run its tests.

A mutant breaks the product the way a hole in the suite once let it break unseen (mutants/README.md).
It is *caught* when every test its header names fails in its call phase by an assertion (or
pytest.fail) and the rest of the unit suite still passes; a failure by another exception (KeyError,
ImportError, ...), a collection or set-up error, a timeout or a patch that no longer applies makes
it *broken*, not caught: the test should say what it expected, and the patch should break behaviour.

    scripts/mutants.py                  run every mutant, one at a time; exit 0 only if all are caught
    scripts/mutants.py --only NAME      just these (repeatable); NAME is the file name without .patch
    scripts/mutants.py --list           name, item, tests and why of each
    scripts/mutants.py --check          fast (make test): headers parse, patches apply, named tests exist
    scripts/mutants.py PATH.patch ...   patches from elsewhere (a throwaway one, say)

What runs, and why it is the mutated code:
- The copy is the committed HEAD (`git archive`, resolved once per run) plus the patch, never the
  working tree: uncommitted edits of other work in progress would make the verdict unrepeatable.
  Patches are read from the working tree's mutants/ so a new one can be tried before it is committed.
- Tests run with the checkout's venv python, cwd = the copy and PYTHONPATH = the copy. The venv holds
  kubetask as an editable install, whose finder comes after sys.path, so `kubetask` resolves into
  the copy: in pytest, in the operator subprocess (`sys.executable -c ...` inheriting cwd and env) and
  in console scripts. Each run prints `kubetask.__file__` as seen from there, and a copy that imports
  the checkout instead is reported broken.
- A named test that needs the cluster starts its own through the tests' session fixture (with its
  basetemp inside the scratch directory). scripts/images.sh caches the executor image by content
  under $KUBETASK_CACHE/images; each run gets its own images directory (sharing the build lock, seeded
  with the current image) so a mutated image never lands where other test runs import it from.
"""

from __future__ import annotations

import argparse
import dataclasses
import fcntl
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTANTS = ROOT / "mutants"
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
REAL_CACHE = Path(
    os.environ.get("KUBETASK_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "kubetask"
)
HEADER_KEYS = ("Item", "Test", "Why")
# a named test's own run includes cluster start-up and the slowest test's per-test timeout
RUN_TIMEOUT_SECONDS = 3 * 3600
# pytest tears its fixtures down (the cluster fixture runs `cluster.sh down`) on SIGINT only; a
# SIGTERM or SIGKILL would leave a cluster running, so every way out of a run goes through SIGINT
TEARDOWN_SECONDS = 300
# pytest.fail() is a deliberate failure of the test; its timeout is not (a hang says nothing about why)
ASSERTION_TYPES = frozenset({"AssertionError", "Failed"})


class HeaderError(ValueError):
    """A patch whose header (before the first `diff --git`) lacks Item, Test or Why, or is malformed."""


@dataclasses.dataclass(frozen=True)
class Mutant:
    name: str
    path: Path
    item: int
    tests: tuple[str, ...]
    why: str

    @property
    def needs_cluster(self) -> bool:
        return any(t.startswith("tests/integration/") for t in self.tests)


@dataclasses.dataclass(frozen=True)
class Case:
    """One collected test case from a JUnit report: its node id and how it ended."""

    nodeid: str
    outcome: str  # passed | assertion | skipped | error | other
    detail: str


@dataclasses.dataclass(frozen=True)
class Verdict:
    mutant: Mutant
    status: str  # caught | NOT caught | broken
    lines: tuple[str, ...]


def parse(path: Path) -> Mutant:
    """Read the header: `Key: value` lines; Test may repeat; an indented line continues the previous value."""
    text = path.read_text(encoding="utf-8")
    start = re.search(r"^diff --git ", text, re.MULTILINE)
    if start is None:
        raise HeaderError(f"{path.name}: no `diff --git` line (make the patch with git diff)")
    head = text[: start.start()]
    values: dict[str, list[str]] = {k: [] for k in HEADER_KEYS}
    last: str | None = None
    for raw in head.splitlines():
        if not raw.strip() or raw.startswith("#"):
            last = None if not raw.strip() else last
            continue
        if raw[0].isspace() and last is not None:
            values[last][-1] += " " + raw.strip()
            continue
        key, colon, value = raw.partition(":")
        if not colon or key not in values:
            raise HeaderError(f"{path.name}: unexpected header line {raw!r} (keys: {', '.join(HEADER_KEYS)})")
        values[key].append(value.strip())
        last = key
    if len(values["Item"]) != 1 or not values["Item"][0].isdigit():
        raise HeaderError(f"{path.name}: needs exactly one `Item: <number>`")
    if not values["Test"] or not all(t.startswith("tests/") and ".py" in t for t in values["Test"]):
        raise HeaderError(f"{path.name}: needs one or more `Test: tests/...py::test_name`")
    if len(values["Why"]) != 1 or not values["Why"][0]:
        raise HeaderError(f"{path.name}: needs one `Why:` line")
    return Mutant(path.stem, path, int(values["Item"][0]), tuple(values["Test"]), values["Why"][0])


def _crash_type(failure: ET.Element) -> str:
    """The exception's name: pytest ends a failure's text with `path:line: ExceptionType`."""
    lines = (failure.text or "").strip().splitlines()
    if lines and (m := re.search(r":\d+: ([\w.]+)$", lines[-1])):
        return m.group(1).rsplit(".", 1)[-1]
    return (failure.get("message") or "").split(":", 1)[0].strip() or "unknown"


def classify(testcase: ET.Element) -> tuple[str, str]:
    """(outcome, detail) of one JUnit <testcase>; a call-phase assertion is the only "assertion"."""
    failures = testcase.findall("failure")
    errors = testcase.findall("error")
    for f in failures:
        kind, message = _crash_type(f), (f.get("message") or "").splitlines()[0:1]
        text = message[0] if message else ""
        if kind in ASSERTION_TYPES and not text.startswith("Failed: Timeout"):
            return "assertion", text[:160]
    if failures:
        f = failures[0]
        return "other", f"failed by {_crash_type(f)}, not an assertion: {(f.get('message') or '')[:160]}"
    if errors:
        return "error", (errors[0].get("message") or "error")[:160]
    skipped = testcase.find("skipped")
    if skipped is not None:
        return "skipped", (skipped.get("message") or "skipped")[:160]
    return "passed", ""


def _expected(test: str) -> tuple[str, str | None]:
    """JUnit (classname, name-or-None) of a node id: `tests/a/b.py::C::t[x]` -> ("tests.a.b.C", "t[x]")."""
    path, _, rest = test.partition("::")
    parts = [p for p in rest.split("::") if p]
    module = path.removesuffix(".py").replace("/", ".")
    if not parts:
        return module, None
    return ".".join([module, *parts[:-1]]), parts[-1]


def cases(report: Path, test: str) -> list[Case]:
    """The report's cases that `test` (a node id, maybe without its parameters, or a file) names."""
    if not report.exists():
        return []
    classname, name = _expected(test)
    path = test.partition("::")[0]
    found = []
    for tc in ET.parse(report).iter("testcase"):
        cn, tn = tc.get("classname", ""), tc.get("name", "")
        if name is None:
            match = cn == classname or cn.startswith(classname + ".")
        else:
            match = cn == classname and (tn == name or ("[" not in name and tn.startswith(name + "[")))
        if match:
            classes = cn[len(path.removesuffix(".py").replace("/", ".")) :].strip(".")
            nodeid = "::".join([path, *([c for c in classes.split(".") if c]), tn])
            found.append(Case(nodeid, *classify(tc)))
    return found


def _collection_errors(report: Path) -> list[str]:
    if not report.exists():
        return ["no JUnit report (pytest did not get as far as writing one)"]
    return [
        f"{tc.get('name')}: {e.get('message')}"
        for tc in ET.parse(report).iter("testcase")
        for e in tc.findall("error")
        if e.get("message") == "collection failure"
    ]


def discover(paths: Sequence[str], only: Sequence[str]) -> list[Path]:
    found = [Path(p).resolve() for p in paths] if paths else sorted(MUTANTS.glob("*.patch"))
    if only:
        missing = set(only) - {p.stem for p in found}
        if missing:
            raise SystemExit(f"mutants.py: no such mutant: {', '.join(sorted(missing))}")
        found = [p for p in found if p.stem in only]
    return found


def _python() -> str:
    return str(VENV_PYTHON if VENV_PYTHON.exists() else Path(sys.executable))


def _git_apply(patch: Path, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "apply", *flags, str(patch)], cwd=cwd, capture_output=True, text=True)


class Scratch:
    """The run's scratch directory: a pristine export of HEAD, and an image cache of its own."""

    def __init__(self, keep: bool) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="ktm-"))  # short: cluster sockets live under it
        self.keep = keep
        self.commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        self.pristine = self.dir / "head"
        self.pristine.mkdir()
        tar = ["git", "archive", "--format=tar", self.commit]
        archive = subprocess.run(tar, cwd=ROOT, capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(self.pristine)], input=archive.stdout, check=True)
        self.cache = self.dir / "cache"
        self._make_cache()

    def _make_cache(self) -> None:
        """Everything of the real cache by symlink except images/, whose build lock is shared."""
        self.cache.mkdir()
        real_images = REAL_CACHE / "images"
        if REAL_CACHE.is_dir():
            for entry in REAL_CACHE.iterdir():
                if entry.name != "images":
                    (self.cache / entry.name).symlink_to(entry)
        images = self.cache / "images"
        images.mkdir()
        real_images.mkdir(parents=True, exist_ok=True)
        (real_images / ".lock").touch()
        (images / ".lock").symlink_to(real_images / ".lock")
        with (real_images / ".lock").open() as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # images.sh replaces the tar, then the hash, under this lock
            if (real_images / "executor.hash").exists() and (real_images / "executor.tar").exists():
                # the hash is rewritten in place (`echo > hash`): a copy, or a rebuild here would rewrite
                # the real one; the tar is only ever replaced by `mv`, so a hard link is safe and cheap
                shutil.copy2(real_images / "executor.hash", images / "executor.hash")
                try:
                    os.link(real_images / "executor.tar", images / "executor.tar")
                except OSError:
                    shutil.copy2(real_images / "executor.tar", images / "executor.tar")

    def copy(self, name: str) -> Path:
        src = self.dir / name / "src"
        shutil.copytree(self.pristine, src, symlinks=True)
        return src

    def close(self, *, keep_logs: bool) -> None:
        """Remove the scratch directory; with `keep_logs`, only the copies (the reports and logs stay)."""
        if self.keep:
            return
        if not keep_logs:
            shutil.rmtree(self.dir, ignore_errors=True)
            return
        shutil.rmtree(self.pristine, ignore_errors=True)
        shutil.rmtree(self.cache, ignore_errors=True)


def _env(src: Path, cache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTEST_ADDOPTS")}
    return {**env, "PYTHONPATH": str(src), "KUBETASK_CACHE": str(cache), "PYTHONDONTWRITEBYTECODE": "1"}


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Interrupt pytest and wait for its teardown; SIGKILL only if that never ends."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=TEARDOWN_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pytest(src: Path, env: dict[str, str], report: Path, log: Path, basetemp: Path, args: Iterable[str]) -> int:
    outputs = [f"--junitxml={report}", f"--basetemp={basetemp}"]
    cmd = [_python(), "-m", "pytest", "-p", "no:cacheprovider", *outputs, "-q", *args]
    with log.open("w") as out:
        # its own session: a Ctrl-C here reaches pytest once, from _stop, not also from the terminal
        proc = subprocess.Popen(cmd, cwd=src, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            return proc.wait(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            out.write(f"\nmutants.py: pytest still running after {RUN_TIMEOUT_SECONDS} s; interrupted\n")
            out.flush()
            return -1
        finally:
            _stop(proc)  # also on Ctrl-C or SIGTERM (SystemExit) while waiting


def _tail(log: Path, n: int = 20) -> list[str]:
    return ["    | " + line for line in log.read_text(errors="replace").splitlines()[-n:]]


def _judge(found: dict[str, list[Case]], report: Path, commit: str, lines: list[str]) -> tuple[list[str], list[str]]:
    """(broken, passed) among the named tests' cases; one line per case is added to `lines`."""
    broken, passed = [], []
    for test, cs in found.items():
        if not cs:
            why = "; ".join(_collection_errors(report)) or f"not collected: is it committed? the copy is {commit[:12]}"
            broken.append(f"{test}: not run ({why})")
        for c in cs:
            lines.append(f"{c.outcome:>9}  {c.nodeid}" + (f"  ({c.detail})" if c.detail else ""))
            if c.outcome in ("error", "other"):
                broken.append(f"{c.nodeid}: {c.detail}")
            elif c.outcome != "assertion":
                passed.append(c.nodeid)
    return broken, passed


def run(m: Mutant, scratch: Scratch) -> Verdict:
    """Apply `m` to a fresh copy of HEAD, run its named tests there, then the rest of the unit suite."""
    src = scratch.copy(m.name)
    work = src.parent
    try:
        applied = _git_apply(m.path, src)
        if applied.returncode:
            return Verdict(m, "broken", (f"does not apply to {scratch.commit[:12]}: {applied.stderr.strip()}",))
        env = _env(src, scratch.cache)
        which = [_python(), "-c", "import kubetask; print(kubetask.__file__)"]
        where = subprocess.run(which, cwd=src, env=env, capture_output=True, text=True).stdout.strip()
        lines = [f"kubetask imported from {where}"]
        if not where.startswith(str(src) + os.sep):
            return Verdict(m, "broken", (*lines, "the copy does not import its own kubetask"))

        # (a) the named tests, all in one pytest run (one cluster start-up for those that need it)
        named = work / "named.xml"
        _pytest(src, env, named, work / "named.log", work / "t", m.tests)
        found = {t: cases(named, t) for t in m.tests}
        broken, passed = _judge(found, named, scratch.commit, lines)

        # (b) the rest of the unit suite must pass with the mutant in place
        unit = work / "unit.xml"
        deselect = [c.nodeid for cs in found.values() for c in cs if c.nodeid.startswith("tests/unit/")]
        deselect += [t for t, cs in found.items() if not cs and t.startswith("tests/unit/")]
        args = ["tests/unit", *(a for d in deselect for a in ("--deselect", d))]
        rc = _pytest(src, env, unit, work / "unit.log", work / "u", args)
        if rc != 0:
            failed = [c.nodeid for c in cases(unit, "tests/unit") if c.outcome not in ("passed", "skipped")]
            broken.append(f"the rest of the unit suite fails (exit {rc}): {', '.join(failed[:5]) or 'see log'}")
            lines += _tail(work / "unit.log")
        else:
            lines.append("rest of the unit suite passes")

        if broken:
            lines += [f"broken: {b}" for b in broken] + _tail(work / "named.log")
            return Verdict(m, "broken", tuple(lines))
        if passed:
            return Verdict(m, "NOT caught", (*lines, *(f"passes with the mutant: {p}" for p in passed)))
        return Verdict(m, "caught", tuple(lines))
    finally:
        for leftover in _down_leftover_clusters(src, work):
            print(f"  stopped a cluster its pytest left running: {leftover}", flush=True)
        if not scratch.keep:
            shutil.rmtree(src, ignore_errors=True)
            for t in ("t", "u"):
                shutil.rmtree(work / t, ignore_errors=True)


def _down_leftover_clusters(src: Path, work: Path) -> list[Path]:
    """Stop any cluster still up under the run's basetemps (cluster.sh down removes DIR/pids).

    The session fixture tears its cluster down, but not if pytest was SIGKILLed after a teardown
    that never ended; deleting the basetemp then would also delete the pid list `down` needs.
    """
    script = src / "scripts" / "cluster" / "cluster.sh"
    script = script if script.exists() else ROOT / "scripts" / "cluster" / "cluster.sh"
    stopped = []
    for pids in sorted(work.glob("[tu]/*/pids")):  # the cluster fixture's dir is basetemp/k8sN
        subprocess.run(["bash", str(script), "down", str(pids.parent)], capture_output=True, timeout=300)
        stopped.append(pids.parent)
    return stopped


def check(paths: list[Path]) -> int:
    """Fast, for `make test`: every header parses, every patch applies here, every named test exists."""
    problems: list[str] = []
    tests: list[str] = []
    for p in paths:
        try:
            m = parse(p)
        except HeaderError as e:
            problems.append(str(e))
            continue
        tests += m.tests
        r = _git_apply(p, ROOT, "--check")
        if r.returncode:
            problems.append(f"{p.name} no longer applies; port it to the current code:\n{r.stderr.strip()}")
    if tests:
        collect = [_python(), "-m", "pytest", "-p", "no:cacheprovider", "--collect-only", "-q", *sorted(set(tests))]
        r = subprocess.run(collect, cwd=ROOT, capture_output=True, text=True)
        if r.returncode:
            out = (r.stdout + r.stderr).splitlines()
            lines = [line for line in out if "not found" in line or "ERROR" in line] or out[-20:]
            problems.append("a named test is not collected (renamed? port the header):\n" + "\n".join(lines))
    for line in problems:
        print(f"mutants: {line}", file=sys.stderr)
    print(f"mutants: {len(paths)} patches, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("patches", nargs="*", help="patch files (default: mutants/*.patch)")
    ap.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this mutant (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the mutants and exit")
    ap.add_argument("--check", action="store_true", help="only check that headers parse and patches apply")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copies and reports")
    args = ap.parse_args(argv)
    # SIGTERM (a CI timeout, say) unwinds like Ctrl-C: the running pytest is interrupted and torn down
    signal.signal(signal.SIGTERM, lambda signum, _frame: sys.exit(128 + signum))
    paths = discover(args.patches, args.only)
    if args.check:
        return check(paths)
    mutants: list[Mutant] = []
    verdicts: list[Verdict] = []
    for p in paths:
        try:
            mutants.append(parse(p))
        except HeaderError as e:
            verdicts.append(Verdict(Mutant(p.stem, p, 0, (), ""), "broken", (str(e),)))
            print(f"broken: {e}", flush=True)
    if args.list:
        for m in mutants:
            print(f"{m.name}  (item {m.item}{', cluster' if m.needs_cluster else ''})\n  why: {m.why}")
            print("".join(f"  test: {t}\n" for t in m.tests), end="")
        return 0
    if not paths:
        print("mutants: none in mutants/", file=sys.stderr)
        return 0
    scratch = Scratch(args.keep)
    print(f"mutants: {len(mutants)} on HEAD {scratch.commit[:12]}, scratch {scratch.dir}", flush=True)
    try:
        for i, m in enumerate(mutants, 1):
            print(f"[{i}/{len(mutants)}] {m.name} (item {m.item}) ...", flush=True)
            v = run(m, scratch)
            verdicts.append(v)
            print(f"[{i}/{len(mutants)}] {v.status}: {m.name}", *v.lines, sep="\n  ", flush=True)
    finally:
        all_caught = all(v.status == "caught" for v in verdicts) and len(verdicts) == len(paths)
        scratch.close(keep_logs=not all_caught)
    width = max(len(v.mutant.name) for v in verdicts)
    print(f"\n{'mutant'.ljust(width)}  item  verdict")
    for v in verdicts:
        print(f"{v.mutant.name.ljust(width)}  {v.mutant.item:>4}  {v.status}")
    caught = sum(v.status == "caught" for v in verdicts)
    print(f"{caught} of {len(verdicts)} mutants caught" + ("" if all_caught else f"; reports in {scratch.dir}"))
    return 0 if caught == len(verdicts) else 1


if __name__ == "__main__":
    sys.exit(main())
