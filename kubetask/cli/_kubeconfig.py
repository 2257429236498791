"""The bearer token of the current kubeconfig's user: the CLI's last source of a token.

The API checks tokens with the apiserver's TokenReview, so the token `kubectl` already uses is the
one to send. The files are found as kubectl finds them: `$KUBECONFIG`, a list separated by `:` (empty
entries and missing files skipped), else `~/.kube/config`; merged as kubectl merges them, the first
file that sets a value wins (`current-context`, and each context and user by name). The current
context names a user; its `token`, else its `tokenFile` (read, stripped; relative to the file that
defined the user), is the token. A user with client certificates, an exec plugin or an auth provider
has no token here: the CLI then sends none and a 401 says how to give one.
Not followed: `kubectl --context`/`--user` (the CLI's `--context` is its own config's) and exec
plugins. Rejected: the kubernetes client's loader (it would run exec plugins and refresh OIDC
tokens on every CLI call, and fails outright on files kubectl reads).
`user_token` is pure; `load` reads the files.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ._errors import UsageProblem


@dataclass(frozen=True)
class KubeconfigFile:
    path: Path
    doc: Mapping[str, Any]


@dataclass(frozen=True)
class UserToken:
    """A token from a kubeconfig, and where it came from (for messages; the token itself is never shown)."""

    token: str = field(repr=False)
    source: str


def paths(env: Mapping[str, str]) -> list[Path]:
    """The kubeconfig files, in kubectl's order: $KUBECONFIG's entries, else ~/.kube/config."""
    if env.get("KUBECONFIG"):
        return [Path(p) for p in env["KUBECONFIG"].split(os.pathsep) if p]
    home = Path(env["HOME"]) if env.get("HOME") else Path.home()
    return [home / ".kube" / "config"]


def load(files: Sequence[Path]) -> list[KubeconfigFile]:
    """The files that exist, parsed; a file that is not a YAML mapping is a UsageProblem naming it."""
    out = []
    for path in files:
        try:
            text = path.read_text()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            continue
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise UsageProblem(f"kubeconfig {path}: not valid YAML: {e}") from e
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise UsageProblem(f"kubeconfig {path}: expected a mapping, got {type(doc).__name__}")
        out.append(KubeconfigFile(path, doc))
    return out


def _named(files: Sequence[KubeconfigFile], section: str, key: str, name: str) -> tuple[Path, dict[str, Any]] | None:
    """The first `section` entry called `name` (kubectl: the first file to set a map key wins)."""
    for f in files:
        entries = f.doc.get(section)
        for entry in entries if isinstance(entries, list) else []:
            if isinstance(entry, dict) and entry.get("name") == name and isinstance(entry.get(key), dict):
                return f.path, entry[key]
    return None


def user_token(files: Sequence[KubeconfigFile], *, read: Callable[[Path], str] = Path.read_text) -> UserToken | None:
    """The current context's user's token (see the module docstring), or None when it has none.
    `read(path)` reads a tokenFile (a parameter so the rule stays pure)."""
    current = next((str(f.doc["current-context"]) for f in files if f.doc.get("current-context")), None)
    if current is None:
        return None
    context = _named(files, "contexts", "context", current)
    if context is None or not context[1].get("user"):
        return None
    user = str(context[1]["user"])
    found = _named(files, "users", "user", user)
    if found is None:
        return None
    path, settings = found
    source = f'the kubeconfig {path} (user "{user}")'
    if settings.get("token"):
        return UserToken(str(settings["token"]), source)
    if settings.get("tokenFile"):
        token_file = path.parent / str(settings["tokenFile"])  # an absolute tokenFile stays absolute
        try:
            token = read(token_file).strip()
        except OSError as e:
            raise UsageProblem(f"{source}: cannot read its tokenFile {token_file}: {e.strerror}") from e
        return UserToken(token, f"{source}, tokenFile {token_file}") if token else None
    return None


def current_user_token(env: Mapping[str, str]) -> UserToken | None:
    """The token of the current kubeconfig's user, read from the files `env` names."""
    return user_token(load(paths(env)))
