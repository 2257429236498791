"""Cheap hygiene checks: YAML/TOML parse, no debugger calls, no private keys, test files named test_*."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DEBUG = re.compile(r"^\s*(import pdb|breakpoint\(\)|pdb\.set_trace\(\))", re.M)
KEY = re.compile(r"-----BEGIN (RSA |EC |OPENSSH )?PRIVATE KEY-----")


def main() -> int:
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    problems = []
    for name in files:
        path = ROOT / name
        if not path.is_file() or path.is_symlink():
            continue
        text = path.read_text(errors="replace")
        try:
            if name.endswith((".yaml", ".yml")) and "/templates/" not in name:
                list(yaml.safe_load_all(text))
            elif name.endswith(".toml"):
                tomllib.loads(text)
        except Exception as e:  # a parse error of any kind is the finding
            problems.append(f"{name}: does not parse: {e}")
        if name.endswith(".py") and DEBUG.search(text):
            problems.append(f"{name}: debugger call left in")
        if KEY.search(text) and name != "scripts/hygiene.py":
            problems.append(f"{name}: contains a private key")
        parts = Path(name).parts
        is_test_module = parts[0] == "tests" and parts[1] in ("unit", "integration", "e2e") and name.endswith(".py")
        if is_test_module and not Path(name).name.startswith(
            ("test_", "__init__", "conftest", "builders", "strategies")
        ):
            problems.append(f"{name}: test modules are named test_*.py")
    for p in problems:
        print(p, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
