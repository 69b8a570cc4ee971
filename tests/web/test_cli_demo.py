"""CLI: migrations, idempotent demo data with the documented logins."""

from click.testing import CliRunner
from sqlmodel import Session, create_engine, func, select
from werkzeug.security import check_password_hash

from demo.organizations import DEMO_LOGINS, DEMO_PASSWORD
from market.models import MatchRun
from participants.accounts import check_corporate_number
from participants.models import AuditEntry, Member, Organization
from web.cli import main


def test_db_upgrade_and_demo_load_twice(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LOG_JSON", "0")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    first = runner.invoke(main, ["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "demo data loaded" in first.output
    engine = create_engine(url)
    with Session(engine) as db:
        orgs = db.exec(select(Organization)).all()
        members = db.exec(select(func.count()).select_from(Member)).one()
    second = runner.invoke(main, ["demo", "load"])
    assert "already present" in second.output
    with Session(engine) as db:
        assert db.exec(select(func.count()).select_from(Member)).one() == members
        for email, _ in DEMO_LOGINS:
            member = db.exec(select(Member).where(Member.email == email)).one()
            assert check_password_hash(member.password_hash, DEMO_PASSWORD)
        recycler = db.exec(select(Member).where(Member.email == "recycler@demo.junkan.jp")).one()
        assert {"admin", "signatory"} <= recycler.role_set
    assert len(orgs) >= 12
    assert {o.kind for o in orgs} == {
        "recycler",
        "manufacturer",
        "agency",
        "standards_body",
        "operator",
    }
    assert len({o.prefecture for o in orgs if o.prefecture}) >= 8
    for org in orgs:
        if org.corporate_number:
            assert check_corporate_number(org.corporate_number)


def test_match_command_reports_progress_and_figures_and_refuses_a_bad_month(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'match.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("LOG_JSON", "0")
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(main, ["demo", "load"]).exit_code == 0
    result = runner.invoke(main, ["match"])
    assert result.exit_code == 0, result.output
    assert "solving the allocation over" in result.output
    assert "proposals" in result.output and "gap" in result.output
    with Session(create_engine(url)) as db:
        runs = db.exec(select(MatchRun).order_by(MatchRun.id)).all()
        entries = db.exec(select(AuditEntry).where(AuditEntry.action == "matching.run")).all()
    # the demo loader's run and this one, both by the marketplace itself, both audited
    assert len(runs) == 2 and all(r.run_by_member_id is None for r in runs)
    # each keeps what the solver proved, as the output says
    assert all(r.solver_method and r.mip_gap is not None and r.optimal is not None for r in runs)
    assert f"proven gap {runs[-1].mip_gap:.4%}" in result.output
    assert sorted(e.target_id for e in entries) == [r.id for r in runs]
    assert {(e.actor_member_id, e.actor_organization_id) for e in entries} == {(None, None)}
    bad = runner.invoke(main, ["match", "--month", "2026-13"])
    assert bad.exit_code == 2 and "YYYY-MM" in bad.output
    # the proven gap with the minimums, and the exact model's budget as an option
    quick = runner.invoke(main, ["match", "--time-limit", "0"])
    assert quick.exit_code == 0, quick.output
    assert "proven gap" in quick.output
    assert runner.invoke(main, ["match", "--time-limit", "-1"]).exit_code == 2
