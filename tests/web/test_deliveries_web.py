"""Delivery pages and API: a contract's months, recording a delivery with its documents, the
buyer's decision, a dispute settled by the assays — the same rules through both doors, odd
input answered with a clear 4xx and nothing written."""

import io

import pytest
from factories import login, make_member, make_org
from operations_factories import copper_version, make_active_contract, make_copper_assay
from sqlmodel import func, select
from test_accessibility import FormAudit

from contracts.models import ContractEvent, Delivery, DeliveryDocument
from contracts.obligations import close_months, open_month, previous_month
from market.listings import add_months
from participants.actors import SYSTEM
from participants.columns import tokyo_today
from quality.catalogue import seed_catalogue

PDF = b"%PDF-1.7\n1 0 obj\n<<>>\nendobj\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
FIVE_MB = 5 * 1024 * 1024


class World:
    """An active copper contract whose current month (Asia/Tokyo) is open, and who is who."""

    def __init__(self, db):
        seed_catalogue(db)
        self.db = db
        self.today = tokyo_today()
        self.month = self.today.replace(day=1)
        version = copper_version(db)
        self.seller = make_org(db, kind="recycler")
        self.buyer = make_org(db, kind="manufacturer")
        self.seller_trader = make_member(db, self.seller, roles="trader")
        self.seller_admin = make_member(db, self.seller, roles="admin")
        self.buyer_inspector = make_member(db, self.buyer, roles="inspector")
        self.outsider = make_member(db, make_org(db, kind="recycler"), roles="trader")
        self.contract = make_active_contract(
            db, self.seller, self.buyer, version, start=add_months(self.month, -3), term_months=12
        )
        open_month(db, SYSTEM, previous_month(self.month))
        close_months(db, SYSTEM, self.month)
        open_month(db, SYSTEM, self.month)
        db.commit()
        self.assay = make_copper_assay(db, self.seller, cu_pct="93.5", lab="Seller Lab")

    def count(self, model) -> int:
        self.db.expire_all()
        return self.db.exec(select(func.count()).select_from(model)).one()

    def counts(self) -> tuple[int, int, int]:
        return (self.count(Delivery), self.count(DeliveryDocument), self.count(ContractEvent))

    def form(self, **change) -> dict:
        values = {
            "delivered_on": self.today.isoformat(),
            "net_t": "24.5",
            "vehicle": "品川 100 あ 12-34",
            "assay_id": str(self.assay.id),
        }
        return values | change

    def body(self, **change) -> dict:
        return {
            "contract_id": self.contract.id,
            "delivered_on": self.today.isoformat(),
            "net_t": "24.5",
            "vehicle": "TCKU 123456-7",
            "assay_id": self.assay.id,
        } | change


@pytest.fixture()
def w(db):
    return World(db)


def test_the_months_page_shows_due_band_delivered_and_state_to_both_parties_only(client, w):
    login(client, w.seller_trader.email)
    page = client.get(f"/contracts/{w.contract.id}/deliveries")
    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert f"{w.month:%Y-%m}" in text and "95–105 t" in text and "100 t" in text
    assert f'href="/contracts/{w.contract.id}"' in text
    assert f"/contracts/{w.contract.id}/deliveries/new" in text
    assert "Closed" in text and "Open for deliveries" in text
    client.post("/logout")
    login(client, w.buyer_inspector.email)
    text = client.get(f"/contracts/{w.contract.id}/deliveries").get_data(as_text=True)
    assert "95–105 t" in text and f"/contracts/{w.contract.id}/deliveries/new" not in text
    assert client.get(f"/contracts/{w.contract.id}/deliveries/new").status_code == 403
    client.post("/logout")
    login(client, w.outsider.email)
    assert client.get(f"/contracts/{w.contract.id}/deliveries").status_code == 404


def test_a_delivery_recorded_on_the_page_with_its_documents_is_graded(client, w):
    login(client, w.seller_trader.email)
    form = client.get(f"/contracts/{w.contract.id}/deliveries/new").get_data(as_text=True)
    assert (
        "PDF, PNG or JPEG, at most 5 MB each." in form and 'enctype="multipart/form-data"' in form
    )
    response = client.post(
        f"/contracts/{w.contract.id}/deliveries/new",
        data=w.form(
            weighbridge_ticket=(io.BytesIO(PDF), "ticket.pdf"),
            assay_report=(io.BytesIO(PNG), "report.png"),
        ),
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    delivery = w.db.exec(select(Delivery)).one()
    assert response.headers["Location"] == f"/deliveries/{delivery.id}"
    assert (delivery.net_kg, delivery.outcome, delivery.adjustment_jpy_per_t) == (
        24_500,
        "conforms_with_deductions",
        -7_500,
    )
    page = client.get(f"/deliveries/{delivery.id}").get_data(as_text=True)
    assert "Conforms with deductions" in page and "7,500" in page and "ticket.pdf" in page
    docs = w.db.exec(select(DeliveryDocument).order_by(DeliveryDocument.id)).all()
    assert [(d.kind, d.content_type) for d in docs] == [
        ("weighbridge_ticket", "application/pdf"),
        ("assay_report", "image/png"),
    ]
    client.post("/logout")
    login(client, w.buyer_inspector.email)
    download = client.get(f"/deliveries/{delivery.id}/documents/{docs[0].id}")
    assert (download.status_code, download.data, download.mimetype) == (200, PDF, "application/pdf")
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    client.post("/logout")
    login(client, w.outsider.email)
    assert client.get(f"/deliveries/{delivery.id}/documents/{docs[0].id}").status_code == 404
    assert client.get(f"/deliveries/{delivery.id}").status_code == 404


@pytest.mark.parametrize(
    ("files", "message"),
    [
        (
            {"weighbridge_ticket": (io.BytesIO(b"GIF89a..."), "t.gif")},
            "Upload a PDF, PNG or JPEG file.",
        ),
        (
            {"assay_report": (io.BytesIO(b"%PDF-" + b"0" * FIVE_MB), "big.pdf")},
            "A file may be at most 5 MB.",
        ),
    ],
)
def test_a_wrong_file_on_the_page_is_shown_under_its_field_and_nothing_is_written(
    client, w, files, message
):
    login(client, w.seller_trader.email)
    before = w.counts()
    response = client.post(
        f"/contracts/{w.contract.id}/deliveries/new",
        data=w.form(**files),
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert w.counts() == before


def test_the_page_refuses_a_zero_weight_a_closed_month_and_another_organisation(client, w):
    login(client, w.seller_trader.email)
    before = w.counts()
    zero = client.post(f"/contracts/{w.contract.id}/deliveries/new", data=w.form(net_t="0"))
    closed = client.post(
        f"/contracts/{w.contract.id}/deliveries/new",
        data=w.form(delivered_on=previous_month(w.month).isoformat()),
    )
    assert (zero.status_code, closed.status_code) == (422, 409)
    assert "The net weight must be more than zero." in zero.get_data(as_text=True)
    assert "is closed." in closed.get_data(as_text=True)
    client.post("/logout")
    login(client, w.outsider.email)
    other = client.post(f"/contracts/{w.contract.id}/deliveries/new", data=w.form())
    assert other.status_code == 404
    assert w.counts() == before


def test_the_api_records_reads_lists_and_accepts_a_delivery(client, w, api_token):
    seller, buyer = api_token(w.seller_trader.email), api_token(w.buyer_inspector.email)
    created = client.post("/api/v1/deliveries", json=w.body(), headers=seller)
    assert created.status_code == 201, created.get_json()
    out = created.get_json()
    assert {k: out[k] for k in ("net_t", "status", "outcome", "adjustment_jpy_per_t", "side")} == {
        "net_t": "24.500",
        "status": "recorded",
        "outcome": "conforms_with_deductions",
        "adjustment_jpy_per_t": -7_500,
        "side": "seller",
    }
    assert (out["month"], out["counted"], out["documents"]) == (f"{w.month:%Y-%m}", False, [])
    delivery_id = out["id"]

    upload = client.post(
        f"/api/v1/deliveries/{delivery_id}/documents",
        data={"kind": "weighbridge_ticket", "file": (io.BytesIO(PDF), "ticket.pdf")},
        headers=seller,
        content_type="multipart/form-data",
    )
    assert upload.status_code == 201, upload.get_json()
    document = upload.get_json()
    assert (document["content_type"], document["size_bytes"], document["url"]) == (
        "application/pdf",
        len(PDF),
        f"/api/v1/deliveries/{delivery_id}/documents/{document['id']}",
    )
    assert client.get(document["url"], headers=buyer).data == PDF

    listed = client.get(
        f"/api/v1/deliveries?contract_id={w.contract.id}&month={w.month:%Y-%m}&status=recorded",
        headers=buyer,
    ).get_json()
    assert [(i["id"], i["side"], len(i["documents"])) for i in listed["items"]] == [
        (delivery_id, "buyer", 1)
    ]
    assert client.get("/api/v1/deliveries?status=accepted", headers=buyer).get_json()["total"] == 0

    accepted = client.post(f"/api/v1/deliveries/{delivery_id}/accept", headers=buyer)
    assert (accepted.status_code, accepted.get_json()["counted"]) == (200, True)
    again = client.post(f"/api/v1/deliveries/{delivery_id}/accept", headers=buyer)
    assert (again.status_code, again.get_json()["detail"]) == (
        409,
        "The delivery has already been decided.",
    )
    months = client.get(f"/api/v1/contracts/{w.contract.id}/obligations", headers=seller)
    assert [(m["month"], m["status"], m["delivered_t"]) for m in months.get_json()["items"]] == [
        (f"{previous_month(w.month):%Y-%m}", "closed", "0.000"),
        (f"{w.month:%Y-%m}", "open", "24.500"),
    ]


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"net_t": "-1"}, 422, "net_t"),
        ({"net_t": "0"}, 422, "net_t"),
        ({"net_t": 24.5}, 201, None),
        ({"delivered_on": "2099-01-01"}, 422, "delivered_on"),
        ({"extra": 1}, 422, "extra"),
        ({"contract_id": 2**31 - 1}, 404, "contract_id"),
    ],
)
def test_the_api_refuses_odd_deliveries_with_a_clear_status(
    client, w, api_token, change, status, field
):
    headers = api_token(w.seller_trader.email)
    before = w.counts()
    response = client.post("/api/v1/deliveries", json=w.body(**change), headers=headers)
    assert response.status_code == status, response.get_json()
    if status != 201:
        assert response.get_json()["errors"][0]["field"] == field
        assert w.counts() == before


def test_the_api_refuses_a_delivery_on_a_closed_month_or_someone_elses_contract(
    client, w, api_token
):
    before = w.counts()
    closed = client.post(
        "/api/v1/deliveries",
        json=w.body(delivered_on=previous_month(w.month).isoformat()),
        headers=api_token(w.seller_trader.email),
    )
    other = client.post("/api/v1/deliveries", json=w.body(), headers=api_token(w.outsider.email))
    buyer = client.post(
        "/api/v1/deliveries", json=w.body(), headers=api_token(w.buyer_inspector.email)
    )
    assert (closed.status_code, other.status_code, buyer.status_code) == (409, 404, 403)
    assert (
        closed.get_json()["detail"]
        == f"The delivery month {previous_month(w.month):%Y-%m} is closed."
    )
    assert w.counts() == before


def test_an_upload_of_a_wrong_type_too_large_or_malformed_writes_nothing(client, w, api_token):
    headers = api_token(w.seller_trader.email)
    delivery_id = client.post("/api/v1/deliveries", json=w.body(), headers=headers).get_json()["id"]
    url = f"/api/v1/deliveries/{delivery_id}/documents"
    before = w.counts()

    def upload(data):
        return client.post(url, data=data, headers=headers, content_type="multipart/form-data")

    wrong = upload({"kind": "other", "file": (io.BytesIO(b"<html>"), "x.pdf")})
    large = upload({"kind": "other", "file": (io.BytesIO(b"%PDF-" + b"0" * FIVE_MB), "x.pdf")})
    huge = upload({"kind": "other", "file": (io.BytesIO(b"%PDF-" + b"0" * 7 * 1024**2), "x.pdf")})
    kind = upload({"kind": "photo", "file": (io.BytesIO(PDF), "x.pdf")})
    missing = upload({"kind": "other"})
    extra = upload({"kind": "other", "file": (io.BytesIO(PDF), "x.pdf"), "note": "hi"})
    json_body = client.post(url, json={"kind": "other"}, headers=headers)
    assert [
        (r.status_code, r.get_json()["errors"][0]["field"])
        for r in (wrong, large, kind, missing, extra, json_body)
    ] == [
        (422, "file"),
        (422, "file"),
        (422, "kind"),
        (422, "file"),
        (422, "note"),
        (422, "kind"),
    ]
    assert wrong.get_json()["detail"] == "Upload a PDF, PNG or JPEG file."
    assert large.get_json()["detail"] == "A file may be at most 5 MB."
    assert huge.status_code == 413
    assert w.counts() == before


def test_a_dispute_through_the_api_settles_with_the_umpires_assay(client, w, api_token, db):
    seller, buyer = api_token(w.seller_trader.email), api_token(w.buyer_inspector.email)
    delivery_id = client.post("/api/v1/deliveries", json=w.body(), headers=seller).get_json()["id"]
    buyers = make_copper_assay(db, w.buyer, cu_pct="92.9", uncertainty="0.1", lab="Buyer Lab")
    disputed = client.post(
        f"/api/v1/deliveries/{delivery_id}/dispute",
        json={"reason": "Copper below the grade.", "buyer_assay_id": buyers.id},
        headers=buyer,
    ).get_json()
    # 93.5 ± 0.2 against 92.9 ± 0.1: 0.6 apart, more than √(0.2² + 0.1²) = 0.3 (rounded up).
    assert (disputed["status"], disputed["umpire_required"]) == ("disputed", True)
    assert disputed["settlement"] == [
        {
            "parameter": "cu_pct",
            "seller": "93.5",
            "buyer": "92.9",
            "difference": "0.6",
            "splitting_limit": "0.3",
            "umpire": None,
            "settled": None,
            "basis": "pending",
        }
    ]
    umpire = make_copper_assay(db, w.seller, cu_pct="93.0", uncertainty="0.1", lab="Umpire Lab")
    settled = client.post(
        f"/api/v1/deliveries/{delivery_id}/settle",
        json={"umpire_assay_id": umpire.id},
        headers=seller,
    ).get_json()
    assert (settled["status"], settled["adjustment_jpy_per_t"], settled["counted"]) == (
        "settled",
        -15_000,
        True,
    )
    assert settled["settlement"][0]["basis"] == "umpire"


def test_the_page_dispute_needs_a_reason_and_the_page_settles_like_the_api(client, w, db):
    login(client, w.seller_trader.email)
    client.post(f"/contracts/{w.contract.id}/deliveries/new", data=w.form())
    delivery = db.exec(select(Delivery)).one()
    client.post("/logout")
    login(client, w.buyer_inspector.email)
    page = client.get(f"/deliveries/{delivery.id}").get_data(as_text=True)
    assert (
        f"/deliveries/{delivery.id}/accept" in page and f"/deliveries/{delivery.id}/dispute" in page
    )
    empty = client.post(f"/deliveries/{delivery.id}/dispute", data={"reason": " "})
    assert empty.status_code == 302
    db.expire_all()
    assert db.get(Delivery, delivery.id).status == "recorded"
    buyers = make_copper_assay(db, w.buyer, cu_pct="93.3", lab="Buyer Lab")
    client.post(
        f"/deliveries/{delivery.id}/dispute",
        data={"reason": "Reads low.", "buyer_assay_id": str(buyers.id)},
    )
    db.expire_all()
    settled = db.get(Delivery, delivery.id)
    assert (settled.status, settled.adjustment_jpy_per_t) == ("settled", -9_000)  # 93.4 %
    text = client.get(f"/deliveries/{delivery.id}").get_data(as_text=True)
    assert "Average (within the splitting limit)" in text and "93.4" in text


def test_the_delivery_pages_have_one_heading_and_labelled_controls(client, w):
    login(client, w.seller_trader.email)
    client.post(f"/contracts/{w.contract.id}/deliveries/new", data=w.form())
    delivery_id = w.db.exec(select(Delivery.id)).one()
    problems = []
    for path in (
        "/deliveries",
        f"/contracts/{w.contract.id}/deliveries",
        f"/contracts/{w.contract.id}/deliveries/new",
        f"/deliveries/{delivery_id}",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        audit = FormAudit()
        audit.feed(response.get_data(as_text=True))
        if audit.h1 != 1:
            problems.append(f"{path}: {audit.h1} h1")
        problems += [f"{path}: unlabelled {c}" for c in audit.unlabelled()]
    assert problems == []
