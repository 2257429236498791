"""Write kubetask's dist-info next to the copied package, so importlib.metadata (and pip) see it installed.

Run in the image build: `python3 dist_info.py PYPROJECT SITE_DIR`. The executor image holds only
the package's sources (its runtime needs the standard library alone), so the metadata says so: no
Requires-Dist, and the one console script the image has. A handler package installed into an
image FROM this one (`pip install --no-index mypkg.whl`) then registers its `kubetask.handlers`
entry points where the runtime looks (importlib.metadata), and a `Requires-Dist: kubetask` of it
is satisfied.
"""

import sys
import tomllib
from pathlib import Path


def main(pyproject: str, site: str) -> None:
    project = tomllib.loads(Path(pyproject).read_text())["project"]
    name, version = project["name"], project["version"]
    info = Path(site) / f"{name}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
        f"Summary: {project['description']} (the executor runtime: sources only, no dependencies)\n"
    )
    script = project["scripts"]["kubetask-executor"]
    (info / "entry_points.txt").write_text(f"[console_scripts]\nkubetask-executor = {script}\n")
    (info / "top_level.txt").write_text("kubetask\n")
    (info / "INSTALLER").write_text("kubetask images/executor/dist_info.py\n")


if __name__ == "__main__":
    main(*sys.argv[1:])
