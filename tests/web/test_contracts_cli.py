"""`junkan contracts verify`: one line a contract, exit 1 when an audit chain is broken."""

from decimal import Decimal

from click.testing import CliRunner
from factories import as_actor, make_listing, make_member, make_org
from sqlalchemy import text

from contracts.drafting import DraftFromListingIn, draft_from_listing
from quality.catalogue import latest_published, seed_catalogue
from web.cli import main


def _drafts(db, n: int) -> list[int]:
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    listing = make_listing(db, make_org(db, kind="recycler"), version)
    buyer = as_actor(db, make_member(db, make_org(db, kind="manufacturer"), roles="trader"))
    ids = []
    for _ in range(n):
        data = DraftFromListingIn(monthly_t=Decimal(20), start_month="2027-02", term_months=6)
        ids.append(draft_from_listing(db, buyer, listing.id, data).id)
    db.commit()
    return ids


def test_verify_prints_each_chain_and_fails_on_a_broken_one(app, db, database_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("LOG_JSON", "0")
    first, second = _drafts(db, 2)
    runner = CliRunner()
    result = runner.invoke(main, ["contracts", "verify"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        f"contract {first}: intact (1 events)",
        f"contract {second}: intact (1 events)",
        "2 contracts checked, 0 broken",
    ]
    db.execute(text("UPDATE contractevent SET detail = '{}' WHERE contract_id = :c"), {"c": second})
    db.commit()
    result = runner.invoke(main, ["contracts", "verify"])
    assert result.exit_code == 1
    assert f"contract {second}: BROKEN at event 1: an event was changed" in result.output
    result = runner.invoke(main, ["contracts", "verify", "--contract", str(first)])
    assert (result.exit_code, result.output.splitlines()[-1]) == (
        0,
        "1 contracts checked, 0 broken",
    )
    result = runner.invoke(main, ["contracts", "verify", "--contract", "999999"])
    assert result.exit_code == 2 and "no such contract" in result.output
