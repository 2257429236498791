"""Contexts: each setting comes from the flag, else the environment, else the context, else the default."""

from __future__ import annotations

from pathlib import Path

import pytest

from kubetask.cli._config import Config, Context, config_path, load, parse, resolve, save
from kubetask.cli._errors import UsageProblem

CONFIG = Config(
    current="prod",
    contexts={
        "prod": Context(api_url="https://prod.example/", token="p-token", namespace="team-a"),
        "dev": Context(api_url="http://127.0.0.1:9000"),
    },
)


def test_defaults_without_config_environment_or_flags() -> None:
    t = resolve(Config(), {})
    assert (t.api_url, t.token, t.namespace, t.context) == ("http://127.0.0.1:8080", None, "default", None)


def test_the_current_context_gives_every_setting_it_has() -> None:
    t = resolve(CONFIG, {})
    assert (t.api_url, t.token, t.namespace, t.context) == ("https://prod.example", "p-token", "team-a", "prod")


def test_the_environment_overrides_the_context_setting_by_setting() -> None:
    t = resolve(CONFIG, {"KUBETASK_TOKEN": "env-token", "KUBETASK_NAMESPACE": "env-ns"})
    assert (t.api_url, t.token, t.namespace) == ("https://prod.example", "env-token", "env-ns")


def test_flags_override_the_environment_and_the_context() -> None:
    env = {"KUBETASK_API_URL": "http://env", "KUBETASK_TOKEN": "env-token", "KUBETASK_NAMESPACE": "env-ns"}
    t = resolve(CONFIG, env, api_url="http://flag", token="flag-token", namespace="flag-ns")
    assert (t.api_url, t.token, t.namespace) == ("http://flag", "flag-token", "flag-ns")


def test_context_flag_picks_another_context_and_its_unset_settings_fall_to_defaults() -> None:
    t = resolve(CONFIG, {}, context="dev")
    assert (t.api_url, t.token, t.namespace, t.context) == ("http://127.0.0.1:9000", None, "default", "dev")


def test_an_unknown_context_is_a_usage_error_naming_it_and_the_known_ones() -> None:
    with pytest.raises(UsageProblem, match=r"--context: no context 'stage' \(known: dev, prod\)"):
        resolve(CONFIG, {}, context="stage")


def test_the_file_lives_under_xdg_config_home_unless_kubetask_config_says_otherwise(tmp_path: Path) -> None:
    assert config_path({"XDG_CONFIG_HOME": str(tmp_path)}) == tmp_path / "kubetask" / "config.yaml"
    assert config_path({"KUBETASK_CONFIG": "/x/c.yaml", "XDG_CONFIG_HOME": "/y"}) == Path("/x/c.yaml")
    assert config_path({"HOME": "/h"}).parts[-3:] == (".config", "kubetask", "config.yaml")


def test_saved_config_loads_back_equal_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "d" / "config.yaml"
    save(path, CONFIG)
    assert load(path) == CONFIG
    assert path.stat().st_mode & 0o777 == 0o600
    assert load(tmp_path / "missing.yaml") == Config()


@pytest.mark.parametrize(
    ("doc", "named"),
    [
        pytest.param([1], "expected a mapping", id="not a mapping"),
        pytest.param({"contexts": [1]}, "/contexts must be a mapping", id="contexts a list"),
        pytest.param({"contexts": {"a": "x"}}, "/contexts/a must be a mapping", id="context a string"),
        pytest.param({"contexts": {"a": {"url": "x"}}}, "/contexts/a/url is not a setting", id="unknown key"),
    ],
)
def test_a_malformed_file_is_refused_naming_the_file_and_field(doc: object, named: str) -> None:
    with pytest.raises(UsageProblem, match=f"^c.yaml: {named}"):
        parse(doc, "c.yaml")
