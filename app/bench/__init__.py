"""Benchmark tools: ``flask bench seed`` builds a large synthetic clinic chain.

The generator lives in ``app.bench.seed`` and is imported only when the command
runs, so the CLI group costs nothing at start-up.
"""

from __future__ import annotations

import click
from flask.cli import with_appcontext


@click.group("bench")
def bench_group() -> None:
    """Seed a synthetic clinic chain for benchmarks."""


@bench_group.command("seed")
@click.option(
    "--visits", type=click.IntRange(min=1), required=True, help="Signed visits to create."
)
@click.option(
    "--clinics",
    type=click.IntRange(min=1),
    default=None,
    help="Default: 1 per 250k visits (min 2).",
)
@click.option(
    "--locations", type=click.IntRange(min=1), default=3, show_default=True, help="Per clinic."
)
@click.option(
    "--therapists",
    type=click.IntRange(min=1),
    default=None,
    help="Default: 1 per 5,000 visits (min 4).",
)
@click.option(
    "--patients",
    type=click.IntRange(min=1),
    default=None,
    help="Default: 1 per 20 visits (min 20).",
)
@click.option("--batch", type=click.IntRange(min=100), default=5000, show_default=True)
@click.option("--seed", "random_seed", type=int, default=7, show_default=True)
@click.option("--quiet", is_flag=True, help="No progress bar.")
@with_appcontext
def seed_command(**options: object) -> None:
    """Create (or upgrade) the schema, then bulk-load a synthetic chain into an empty database."""
    from flask_migrate import upgrade

    from app.bench.seed import SeedRefused, seed

    upgrade()
    try:
        report = seed(**options)  # type: ignore[arg-type]
    except SeedRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(report.summary())
