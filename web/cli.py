"""The `junkan` command: database, demo data, server, scheduler and jobs."""

import os
import sys

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
        from market.categories import seed_categories
        from quality.catalogue import seed_catalogue
        from web.db import get_db

        added = seed_catalogue(get_db())
        get_db().commit()
        click.echo(f"quality catalogue: {added} rows added")
        added = seed_categories(get_db())
        get_db().commit()
        click.echo(f"procurement categories: {added} rows added")


@main.group()
def demo() -> None:
    """Demo data."""


@demo.command("load")
@with_appcontext
def demo_load() -> None:
    """Load the demo story (idempotent: does nothing when it is already there). The past
    invoices are paid by card through a local Stripe started for the load (never a configured
    Stripe account), stopped afterwards."""
    from demo.organizations import load_demo
    from market.categories import seed_categories
    from web.config import transport_rates
    from web.db import get_db
    from web.localstripe import LocalStripe
    from web.stripe_gateway import local_gateway

    _mute_solver_banner()
    seed_categories(get_db())  # reference data the demo's procurement stands on
    get_db().commit()
    local_stripe = LocalStripe.start()
    try:
        created = load_demo(
            get_db(),
            echo=click.echo,
            rates=transport_rates(current_app.config),
            gateway=local_gateway(local_stripe),
        )
    finally:
        local_stripe.stop()
    click.echo("demo data loaded" if created else "demo data already present")


def _mute_solver_banner() -> None:
    """HiGHS prints a licence banner on stdout at the first solver of a process; the demo load
    prints progress only, so that first solver is made here with stdout muted."""
    import highspy

    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@main.command("match")
@click.option("--month", default=None, help="YYYY-MM (default: this month in Asia/Tokyo).")
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds for the exact model with minimums (default 60).",
)
@with_appcontext
def match(month: str | None, time_limit: float | None) -> None:
    """Run the market-wide matching for a month and print the run's figures."""
    from pydantic import ValidationError

    from market.matching import BATCH_MATCHING_TIME_LIMIT_S, MatchRunIn, run_market_allocation
    from participants.actors import SYSTEM
    from web.config import transport_rates
    from web.db import get_db

    try:
        data = MatchRunIn.model_validate({"month": month} if month else {})
    except ValidationError as err:
        raise click.BadParameter(err.errors()[0]["msg"], param_hint="--month") from None
    db = get_db()
    run = run_market_allocation(
        db,
        SYSTEM,
        data.month,
        rates=transport_rates(current_app.config),
        progress=lambda message: click.echo(message, err=True),
        time_limit_s=BATCH_MATCHING_TIME_LIMIT_S if time_limit is None else time_limit,
    )
    db.commit()
    gap = (run.lp_bound_jpy - run.surplus_jpy) / run.lp_bound_jpy if run.lp_bound_jpy else 0.0
    click.echo(f"run {run.id} for {run.month:%Y-%m}")
    click.echo(f"listings {run.n_listings}, requests {run.n_requests}, edges {run.n_edges}")
    click.echo(f"proposals {run.n_proposals}")
    click.echo(
        f"surplus {run.surplus_jpy:,} JPY/month (LP bound {run.lp_bound_jpy:,}, gap {gap:.4%})"
    )
    if run.mip_gap is not None:
        verdict = "optimal within 0.01 %" if run.optimal else "not proven optimal"
        click.echo(f"proven gap {run.mip_gap:.4%} ({verdict}; {run.solver_method})")
    click.echo(f"solver {run.solver_ms} ms")


@main.group("contracts")
def contracts_group() -> None:
    """Offtake contracts."""


@contracts_group.command("verify")
@click.option("--contract", "contract_id", type=int, default=None, help="Only this contract.")
@with_appcontext
def contracts_verify(contract_id: int | None) -> None:
    """Check every contract's audit trail (or one's): each event must carry the SHA-256 of the
    one before. Prints one line a contract; exits 1 when a chain is broken."""
    from contracts.negotiation import verify_contracts
    from participants.actors import SYSTEM
    from participants.errors import NotFound
    from web.db import get_db

    try:
        reports = verify_contracts(get_db(), SYSTEM, contract_id)
    except NotFound:
        raise click.BadParameter("no such contract", param_hint="--contract") from None
    broken = 0
    for r in reports:
        if r.intact:
            click.echo(f"contract {r.contract_id}: intact ({r.events} events)")
        else:
            broken += 1
            click.echo(f"contract {r.contract_id}: BROKEN at event {r.broken_at}: {r.reason}")
    click.echo(f"{len(reports)} contracts checked, {broken} broken")
    if broken:
        raise SystemExit(1)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes (default: WEB_CONCURRENCY, else the CPU count).",
)
@click.option(
    "--threads", default=4, show_default=True, type=click.IntRange(min=1), help="Per worker."
)
@with_appcontext
def serve(host: str, port: int, workers: int | None, threads: int) -> None:
    """Serve with gunicorn: a master and several worker processes (waitress in one process
    where gunicorn cannot run, as on Windows). With SCHEDULER_IN_PROCESS=1 the server also
    runs the one scheduler, as a child process (the single-machine demo)."""
    from web import serving

    app = current_app._get_current_object()
    try:  # the port first: a taken one stops here, before anything else starts
        sock = serving.bind_socket(host, port)
    except serving.PortTaken:
        raise click.ClickException(
            f"port {port} is taken by another program: stop it, or choose another port"
            f" (junkan serve --port {port + 1}; scripts/demo.sh reads PORT={port + 1})"
        ) from None
    multiprocess = serving.gunicorn_available()
    local_stripe = None
    if not app.config.get("STRIPE_SECRET_KEY"):
        # The demo: no Stripe account, so a local Stripe takes the payments (test cards) and
        # sends its signed webhooks to this server.
        from web.stripe_gateway import start_local_stripe

        local_stripe = start_local_stripe(app, f"http://{_reachable(host)}:{port}")
        click.echo(
            f"stripe: no STRIPE_SECRET_KEY, local Stripe (localstripe) on {local_stripe.url}"
        )
    scheduler_process = started = None
    if app.config.get("SCHEDULER_IN_PROCESS"):
        if multiprocess:
            try:
                scheduler_process = serving.SchedulerProcess.start()
            except serving.SchedulerFailed as err:
                if local_stripe:
                    local_stripe.stop()
                raise click.ClickException(str(err)) from None
            ok = scheduler_process is not None
            where = f"its own process (pid {scheduler_process.pid})" if ok else ""
        else:
            from web.scheduler import start_in_process

            started = start_in_process(app)
            ok, where = started is not None, "this process"
        click.echo(
            f"scheduler: running in {where}"
            if ok
            else "scheduler: another scheduler holds this database; not started here"
        )
    address = f"http://{_reachable(host)}:{port}/"
    click.echo(f"\nJunkan is running. Open {address} in your browser (Ctrl-C stops it).\n")
    try:
        if multiprocess:
            count = workers or serving.default_workers()
            serving.run_gunicorn(app, sock, serving.ServerOptions(workers=count, threads=threads))
        else:
            serving.run_waitress(
                app, sock, threads=threads * (workers or serving.default_workers())
            )
    finally:
        if local_stripe:
            local_stripe.stop()
        if scheduler_process:
            scheduler_process.stop()
        if started:
            scheduler, lock = started
            scheduler.shutdown(wait=False)
            lock.release()


def _reachable(host: str) -> str:
    """The address a local process reaches a server bound to `host` at."""
    return "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104


@main.command("scheduler")
@click.option("--list", "list_only", is_flag=True, help="Print the timetable and exit.")
@click.option("--quiet", is_flag=True, hidden=True, help="No timetable (`junkan serve`'s child).")
@click.option("--parent-pid", type=int, default=None, hidden=True, help="Stop when it is gone.")
@click.option("--ready-fd", type=int, default=None, hidden=True, help="Write 'ready' there.")
@with_appcontext
def scheduler(list_only: bool, quiet: bool, parent_pid: int | None, ready_fd: int | None) -> None:
    """Run the scheduler: the one process that runs the jobs on their timetable."""
    import _thread

    from apscheduler.events import EVENT_SCHEDULER_STARTED

    from contracts.jobs import JOBS
    from web.scheduler import (
        SCHEDULE,
        SchedulerLock,
        build_scheduler,
        forget_retired_jobs,
        schedule_text,
    )

    if not quiet:
        for name in SCHEDULE:
            click.echo(f"{name:<26} {schedule_text(name):<26} {JOBS[name].summary}")
    if list_only:
        return
    app = current_app._get_current_object()
    lock = SchedulerLock(app.extensions["junkan.engine"])
    if not lock.acquire():
        if ready_fd is not None:
            os.write(ready_fd, b"locked\n")
        raise click.ClickException("Another scheduler is running on this database.")
    runner = build_scheduler(app)
    runner.add_listener(lambda _event: forget_retired_jobs(runner), EVENT_SCHEDULER_STARTED)
    if parent_pid is not None:
        from web.serving import watch_parent

        watch_parent(parent_pid, _thread.interrupt_main)
    if not quiet:
        click.echo("scheduler running (Ctrl-C stops it)")
    if ready_fd is not None:
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)
    try:
        runner.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        lock.release()


@main.group()
def jobs() -> None:
    """Scheduled jobs: list them, or run one now."""


@jobs.command("list")
def jobs_list() -> None:
    """The jobs, when the scheduler runs them, and what they do."""
    from contracts.jobs import JOBS
    from web.scheduler import schedule_text

    for name, job in JOBS.items():
        click.echo(f"{name:<26} {schedule_text(name):<26} {job.summary}")


def _job_names() -> list[str]:
    from contracts.jobs import JOBS

    return list(JOBS)


@jobs.command("run")
@click.argument("name", type=click.Choice(_job_names()))
@click.option("--month", default=None, help="YYYY-MM: the month to open, close or invoice.")
@click.option("--today", default=None, help="YYYY-MM-DD: run as on this day (Asia/Tokyo).")
@with_appcontext
def jobs_run(name: str, month: str | None, today: str | None) -> None:
    """Run one job once, now, and print what it did (progress on stderr)."""
    from datetime import date

    from pydantic import TypeAdapter, ValidationError

    from participants.errors import DomainError
    from participants.fields import Month
    from web.scheduler import run_job

    try:
        the_month = TypeAdapter(Month).validate_python(month) if month else None
    except ValidationError:
        raise click.BadParameter("Enter a month as YYYY-MM.", param_hint="--month") from None
    try:
        the_day = date.fromisoformat(today) if today else None
    except ValueError:
        raise click.BadParameter("Enter a date as YYYY-MM-DD.", param_hint="--today") from None
    try:
        report = run_job(
            current_app._get_current_object(),
            name,
            month=the_month,
            today=the_day,
            progress=lambda message: click.echo(message, err=True),
        )
    except DomainError as err:
        raise click.ClickException(str(err)) from None
    for key, value in report.counts.items():
        click.echo(f"{key}: {value}")


if __name__ == "__main__":
    main()
