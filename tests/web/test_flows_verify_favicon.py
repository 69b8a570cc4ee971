"""Flows without dead ends: the certificate number box, the QR code, the favicon."""

from factories import COPPER_ASSAY_FORM, login, make_member, make_org
from sqlmodel import select

from quality.catalogue import seed_catalogue
from quality.models import Assay, Certificate

COPPER_FORM = COPPER_ASSAY_FORM
REQUIREMENTS = ("no_brass", "no_excess_oil", "no_insulation", "no_burnt_brittle_wire")


def _certificate(client, db) -> Certificate:
    seed_catalogue(db)
    db.commit()
    member = make_member(db, make_org(db, kind="recycler"), roles="admin inspector signatory")
    login(client, member.email)
    client.post("/assays/new", data=COPPER_FORM)
    assay = db.exec(select(Assay)).one()
    client.post(f"/assays/{assay.id}/inspections", data={f"req-{c}": "yes" for c in REQUIREMENTS})
    client.post(f"/assays/{assay.id}/certify", data={"grade": "ISRI-BIRCH-CLIFF:1"})
    return db.exec(select(Certificate)).one()


def test_verify_page_has_a_box_for_the_certificate_number(client, db):
    page = client.get("/verify")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert 'name="number"' in text and "Certificate number" in text
    assert "No certificate" not in text


def test_typing_a_certificate_number_opens_its_verification_page(client, db):
    cert = _certificate(client, db)
    client.post("/logout")
    r = client.get(f"/verify?number=+{cert.id}+")
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/verify/{cert.id}")
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Genuine" in page and 'name="number"' in page


def test_an_unknown_certificate_number_says_so(client, db):
    r = client.get("/verify?number=NO-SUCH-NUMBER")
    assert r.status_code == 404
    text = r.get_data(as_text=True)
    assert "No certificate with this number exists." in text
    assert 'value="NO-SUCH-NUMBER"' in text
    assert client.get("/verify?number=" + "x" * 200).status_code == 404


def test_printed_certificate_carries_an_inline_svg_qr_code_to_its_verification_page(client, db):
    cert = _certificate(client, db)
    page = client.get(f"/certificates/{cert.id}").get_data(as_text=True)
    assert '<svg width="' in page and 'class="qr"' in page and "<path" in page
    assert "<script" not in page
    assert f"/verify/{cert.id}" in page


def test_the_qr_code_encodes_the_verification_address():
    import segno

    from web.qr import qr_svg

    svg = str(qr_svg("http://localhost/verify/abc", "QR"))
    assert svg == str(
        segno.make("http://localhost/verify/abc", error="m").svg_inline(
            scale=3, title="QR", svgclass="qr"
        )
    )


def test_favicon_is_served_on_every_site(client):
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.mimetype == "image/svg+xml"
    assert r.get_data(as_text=True).startswith("<svg")
