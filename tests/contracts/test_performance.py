"""Contract performance: fill, on-time and conformance rates over closed months, invoiced and
paid; read by the two parties only, in a fixed number of queries; charts with round ticks."""

from datetime import date

import pytest
from factories import as_actor, login, make_listing, make_member, make_org, make_request
from sqlalchemy import event

from contracts.models import (
    ContractTerms,
    Delivery,
    DeliveryObligation,
    Invoice,
    OfftakeContract,
)
from contracts.performance import contract_performance, organization_performance, overall
from participants.errors import NotFound
from quality.catalogue import latest_published, seed_catalogue
from web.charts import round_ticks


def _month(db, contract, month, status, delivered_kg, lots, invoiced=None, paid=False):
    o = DeliveryObligation(
        contract_id=contract.id,
        terms_id=contract._terms_id,
        month=month,
        due_on=month,
        due_kg=100_000,
        min_kg=90_000,
        max_kg=110_000,
        delivered_kg=delivered_kg,
        status=status,
    )
    db.add(o)
    db.flush()
    for n, (kg, st, outcome) in enumerate(lots):
        db.add(
            Delivery(
                contract_id=contract.id,
                obligation_id=o.id,
                delivered_on=month,
                net_kg=kg,
                status=st,
                outcome=outcome,
                vehicle=f"truck {n}",
            )
        )
    if invoiced is not None:
        db.add(
            Invoice(
                number=f"JK-T-{o.id}",
                contract_id=contract.id,
                obligation_id=o.id,
                seller_org_id=contract.seller_org_id,
                buyer_org_id=contract.buyer_org_id,
                issued_on=month,
                due_on=month,
                subtotal_jpy=invoiced,
                total_jpy=invoiced,
                status="paid" if paid else "issued",
            )
        )
    db.commit()
    return o


@pytest.fixture()
def contract(db):
    seed_catalogue(db)
    version = latest_published(db, "HDPE-NAT-B")[1].id
    seller, buyer = make_org(db, kind="recycler"), make_org(db, kind="manufacturer")
    c = OfftakeContract(
        status="active",
        seller_org_id=seller.id,
        buyer_org_id=buyer.id,
        listing_id=make_listing(db, seller, version).id,
        request_id=make_request(db, buyer, version).id,
        material_code="hdpe",
        active_version=1,
    )
    db.add(c)
    db.flush()
    terms = ContractTerms(
        contract_id=c.id,
        start_month=date(2026, 1, 1),
        term_months=12,
        monthly_kg=100_000,
        incoterm="FCA",
        incoterm_place="Yard",
        standard_version_id=version,
        price_kind="fixed",
        fixed_price_jpy_per_t=70_000,
    )
    db.add(terms)
    db.commit()
    c._terms_id = terms.id
    # January: 95 t in two conforming lots, invoiced ¥6,650,000 and paid.
    _month(
        db,
        c,
        date(2026, 1, 1),
        "invoiced",
        95_000,
        [(50_000, "accepted", "conforms"), (45_000, "accepted", "conforms_with_deductions")],
        6_650_000,
        paid=True,
    )
    # February: 80 t accepted (below the 90 t minimum), one lot rejected off grade.
    _month(
        db,
        c,
        date(2026, 2, 1),
        "closed",
        80_000,
        [(80_000, "accepted", "conforms"), (20_000, "rejected", "rejected")],
        5_600_000,
    )
    # March: still open; 30 t so far, not graded yet.
    _month(db, c, date(2026, 3, 1), "open", 30_000, [(30_000, "recorded", "")])
    return c


def test_rates_count_closed_months_and_graded_lots(db, contract):
    seller = as_actor(
        db,
        make_member(db, db.get(type(contract), contract.id) and _org(db, contract.seller_org_id)),
    )
    perf = contract_performance(db, seller, contract.id)
    r = perf.rates
    assert [m.month.month for m in perf.months] == [1, 2, 3]
    assert (r.months, r.due_kg, r.delivered_kg, r.on_time_months) == (2, 200_000, 175_000, 1)
    assert str(r.fill_rate) == "87.5" and str(r.on_time_rate) == "50.0"
    assert (r.conforming_lots, r.graded_lots) == (3, 4)
    assert str(r.conformance_rate) == "75.0"
    assert (r.invoiced_jpy, r.paid_jpy) == (12_250_000, 6_650_000)


def _org(db, org_id):
    from participants.models import Organization

    return db.get(Organization, org_id)


def test_only_the_two_parties_read_it(db, contract):
    buyer = as_actor(db, make_member(db, _org(db, contract.buyer_org_id)))
    assert contract_performance(db, buyer, contract.id).rates.months == 2
    stranger = as_actor(db, make_member(db, make_org(db, kind="manufacturer")))
    with pytest.raises(NotFound):
        contract_performance(db, stranger, contract.id)
    assert organization_performance(db, stranger) == []
    total = overall(organization_performance(db, buyer))
    assert str(total.fill_rate) == "87.5"


def test_pages_show_rates_and_charts_in_a_fixed_number_of_queries(app, client, db, contract):
    member = make_member(db, _org(db, contract.seller_org_id))
    login(client, member.email)
    engine = app.extensions["junkan.engine"]
    counted: list[str] = []

    def count(*_args, **_kwargs):
        counted.append("q")

    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get(f"/contracts/{contract.id}/performance")
        few = len(counted)
        _month(db, contract, date(2026, 4, 1), "open", 0, [(10_000, "recorded", "")] * 5)
        counted.clear()
        again = client.get(f"/contracts/{contract.id}/performance")
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200 and again.status_code == 200
    assert len(counted) == few
    html = page.get_data(as_text=True)
    assert "87.5 %" in html and "75 %" in html and "¥12,250,000" in html
    assert html.count('src="data:image/svg+xml;base64,') == 2
    org_page = client.get("/performance").get_data(as_text=True)
    assert "87.5 %" in org_page and f"/contracts/{contract.id}/performance" in org_page
    stranger = make_member(db, make_org(db))
    client.post("/logout")
    login(client, stranger.email)
    assert client.get(f"/contracts/{contract.id}/performance").status_code == 404


@pytest.mark.parametrize(
    ("low", "high"), [(0, 132), (0, 6_650_000), (0, 87.3), (0, 1), (0, 12_250_000)]
)
def test_chart_axes_use_round_tick_values(low, high):
    ticks = round_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high and 3 <= len(ticks) <= 8
    step = ticks[1] - ticks[0]
    mantissa = step / 10 ** (len(str(int(step))) - 1) if step >= 1 else step * 10
    assert round(mantissa, 6) in (1, 2, 2.5, 5, 10), (ticks, step)


def test_the_api_gives_the_same_figures_to_the_parties_only(client, db, api_token, contract):
    buyer = make_member(db, _org(db, contract.buyer_org_id))
    r = client.get(f"/api/v1/contracts/{contract.id}/performance", headers=api_token(buyer.email))
    body = r.get_json()
    assert r.status_code == 200
    assert body["rates"] == {
        "closed_months": 2,
        "fill_rate_pct": "87.5",
        "on_time_rate_pct": "50.0",
        "conformance_rate_pct": "75.0",
        "invoiced_jpy": 12_250_000,
        "paid_jpy": 6_650_000,
    }
    assert [m["delivered_t"] for m in body["months"]] == ["95.000", "80.000", "30.000"]
    org = client.get("/api/v1/performance", headers=api_token(buyer.email)).get_json()
    assert org["rates"]["fill_rate_pct"] == "87.5" and org["contracts"][0]["months"] == []
    stranger = make_member(db, make_org(db))
    r = client.get(
        f"/api/v1/contracts/{contract.id}/performance", headers=api_token(stranger.email)
    )
    assert r.status_code == 404
