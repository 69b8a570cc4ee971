"""The scheduler: APScheduler 3.x running the jobs of `contracts.jobs` on a timetable.

- ``junkan scheduler`` runs it in its own process (a `BlockingScheduler`): one process for the
  whole marketplace, whatever the number of web workers. A second one on the same database
  refuses to start (a PostgreSQL advisory lock, or a lock file beside a SQLite database):
  APScheduler's job store must not be shared by two schedulers.
- ``junkan serve`` with ``SCHEDULER_IN_PROCESS=1`` runs it for the single-machine demo: as
  ``junkan scheduler``, one child process of the gunicorn master (never in a worker), or in a
  thread where the server is waitress (never the debug reloader, never the tests unless they
  ask).
- ``junkan jobs run NAME [--month YYYY-MM]`` runs one job once, now.
The job store is the ``apscheduler_jobs`` table of the application's own database (created by
migration 0008b); it only keeps the timetable. Exactly-once effects come from the jobs' own
unique keys. Each job runs in an app context with its own session and transaction (as
`participants.actors.SYSTEM`); after the commit, its notifications are e-mailed in each
member's language.
"""

import fcntl
import logging
import os
from collections.abc import Callable
from datetime import date
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.cron import CronTrigger
from flask import Flask
from sqlalchemy import text
from sqlalchemy.engine import Engine, make_url
from sqlmodel import Session

from contracts.jobs import JOBS, TOKYO, JobContext, JobReport
from participants.actors import SYSTEM
from participants.columns import tokyo_today
from participants.errors import N_
from web.alerting import send_notice_mails
from web.config import transport_rates
from web.db import ENGINE_KEY

log = logging.getLogger(__name__)

JOBSTORE_TABLE = "apscheduler_jobs"
# When each job runs, in Asia/Tokyo (cron fields). Months close just after midnight on the
# 1st, then the new month opens; invoices follow the closing; reminders in office hours.
SCHEDULE: dict[str, dict[str, Any]] = {
    "close_months": {"hour": 0, "minute": 5},
    "open_obligations": {"hour": 0, "minute": 10},
    "expire_listings": {"hour": 0, "minute": 20},
    "issue_invoices": {"hour": 1, "minute": 0},
    "nightly_matching": {"hour": 2, "minute": 0},
    "notify_contract_expiry": {"hour": 8, "minute": 0},
    "remind_consent_expiry": {"hour": 8, "minute": 10},
    "remind_late_deliveries": {"hour": 9, "minute": 0},
    "remind_overdue_invoices": {"hour": 9, "minute": 5},
    # Bids open soon after the deadline (readers open a closed tender at once anyway).
    "open_due_tenders": {"minute": "*/5"},
}
MAIL_SUBJECT = N_("Junkan: a reminder about your contracts")
MAIL_REASON = N_("You receive this e-mail because your organisation is a party to the contract.")
ADVISORY_LOCK_KEY = 0x4A554E4B414E  # "JUNKAN": the one scheduler of a PostgreSQL database

_app: Flask | None = None  # the application of this scheduler process


class UnknownJob(LookupError):
    pass


def schedule_text(name: str) -> str:
    fields = SCHEDULE[name]
    if "hour" not in fields and str(fields["minute"]).startswith("*/"):
        return f"every {str(fields['minute'])[2:]} minutes"
    return f"daily {fields['hour']:02d}:{fields['minute']:02d} Asia/Tokyo"


def run_job(
    app: Flask,
    name: str,
    month: date | None = None,
    today: date | None = None,
    progress: Callable[[str], None] | None = None,
) -> JobReport:
    """Run one job now in its own session: commit, then e-mail its notifications. An error
    rolls the whole run back (nothing of it stays) and is raised."""
    job = JOBS.get(name)
    if job is None:
        raise UnknownJob(name)
    with app.app_context():
        engine = app.extensions[ENGINE_KEY]
        with Session(engine, expire_on_commit=False) as session:
            ctx = JobContext(
                today=today or tokyo_today(),
                month=month,
                rates=transport_rates(app.config),
                progress=progress,
            )
            try:
                report = job.run(session, SYSTEM, ctx)
                session.commit()
            except Exception:
                session.rollback()
                raise
            if report.notes:
                report.counts["mailed"] = send_notice_mails(
                    session, report.notes, MAIL_SUBJECT, MAIL_REASON
                )
    return report


def scheduled_job(name: str) -> None:
    """What the job store calls (by this textual reference): one job in this process's app."""
    from web import create_app

    global _app
    if _app is None:
        _app = create_app()
    try:
        report = run_job(_app, name, progress=lambda message: log.info("%s: %s", name, message))
    except Exception:
        log.exception("scheduled job %s failed", name)
        raise
    log.info("%s", report.summary())


def build_scheduler(app: Flask, background: bool = False) -> BaseScheduler:
    """A scheduler over the app's database with every job of SCHEDULE (not started)."""
    global _app
    _app = app
    engine: Engine = app.extensions[ENGINE_KEY]
    cls = BackgroundScheduler if background else BlockingScheduler
    scheduler = cls(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
        # One job at a time: a month closes before the next opens and is invoiced.
        executors={"default": ThreadPoolExecutor(max_workers=1)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 6 * 3600},
        timezone=TOKYO,
    )
    for name, fields in SCHEDULE.items():
        scheduler.add_job(
            "web.scheduler:scheduled_job",
            CronTrigger(timezone=TOKYO, **fields),
            args=[name],
            id=name,
            name=JOBS[name].summary,
            replace_existing=True,
        )
    return scheduler


def forget_retired_jobs(scheduler: BaseScheduler) -> None:
    """Jobs of an older timetable left in the job store are removed (call after start)."""
    for job in scheduler.get_jobs():
        if job.id not in SCHEDULE:
            job.remove()


class SchedulerLock:
    """Held by the one scheduler of a database: a PostgreSQL session advisory lock, or an
    exclusive lock on a file beside the SQLite database (an in-memory database: no lock)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._connection = None
        self._fd: int | None = None

    def acquire(self) -> bool:
        if self.engine.dialect.name == "postgresql":
            connection = self.engine.connect()
            held = connection.execute(
                text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}
            ).scalar()
            connection.commit()
            if not held:
                connection.close()
                return False
            self._connection = connection
            return True
        database = make_url(str(self.engine.url)).database
        if not database or database == ":memory:":
            return True
        fd = os.open(f"{database}.scheduler.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._connection is not None:
            self._connection.execute(
                text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_LOCK_KEY}
            )
            self._connection.commit()
            self._connection.close()
            self._connection = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


def start_in_process(app: Flask) -> tuple[BaseScheduler, SchedulerLock] | None:
    """The demo's scheduler in a thread of the web server (SCHEDULER_IN_PROCESS=1); None when
    another scheduler already holds the database."""
    lock = SchedulerLock(app.extensions[ENGINE_KEY])
    if not lock.acquire():
        log.warning("another scheduler holds this database: not starting one in the server")
        return None
    scheduler = build_scheduler(app, background=True)
    scheduler.start()
    forget_retired_jobs(scheduler)
    return scheduler, lock
