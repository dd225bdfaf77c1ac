"""``flask protocols check`` and ``flask protocols list``."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from app.protocols import load_configured


@click.group("protocols", cls=AppGroup)
def protocols_group() -> None:
    """Check and list the protocol library."""


@protocols_group.command("check")
def protocols_check() -> None:
    """Validate every protocol file; list problems, exit 1 if any."""
    library = load_configured(current_app)
    for problem in library.problems:
        click.echo(str(problem))
    clinic = sum(p.source == "clinic" for p in library)
    files = len({problem.path for problem in library.problems})
    click.echo(
        f"{len(library)} protocols loaded ({len(library) - clinic} shipped, {clinic} clinic); "
        f"{len(library.problems)} problem(s) in {files} file(s)."
    )
    if library.problems:
        raise click.exceptions.Exit(1)


@protocols_group.command("list")
def protocols_list() -> None:
    """List protocols: id, category, source, content version, title."""
    for protocol in sorted(load_configured(current_app), key=lambda p: (p.category, p.id)):
        source = "clinic" if protocol.source == "clinic" else "shipped"
        click.echo(
            f"{protocol.id}\t{protocol.category}\t{source}\t{protocol.content_version}\t{protocol.title}"
        )
