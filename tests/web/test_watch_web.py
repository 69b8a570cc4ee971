"""The operator's export-watch page and API: anomalies, flows and expiring consents for the
operator only (others 403), in a fixed number of queries."""

from datetime import timedelta

from factories import login
from movement_factories import black_mass_listing, build, make_record
from test_query_counts import counted

from participants.columns import tokyo_today


def _today() -> str:
    return str(tokyo_today())


def _day(n: int) -> str:
    return str(tokyo_today() + timedelta(days=n))


def _world(db):
    w = build(db)
    for price in (900_000, 880_000, 920_000):
        black_mass_listing(w, status="open", delivery_country="JP", fixed_price_jpy_per_t=price)
    black_mass_listing(
        w, status="open", delivery_country="JP", fixed_price_jpy_per_t=400_000, title="Cheap BM"
    )
    make_record(w, reference="EXPIRING-SOON", valid_from=_today(), valid_until=_day(25))
    make_record(w, reference="EXPIRING-LATER", valid_from=_today(), valid_until=_day(70))
    return w


def test_the_operator_sees_anomalies_and_expiring_consents(client, db):
    w = _world(db)
    login(client, w.members["operator"].email)
    r = client.get("/watch")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "Price below market" in page and "44.4 percent" in page
    assert "EXPIRING-SOON" in page and "EXPIRING-LATER" in page
    assert 'href="/watch"' in page  # in the operator's navigation


def test_others_may_not_open_the_watch(client, api_token, db):
    w = _world(db)
    login(client, w.members["seller trader"].email)
    assert client.get("/watch").status_code == 403
    assert 'href="/watch"' not in client.get("/movements").get_data(as_text=True)
    headers = api_token(w.members["seller trader"].email)
    for url in ("/api/v1/watch/anomalies", "/api/v1/watch/flows", "/api/v1/watch/expiring"):
        assert client.get(url, headers=headers).status_code == 403


def test_the_watch_api_answers_the_operator(client, api_token, db):
    w = _world(db)
    headers = api_token(w.members["operator"].email)
    body = client.get("/api/v1/watch/anomalies", headers=headers).get_json()
    assert body["floor_pct"] == 70
    assert [(a["kind"], a["figures"]["reference_jpy_per_t"]) for a in body["items"]] == [
        ("price_below_market", 900_000)
    ]
    assert "44.4 percent" in body["items"][0]["message"]
    soon = client.get("/api/v1/watch/expiring?within_days=30", headers=headers).get_json()
    assert [r["reference"] for r in soon["items"]] == ["EXPIRING-SOON"]
    assert client.get("/api/v1/watch/flows", headers=headers).get_json() == {"items": []}
    assert client.get("/api/v1/watch/expiring?within_days=0", headers=headers).status_code in (
        400,
        422,
    )


def test_the_floor_is_a_setting(app, client, api_token, db):
    w = _world(db)
    app.config["WATCH_PRICE_FLOOR_PCT"] = 40
    headers = api_token(w.members["operator"].email)
    assert client.get("/api/v1/watch/anomalies", headers=headers).get_json()["items"] == []


def test_the_watch_page_reads_in_a_fixed_number_of_queries(app, client, db):
    w = _world(db)
    login(client, w.members["operator"].email)
    engine = app.extensions["junkan.engine"]
    with counted(engine) as few:
        client.get("/watch")
    for i in range(6):
        black_mass_listing(w, status="open", delivery_country="JP", fixed_price_jpy_per_t=300_000)
        make_record(w, reference=f"MORE-{i}", valid_from=_today(), valid_until=_day(10))
    with counted(engine) as many:
        client.get("/watch")
    assert len(many) == len(few)
