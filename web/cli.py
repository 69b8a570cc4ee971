"""The `junkan` command: database, demo data, server (and later jobs)."""

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from web import create_app


@click.group(cls=FlaskGroup, create_app=create_app, add_version_option=False)
def main() -> None:
    """Junkan marketplace commands (DATABASE_URL selects the database)."""


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Apply migrations up to REVISION."""
    from web.migrate import upgrade

    upgrade(current_app.config["DATABASE_URL"], revision)
    click.echo(f"database at {revision}")
    if revision == "head":
        from quality.catalogue import seed_catalogue
        from web.db import get_db

        added = seed_catalogue(get_db())
        get_db().commit()
        click.echo(f"quality catalogue: {added} rows added")


@main.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@with_appcontext
def demo_load() -> None:
    """Load the demo story (idempotent: does nothing when it is already there)."""
    from web.config import transport_rates
    from web.db import get_db
    from web.demo import load_demo

    created = load_demo(get_db(), echo=click.echo, rates=transport_rates(current_app.config))
    click.echo("demo data loaded" if created else "demo data already present")


@main.command("match")
@click.option("--month", default=None, help="YYYY-MM (default: this month in Asia/Tokyo).")
@with_appcontext
def match(month: str | None) -> None:
    """Run the market-wide matching for a month and print the run's figures."""
    from market.errors import MarketError
    from market.matching import parse_month, run_market_allocation
    from web.config import transport_rates
    from web.db import get_db

    db = get_db()
    try:
        run = run_market_allocation(
            db,
            parse_month(month),
            rates=transport_rates(current_app.config),
            progress=lambda message: click.echo(message, err=True),
        )
    except MarketError as err:
        raise click.BadParameter(str(err), param_hint="--month") from None
    db.commit()
    gap = (run.lp_bound_jpy - run.surplus_jpy) / run.lp_bound_jpy if run.lp_bound_jpy else 0.0
    click.echo(f"run {run.id} for {run.month:%Y-%m}")
    click.echo(f"listings {run.n_listings}, requests {run.n_requests}, edges {run.n_edges}")
    click.echo(f"proposals {run.n_proposals}")
    click.echo(
        f"surplus {run.surplus_jpy:,} JPY/month (LP bound {run.lp_bound_jpy:,}, gap {gap:.4%})"
    )
    click.echo(f"solver {run.solver_ms} ms")


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
@with_appcontext
def serve(host: str, port: int, threads: int) -> None:
    """Serve with waitress (a production WSGI server)."""
    from waitress import serve as waitress_serve

    click.echo(f"Junkan on http://{host}:{port}/")
    waitress_serve(current_app._get_current_object(), host=host, port=port, threads=threads)
