"""`kubetask crds`: write (or check) the CustomResourceDefinitions generated from the API types."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kubetask import crdgen

app = typer.Typer()


@app.command()
def crds(
    output_dir: Annotated[Path, typer.Option("--output-dir", "-o", help="Where to write the CRD files.")] = Path(
        "crds"
    ),
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if the files on disk differ; write nothing.")] = False,
) -> None:
    """Generate the CustomResourceDefinitions from the API types."""
    stale = []
    for name, text in crdgen.render().items():
        path = output_dir / name
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        stale.append(str(path))
        if not check:
            output_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if check and stale:
        typer.echo(f"error: CRDs out of date: {', '.join(stale)}; run `kubetask crds`", err=True)
        raise typer.Exit(1)
    if not check:
        typer.echo(f"wrote {len(stale)} file(s) in {output_dir}" if stale else "CRDs up to date")
