"""Every command that talks to the API takes the four connection options (`with_api`), after the
verb and anywhere among its own arguments, as kubectl does; the command is handed an `Api` for the
target they name, resolved at its first use."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer._click.core import Command  # typer >= 0.2x vendors click
from typer.core import TyperGroup

from kubetask.cli import app
from kubetask.cli._client import Api, NamespaceOpt, with_api
from kubetask.cli._config import Target
from kubetask.cli._errors import UsageProblem

CONNECTION = ("namespace", "api_url", "token", "context")
# each command's own required arguments, and whether `-n` is the namespace (end2end: its count)
COMMANDS: dict[tuple[str, ...], tuple[list[str], bool]] = {
    ("submit",): (["echo"], True),
    ("resubmit",): (["t1"], True),
    ("get",): (["t1"], True),
    ("list",): ([], True),
    ("history",): (["t1"], True),
    ("cancel",): (["t1"], True),
    ("delete",): (["t1"], True),
    ("watch",): ([], True),
    ("logs",): (["t1"], True),
    ("result",): (["t"], True),
    ("templates", "list"): ([], True),
    ("templates", "get"): (["echo"], True),
    ("templates", "apply"): (["-f", "x.yaml"], True),
    ("templates", "delete"): (["echo"], True),
    ("dlq", "list"): ([], True),
    ("dlq", "redrive"): (["d1"], True),
    ("dlq", "purge"): (["d1"], True),
    ("stats",): ([], True),
    ("schedules", "list"): ([], True),
    ("schedules", "get"): (["s"], True),
    ("schedules", "apply"): (["-f", "x.yaml"], True),
    ("schedules", "suspend"): (["s"], True),
    ("schedules", "resume"): (["s"], True),
    ("schedules", "runs"): (["s"], True),
    ("schedules", "delete"): (["s"], True),
    ("schedules", "trigger"): (["s"], True),
    ("schedules", "backfill"): (["s", "--from", "-1h"], True),
    ("schedules", "preview"): (["s"], True),
    ("end2end",): ([], False),
}


def _commands() -> dict[tuple[str, ...], Command]:
    """Every command of the CLI by its path, groups walked."""
    found: dict[tuple[str, ...], Command] = {}

    def walk(group: TyperGroup, path: tuple[str, ...]) -> None:
        for name, command in group.commands.items():
            if isinstance(command, TyperGroup):
                walk(command, (*path, name))
            else:
                found[(*path, name)] = command

    root = typer.main.get_command(app)
    assert isinstance(root, TyperGroup)
    walk(root, ())
    return found


def test_the_commands_with_connection_options_are_the_ones_that_talk_to_the_api() -> None:
    with_options = {path for path, c in _commands().items() if {p.name for p in c.params} >= set(CONNECTION)}
    assert with_options == set(COMMANDS)


@pytest.mark.parametrize("path", [pytest.param(p, id=" ".join(p)) for p in COMMANDS])
def test_connection_options_parse_before_between_and_after_the_arguments(path: tuple[str, ...]) -> None:
    command = _commands()[path]
    args, short_namespace = COMMANDS[path]
    ns = ["-n", "ns1"] if short_namespace else ["--namespace", "ns1"]
    options = [*ns, "--api-url", "http://127.0.0.1:9", "--token", "tok", "--context", "work"]
    for line in ([*args, *options], [*options, *args], [*options[:2], *args, *options[2:]]):
        params = command.make_context(" ".join(path), list(line)).params
        assert [params[k] for k in CONNECTION] == ["ns1", "http://127.0.0.1:9", "tok", "work"], line


def test_the_command_gets_an_api_for_the_flags_over_environment_and_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBETASK_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("KUBETASK_NAMESPACE", "env-ns")
    monkeypatch.setenv("KUBETASK_TOKEN", "env-token")
    monkeypatch.delenv("KUBETASK_API_URL", raising=False)
    seen: list[tuple[str, Target]] = []

    @with_api
    def probe(name: str, *, api: Api) -> None:
        seen.append((name, api.target))

    probe(name="x", namespace=None, api_url="http://flag", token=None, context=None)
    probe(name="y", namespace="flag-ns", api_url=None, token="flag-token", context=None)
    assert seen == [
        ("x", Target(api_url="http://flag", token="env-token", namespace="env-ns", context=None)),
        ("y", Target(api_url="http://127.0.0.1:8080", token="flag-token", namespace="flag-ns", context=None)),
    ]


def test_a_command_line_problem_is_reported_before_a_bad_context(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBETASK_CONFIG", str(tmp_path / "absent.yaml"))

    @with_api
    def checks_first(*, api: Api) -> None:
        raise UsageProblem(f"-o 'bogus': use one of table, ... (before any call on {api!r})")

    with pytest.raises(UsageProblem, match="-o 'bogus'"):
        checks_first(namespace=None, api_url=None, token=None, context="nope")

    @with_api
    def touches(*, api: Api) -> None:
        assert api.namespace

    with pytest.raises(UsageProblem, match="--context: no context 'nope'"):
        touches(namespace=None, api_url=None, token=None, context="nope")


def test_a_command_that_declares_an_option_keeps_its_definition_and_gets_the_value(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KUBETASK_CONFIG", str(tmp_path / "absent.yaml"))
    seen: list[tuple[str | None, str]] = []

    @with_api
    def apply(namespace: NamespaceOpt = None, *, api: Api) -> None:
        seen.append((namespace, api.namespace))

    apply(namespace="flag-ns", api_url=None, token=None, context=None)
    apply(namespace=None, api_url=None, token=None, context=None)
    assert seen == [("flag-ns", "flag-ns"), (None, "default")]
