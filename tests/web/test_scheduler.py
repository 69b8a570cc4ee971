"""The scheduler and the jobs commands: one scheduler process per database with its job store
in that database, `junkan jobs run NAME` running one job once and saying what it did, the
in-process scheduler only when `junkan serve` is asked for it, and a failed run leaving nothing."""

import email
from datetime import date
from types import SimpleNamespace

import pytest
from click.testing import CliRunner
from factories import make_member, make_org
from operations_factories import copper_version, make_active_contract
from sqlalchemy import text
from sqlmodel import select

import contracts.jobs
import web.scheduler
from contracts.models import DeliveryObligation
from contracts.obligations import open_month
from participants.actors import SYSTEM
from participants.columns import tokyo_today
from quality.catalogue import seed_catalogue
from web.cli import main
from web.scheduler import (
    JOBSTORE_TABLE,
    SCHEDULE,
    SchedulerLock,
    build_scheduler,
    run_job,
    scheduled_job,
)


@pytest.fixture()
def cli(app, database_url, tmp_path, monkeypatch):
    """The `junkan` command on the test database (mails into a folder of the test's own)."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LOG_JSON", "0")
    monkeypatch.setenv("MAIL_OUTBOX", str(tmp_path / "cli-outbox"))
    monkeypatch.delenv("SCHEDULER_IN_PROCESS", raising=False)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, list(args))

    return invoke


@pytest.fixture()
def contract(db):
    seed_catalogue(db)
    seller, buyer = make_org(db, kind="recycler"), make_org(db, kind="manufacturer")
    return make_active_contract(db, seller, buyer, copper_version(db))


def _obligations(db) -> list[DeliveryObligation]:
    db.expire_all()
    return list(db.exec(select(DeliveryObligation)))


def test_jobs_list_names_every_job_with_its_time(cli):
    result = cli("jobs", "list")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines] == list(contracts.jobs.JOBS)
    assert "open_obligations           daily 00:10 Asia/Tokyo" in result.output


def test_running_a_job_prints_what_it_did_and_a_second_run_does_nothing(cli, db, contract):
    first = cli("jobs", "run", "open_obligations", "--month", "2027-01")
    second = cli("jobs", "run", "open_obligations", "--month", "2027-01")
    assert first.exit_code == 0, first.output
    assert "opening 1 obligations …" in first.stderr
    assert first.stdout.splitlines() == ["month: 2027-01", "opened: 1", "events: 1"]
    assert second.stdout.splitlines() == ["month: 2027-01", "opened: 0", "events: 0"]
    assert [(o.contract_id, o.month) for o in _obligations(db)] == [(contract.id, date(2027, 1, 1))]


def test_a_bad_month_an_unknown_job_or_missing_invoicing_is_a_clear_error(cli, app):
    bad_month = cli("jobs", "run", "open_obligations", "--month", "2027-13")
    unknown = cli("jobs", "run", "make_coffee")
    assert (bad_month.exit_code, unknown.exit_code) == (2, 2)
    assert "Enter a month as YYYY-MM." in bad_month.output
    assert "make_coffee" in unknown.output
    invoices = cli("jobs", "run", "issue_invoices", "--month", "2027-01")
    if invoices.exit_code != 0:  # until the money slice's contracts.invoicing is merged
        assert invoices.exit_code == 1
        assert "contracts.invoicing.issue_invoices is missing" in invoices.output


def test_a_reminder_is_mailed_to_each_member_in_their_language(cli, db, contract, tmp_path):
    ja = make_member(db, _org(db, contract.seller_org_id), roles="trader", locale="ja")
    en = make_member(db, _org(db, contract.buyer_org_id), roles="signatory", locale="en")
    open_month(db, SYSTEM, date(2027, 1, 1))
    db.commit()

    result = cli("jobs", "run", "remind_late_deliveries", "--today", "2027-02-02")
    again = cli("jobs", "run", "remind_late_deliveries", "--today", "2027-02-03")

    assert result.stdout.splitlines() == ["late: 1", "notified: 2", "mailed: 2"]
    assert again.stdout.splitlines() == ["late: 1", "notified: 0"]
    mails = {
        m["To"]: m
        for m in (
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in (tmp_path / "cli-outbox").glob("*.eml")
        )
    }
    assert set(mails) == {ja.email, en.email}
    english = mails[en.email].get_body(("plain",)).get_content()
    assert f"Contract #{contract.id}: deliveries for 2027-01 are below the minimum" in english
    assert "(0 t of at least 95 t)" in english
    assert f"/contracts/{contract.id}/deliveries" in english


def _org(db, org_id):
    from participants.models import Organization

    return db.get(Organization, org_id)


def test_a_failed_run_leaves_nothing_behind_and_the_next_run_does_it_all(
    app, db, contract, monkeypatch
):
    real = contracts.jobs.open_month

    def crashing(*args, **kwargs):
        real(*args, **kwargs)
        raise RuntimeError("the machine went down")

    monkeypatch.setattr(contracts.jobs, "open_month", crashing)
    with pytest.raises(RuntimeError):
        run_job(app, "open_obligations", month=date(2027, 1, 1))
    assert _obligations(db) == []
    monkeypatch.setattr(contracts.jobs, "open_month", real)
    assert run_job(app, "open_obligations", month=date(2027, 1, 1)).counts["opened"] == 1


def test_the_scheduler_keeps_every_job_on_its_timetable_in_the_database(app, db):
    scheduler = build_scheduler(app, background=True)
    scheduler.start(paused=True)
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
        assert list(jobs) and set(jobs) == set(SCHEDULE)
        close = jobs["close_months"]
        assert (close.func_ref, close.args) == ("web.scheduler:scheduled_job", ("close_months",))
        fire = close.next_run_time
        assert (str(fire.tzinfo), fire.hour, fire.minute) == ("Asia/Tokyo", 0, 5)
        stored = db.execute(text(f"SELECT id FROM {JOBSTORE_TABLE} ORDER BY id")).scalars().all()
        assert sorted(stored) == sorted(SCHEDULE)
    finally:
        scheduler.shutdown(wait=False)
        db.execute(text(f"DELETE FROM {JOBSTORE_TABLE}"))
        db.commit()


def test_a_scheduled_run_works_in_an_app_context_of_its_own(app, db, contract, monkeypatch):
    month = tokyo_today().replace(day=1)
    make_active_contract(
        db,
        _org(db, contract.seller_org_id),
        _org(db, contract.buyer_org_id),
        copper_version(db),
        start=month,
    )
    monkeypatch.setattr(web.scheduler, "_app", app)
    scheduled_job("open_obligations")
    assert [o.month for o in _obligations(db)] == [month]


def test_only_one_scheduler_holds_a_database(app):
    engine = app.extensions["junkan.engine"]
    first, second = SchedulerLock(engine), SchedulerLock(engine)
    assert first.acquire()
    try:
        assert not second.acquire()
    finally:
        first.release()
    assert second.acquire()
    second.release()


def test_the_scheduler_command_refuses_to_start_beside_another(cli, app):
    lock = SchedulerLock(app.extensions["junkan.engine"])
    assert lock.acquire()
    try:
        result = cli("scheduler")
    finally:
        lock.release()
    assert result.exit_code == 1
    assert "Another scheduler is running on this database." in result.output
    assert cli("scheduler", "--list").exit_code == 0


def test_serve_runs_the_one_scheduler_as_its_own_process_only_when_asked(cli, app, db, monkeypatch):
    """Under gunicorn the scheduler is one child process of the master (never one per
    worker); it holds the database's scheduler lock and stops with the server."""
    import web.serving

    served: list[web.serving.ServerOptions] = []
    seen_lock_held: list[bool] = []

    def fake_gunicorn(application, sock, options):
        served.append(options)
        sock.close()  # binds nothing more, serves nothing
        probe = SchedulerLock(application.extensions["junkan.engine"])
        free = probe.acquire()
        if free:
            probe.release()
        seen_lock_held.append(not free)

    monkeypatch.setattr(web.serving, "gunicorn_available", lambda: True)
    monkeypatch.setattr(web.serving, "run_gunicorn", fake_gunicorn)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_not_used")  # no local Stripe here
    plain = cli("serve", "--port", "0", "--workers", "3")
    assert plain.exit_code == 0, plain.output
    assert "scheduler" not in plain.output and seen_lock_held == [False]

    monkeypatch.setenv("SCHEDULER_IN_PROCESS", "1")
    demo = cli("serve", "--port", "0")
    assert demo.exit_code == 0, demo.output
    assert "scheduler: running in its own process (pid " in demo.output
    assert seen_lock_held == [False, True]  # the child held the lock while the server ran
    again = SchedulerLock(app.extensions["junkan.engine"])
    assert again.acquire()  # and it was released when the server stopped
    again.release()
    assert [(o.workers, o.threads) for o in served] == [(3, 4), (web.serving.default_workers(), 4)]

    held = SchedulerLock(app.extensions["junkan.engine"])
    assert held.acquire()  # a scheduler of its own elsewhere: the server starts none
    try:
        beside = cli("serve", "--port", "0")
    finally:
        held.release()
    assert beside.exit_code == 0, beside.output
    assert "scheduler: another scheduler holds this database; not started here" in beside.output
    db.execute(text(f"DELETE FROM {JOBSTORE_TABLE}"))
    db.commit()


def test_serve_without_gunicorn_runs_waitress_and_the_scheduler_in_a_thread(
    cli, app, db, monkeypatch
):
    import waitress.server

    import web.serving

    served: list[dict] = []

    def fake_create_server(application, **kwargs):
        served.append(kwargs)
        return SimpleNamespace(run=lambda: None)  # binds nothing, serves nothing

    started: list = []
    real_start = web.scheduler.start_in_process

    def recording_start(application):
        result = real_start(application)
        started.append(result)
        return result

    monkeypatch.setattr(web.serving, "gunicorn_available", lambda: False)
    monkeypatch.setattr(waitress.server, "create_server", fake_create_server)
    monkeypatch.setattr(web.scheduler, "start_in_process", recording_start)
    monkeypatch.setenv("STRIPE_SECRET_KEY", "sk_test_not_used")
    plain = cli("serve", "--port", "0")
    assert plain.exit_code == 0, plain.output
    assert "scheduler" not in plain.output and started == []

    monkeypatch.setenv("SCHEDULER_IN_PROCESS", "1")
    demo = cli("serve", "--port", "0")
    assert demo.exit_code == 0, demo.output
    assert "scheduler: running in this process" in demo.output
    scheduler, lock = started[0]
    assert not scheduler.running  # shut down when the server stopped
    again = SchedulerLock(app.extensions["junkan.engine"])
    assert again.acquire()  # and its lock released
    again.release()
    assert [s["threads"] for s in served] == [4 * web.serving.default_workers()] * 2
    db.execute(text(f"DELETE FROM {JOBSTORE_TABLE}"))
    db.commit()
