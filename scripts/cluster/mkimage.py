#!/usr/bin/env python3
"""Wrap layer tarballs into a docker-archive (`docker save` format) image tarball.

usage: mkimage.py OUT.tar REPO:TAG [--layer L.tar ...] [--base BASE.tar] [--env K=V ...] [-- CMD ...]

No registry is reachable here, so base images are made from a root filesystem tar (mmdebstrap) and
imported into containerd with `ctr images import`. With --base the layers of an existing archive come
first, which lets us add the kubetask package as one layer on top of the Python base without a
Docker engine.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import sys
import tarfile
from pathlib import Path

EPOCH = "2024-01-01T00:00:00Z"


def _base_layers(base: Path) -> tuple[list[bytes], dict[str, object]]:
    with tarfile.open(base) as t:
        manifest = json.load(t.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
        config = json.load(t.extractfile(manifest["Config"]))  # type: ignore[arg-type]
        layers = [t.extractfile(name).read() for name in manifest["Layers"]]  # type: ignore[union-attr]
    return layers, config


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("ref")
    p.add_argument("--layer", action="append", default=[])
    p.add_argument("--base")
    p.add_argument("--env", action="append", default=[])
    p.add_argument("--workdir", default="/")
    argv = sys.argv[1:]
    cmd = argv[argv.index("--") + 1 :] if "--" in argv else []
    a = p.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    layers: list[bytes] = []
    env = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    if a.base:
        layers, base_cfg = _base_layers(Path(a.base))
        env = list(base_cfg.get("config", {}).get("Env") or env)  # type: ignore[union-attr]
    layers += [Path(x).read_bytes() for x in a.layer]
    env += a.env
    diff_ids = ["sha256:" + hashlib.sha256(b).hexdigest() for b in layers]
    cfg = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": env, "Cmd": cmd or ["/bin/sh"], "WorkingDir": a.workdir},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "created": EPOCH,
        "history": [{"created": EPOCH, "created_by": "mkimage.py"} for _ in layers],
    }
    cfgb = json.dumps(cfg).encode()
    cfgname = hashlib.sha256(cfgb).hexdigest() + ".json"
    names = [f"layer{i}/layer.tar" for i in range(len(layers))]
    manifest = [{"Config": cfgname, "RepoTags": [a.ref], "Layers": names}]
    with tarfile.open(a.out, "w") as t:

        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))

        add(cfgname, cfgb)
        for name, data in zip(names, layers, strict=True):
            add(name, data)
        add("manifest.json", json.dumps(manifest).encode())
    print(a.ref, diff_ids[-1])


if __name__ == "__main__":
    main()
