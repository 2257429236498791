"""Contexts: where the CLI finds the API (URL, bearer token, namespace), as kubectl's kubeconfig does.

The file is `$KUBETASK_CONFIG`, else `$XDG_CONFIG_HOME/kubetask/config.yaml` (`~/.config/...`):

    current-context: prod
    contexts:
      prod: {api-url: https://kubetask.example.com, token: s3cr3t, namespace: team-a}

Each setting is resolved on its own, first hit wins: the flag (`--api-url`, `--token`,
`-n/--namespace`), the environment (`KUBETASK_API_URL`, `KUBETASK_TOKEN`, `KUBETASK_NAMESPACE`),
the context (`--context`, else `current-context`), the default (`DEFAULT_API_URL`, `default`).
The token has one more source after the context: the current kubeconfig's user's token
(kubetask.cli._kubeconfig), the one kubectl sends, which the API checks with TokenReview too.
A missing file is an empty config; a malformed one is a usage error naming the file and the field.
Everything here but `load`/`save` is pure: the environment is passed in.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from ._errors import UsageProblem
from ._kubeconfig import UserToken

DEFAULT_API_URL = "http://127.0.0.1:8080"
DEFAULT_NAMESPACE = "default"
_KEYS = {"api-url": "api_url", "token": "token", "namespace": "namespace"}


@dataclass(frozen=True)
class Context:
    api_url: str | None = None
    token: str | None = None
    namespace: str | None = None

    def as_yaml(self) -> dict[str, str]:
        return {key: getattr(self, attr) for key, attr in _KEYS.items() if getattr(self, attr) is not None}


@dataclass(frozen=True)
class Config:
    current: str | None = None
    contexts: dict[str, Context] = field(default_factory=dict)

    def with_context(self, name: str, **changes: str | None) -> Config:
        """This config with context `name` created or updated (None leaves a setting as it was)."""
        old = self.contexts.get(name, Context())
        new = replace(old, **{k: v for k, v in changes.items() if v is not None})
        return replace(self, contexts={**self.contexts, name: new})

    def as_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"current-context": self.current} if self.current else {}
        out["contexts"] = {name: ctx.as_yaml() for name, ctx in sorted(self.contexts.items())}
        return out


@dataclass(frozen=True)
class Target:
    """Where and as whom to call the API, after resolution; `token_source` says where the token came
    from, for messages (the token itself is never shown)."""

    api_url: str
    token: str | None = field(repr=False)
    namespace: str
    context: str | None
    token_source: str | None = field(default=None, compare=False)


def config_path(env: Mapping[str, str]) -> Path:
    """The config file's path: KUBETASK_CONFIG, else under XDG_CONFIG_HOME (default ~/.config)."""
    if env.get("KUBETASK_CONFIG"):
        return Path(env["KUBETASK_CONFIG"])
    base = Path(env["XDG_CONFIG_HOME"]) if env.get("XDG_CONFIG_HOME") else Path.home() / ".config"
    return base / "kubetask" / "config.yaml"


def parse(doc: Any, source: str) -> Config:
    """A Config from the file's YAML document, or a UsageProblem naming `source` and the bad field."""
    if doc is None:
        return Config()
    if not isinstance(doc, dict):
        raise UsageProblem(f"{source}: expected a mapping with `contexts`, got {type(doc).__name__}")
    contexts: dict[str, Context] = {}
    raw = doc.get("contexts") or {}
    if not isinstance(raw, dict):
        raise UsageProblem(f"{source}: /contexts must be a mapping of context name to settings")
    for name, settings in raw.items():
        if not isinstance(settings, dict):
            raise UsageProblem(f"{source}: /contexts/{name} must be a mapping (api-url, token, namespace)")
        unknown = sorted(set(settings) - set(_KEYS))
        if unknown:
            raise UsageProblem(f"{source}: /contexts/{name}/{unknown[0]} is not a setting; use {', '.join(_KEYS)}")
        contexts[str(name)] = Context(**{_KEYS[k]: str(v) for k, v in settings.items() if v is not None})
    current = doc.get("current-context")
    return Config(current=str(current) if current else None, contexts=contexts)


def load(path: Path) -> Config:
    """The config at `path`; an empty one when the file does not exist."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return Config()
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UsageProblem(f"{path}: not valid YAML: {e}") from e
    return parse(doc, str(path))


def save(path: Path, config: Config) -> None:
    """Write `config` to `path`, readable by its owner only (it holds tokens)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(config.as_yaml(), f, sort_keys=False)
    tmp.replace(path)


def resolve(
    config: Config,
    env: Mapping[str, str],
    *,
    api_url: str | None = None,
    token: str | None = None,
    namespace: str | None = None,
    context: str | None = None,
    kubeconfig: Callable[[], UserToken | None] = lambda: None,
) -> Target:
    """Flag > environment > context > default, setting by setting (see the module docstring); the
    token falls back to `kubeconfig()`, called only when no other source has one."""
    name = context or config.current
    if name is not None and name not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none yet"
        flag = "--context" if context else "current-context"
        raise UsageProblem(
            f"{flag}: no context {name!r} (known: {known}); create it with `kubetask config set-context {name}`"
        )
    ctx = config.contexts[name] if name is not None else Context()
    token_source: str | None = None
    if token:
        token_source = "--token"
    elif env.get("KUBETASK_TOKEN"):
        token, token_source = env["KUBETASK_TOKEN"], "KUBETASK_TOKEN"
    elif ctx.token:
        token, token_source = ctx.token, f'the context "{name}"'
    elif (kube := kubeconfig()) is not None:
        token, token_source = kube.token, kube.source
    return Target(
        api_url=(api_url or env.get("KUBETASK_API_URL") or ctx.api_url or DEFAULT_API_URL).rstrip("/"),
        token=token,
        namespace=namespace or env.get("KUBETASK_NAMESPACE") or ctx.namespace or DEFAULT_NAMESPACE,
        context=name,
        token_source=token_source,
    )
