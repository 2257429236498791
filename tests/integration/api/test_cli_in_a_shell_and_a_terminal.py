"""The installed `kubetask` as a real process: `-o json` of every printing command pipes into
`python -m json.tool`, exit codes reach the shell, and `watch` in a pseudo-terminal redraws one
table in place while a task goes Running -> Succeeded."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kubetask.testing.cluster import Cluster, create, template, wait_for, wait_task

KUBETASK = str(Path(sys.executable).parent / "kubetask")


@pytest.fixture
def env(api_url: str, namespace: str, tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("KUBETASK_") and k not in ("NO_COLOR", "FORCE_COLOR")}
    return e | {
        "KUBETASK_CONFIG": str(tmp_path / "c.yaml"),
        "KUBETASK_API_URL": api_url,
        "KUBETASK_NAMESPACE": namespace,
    }


def _sh(command: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command}"], env=env, capture_output=True, text=True, timeout=180
    )


def test_json_of_every_printing_command_pipes_into_json_tool(cluster: Cluster, namespace: str, env) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    create(cluster, namespace, "tasktemplates", template("sleep", handler="sleep"))
    done = _sh(f"{KUBETASK} submit echo --name t1 -p message=hi --wait -o json | {sys.executable} -m json.tool", env)
    assert done.returncode == 0, done.stderr
    assert '"phase": "Succeeded"' in done.stdout
    _sh(f"{KUBETASK} submit sleep --name t2 -p seconds=60", env)
    wait_task(cluster, namespace, "t2", {"Running"})
    _sh(f"{KUBETASK} config set-context here --namespace {namespace}", env)
    for command in (
        "get t1",
        "list",
        "list -A --limit 5",
        "history t1",
        "cancel t2",
        "resubmit t1 --dry-run",
        "submit echo -p message=x --dry-run",
        "config view",
        "config get-contexts",
    ):
        r = _sh(f"{KUBETASK} {command} -o json | {sys.executable} -m json.tool", env)
        assert r.returncode == 0 and r.stdout.startswith("{"), (command, r.stdout, r.stderr)


def test_exit_codes_reach_the_shell(cluster: Cluster, namespace: str, env) -> None:
    create(cluster, namespace, "tasktemplates", template("fail", handler="fail"))
    codes = {
        "get": _sh(f"{KUBETASK} get", env).returncode,
        "unreachable": _sh(f"{KUBETASK} list --api-url http://127.0.0.1:9", env).returncode,
        "failed": _sh(f"{KUBETASK} submit fail --wait", env).returncode,
        "ok": _sh(f"{KUBETASK} list -o name", env).returncode,
    }
    assert codes == {"get": 2, "unreachable": 3, "failed": 1, "ok": 0}


class Screen:
    """Just enough of a terminal for rich's Live: text, \\r, \\n, cursor up (CSI n A), erase line (CSI 2K)."""

    def __init__(self) -> None:
        self.lines: list[str] = [""]
        self.row = self.col = 0

    def feed(self, data: str) -> None:
        for token in re.findall(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r|\n|[^\x1b\r\n]+", data):
            if token == "\r":
                self.col = 0
            elif token == "\n":
                self.row += 1
                self.col = 0
                if self.row == len(self.lines):
                    self.lines.append("")
            elif token.startswith("\x1b[") and token.endswith("A"):
                self.row = max(0, self.row - int(token[2:-1] or 1))
            elif token == "\x1b[2K":
                self.lines[self.row] = ""
            elif not token.startswith("\x1b"):
                line = self.lines[self.row].ljust(self.col)
                self.lines[self.row] = line[: self.col] + token + line[self.col + len(token) :]
                self.col += len(token)


def _in_a_terminal(argv: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run argv with a pseudo-terminal as stdin, stdout and stderr; its exit code and all it wrote."""
    primary, secondary = pty.openpty()
    proc = subprocess.Popen(
        argv,
        stdin=secondary,
        stdout=secondary,
        stderr=secondary,
        env=env | {"TERM": "xterm-256color", "COLUMNS": "160", "LINES": "40"},
        close_fds=True,
    )
    os.close(secondary)
    raw = b""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        ready, _, _ = select.select([primary], [], [], 1)
        if ready:
            try:
                chunk = os.read(primary, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            raw += chunk
        elif proc.poll() is not None:
            break
    os.close(primary)
    return proc.wait(30), raw.decode(errors="replace")


def test_watch_redraws_one_table_in_place_until_the_task_is_final(cluster: Cluster, namespace: str, env) -> None:
    create(cluster, namespace, "tasktemplates", template("sleep", handler="sleep"))
    assert _sh(f"{KUBETASK} submit sleep --name slow -p seconds=6", env).returncode == 0
    code, text = _in_a_terminal([KUBETASK, "watch", "slow", "--interval", "0.3"], env)
    assert code == 0, text
    assert "Running" in text and text.index("Running") < text.rindex("Succeeded"), text
    assert text.count("NAME") >= 3, text  # the table was drawn again and again...
    assert "\x1b[1A" in text and "\x1b[2K" in text  # ...by moving up and erasing, not scrolling
    screen = Screen()
    screen.feed(text)
    shown = [line.split() for line in screen.lines if line.strip()]
    assert shown[0] == ["NAME", "TEMPLATE", "PHASE", "ATTEMPTS", "DURATION", "AGE"], screen.lines
    assert shown[1][:3] == ["slow", "sleep", "Succeeded"] and len(shown) == 2, screen.lines


def _complete(words: str, env: dict[str, str]) -> list[str]:
    """What bash completion offers for the last word of `words` (click's protocol, as the script runs it)."""
    cword = len(words.split()) - (0 if words.endswith(" ") else 1)
    r = subprocess.run(
        [KUBETASK],
        env=env | {"_KUBETASK_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(cword)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout.split()  # typer's bash protocol: one name per line


def test_shell_completion_offers_task_and_template_names(cluster: Cluster, namespace: str, env) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    create(cluster, namespace, "tasktemplates", template("echo-2", handler="echo"))
    for name in ("alpha", "alpine", "beta"):
        assert _sh(f"{KUBETASK} submit echo --name {name} -p message=x --wait", env).returncode == 0
    assert _complete("kubetask submit ec", env) == ["echo", "echo-2"]

    def offered() -> list[str] | None:  # task names come from the history the operator mirrors
        names = _complete("kubetask get al", env)
        return names if len(names) == 2 else None

    assert sorted(wait_for("alpha and alpine offered", offered)) == ["alpha", "alpine"]
    for command in ("history", "cancel", "resubmit", "delete", "watch"):
        assert "beta" in _complete(f"kubetask {command} b", env), command
    down = env | {"KUBETASK_API_URL": "http://127.0.0.1:9"}
    assert _complete("kubetask get a", down) == []  # nothing offered, and nothing printed into the prompt


def test_tables_are_coloured_on_a_terminal_unless_no_color(cluster: Cluster, namespace: str, env) -> None:
    create(cluster, namespace, "tasktemplates", template("echo", handler="echo"))
    assert _sh(f"{KUBETASK} submit echo --name c1 -p message=x --wait", env).returncode == 0
    code, coloured = _in_a_terminal([KUBETASK, "get", "c1"], env)
    assert code == 0 and "\x1b[32mSucceeded" in coloured, repr(coloured)  # green, on a terminal
    code, plain = _in_a_terminal([KUBETASK, "get", "c1"], env | {"NO_COLOR": "1"})
    assert code == 0 and "Succeeded" in plain and "\x1b[3" not in plain, repr(plain)
    piped = _sh(f"{KUBETASK} get c1 | cat", env)
    assert "Succeeded" in piped.stdout and "\x1b[" not in piped.stdout
