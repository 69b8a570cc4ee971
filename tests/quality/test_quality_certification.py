"""Certificates: issued only for conforming lots of the issuer's own organisation, by a
certifying role of a verified organisation; verified by SHA-256, tampering detected."""

import json
from datetime import date
from decimal import Decimal

import pytest
from factories import as_actor, make_member, make_org
from sqlmodel import select

from participants.errors import NotFound, PermissionDenied
from participants.models import Organization
from quality.assays import AssayInput, record_assay
from quality.catalogue import seed_catalogue
from quality.certification import (
    CertificateRefused,
    CertificateRequest,
    issue_certificate,
    read_certificate,
    verify_certificate,
)
from quality.models import Certificate

INSPECTED = {
    "no_brass": True,
    "no_excess_oil": True,
    "no_insulation": True,
    "no_burnt_brittle_wire": True,
}


@pytest.fixture()
def yard(db):
    """The admin of a verified copper yard (it assays and certifies)."""
    seed_catalogue(db)
    org = make_org(db, name_ja="彩の国メタルリサイクル")
    return as_actor(db, make_member(db, org, roles="admin"))


def _copper(db, actor, cu="96.1", inspections=INSPECTED):
    data = AssayInput(
        lot_ref="KWG-2026-10-A",
        material="copper_scrap",
        lab_name="Lab",
        sampled_on=date(2026, 10, 1),
        reported_on=date(2026, 10, 3),
        lab_accredited=True,
        method="JIS H 1051",
        tonnes="24.5",
        evidence={"inspections": inspections, "declared": {"composition": "Cu 96"}},
        results=[{"parameter": "cu_pct", "value": cu, "uncertainty": "0.2"}],
    )
    return record_assay(db, actor, data)


def _request(assay, **fields):
    return CertificateRequest(assay_id=assay.id, standard="ISRI-BIRCH-CLIFF", **fields)


def test_a_conforming_copper_lot_is_certified_without_prices_and_verifies(db, yard):
    assay = _copper(db, yard)
    cert = issue_certificate(db, yard, _request(assay))
    db.commit()
    content = json.loads(cert.content_json)
    assert content["grade"] == "ISRI-BIRCH-CLIFF" and content["grade_version"] == 1
    assert content["tonnes"] == "24.500" and content["outcome"] == "conforms"
    assert content["data_quality_level"] == 3 and content["issuer_name"] == "彩の国メタルリサイクル"
    assert content["issuer_id"] == yard.organization_id == cert.issuer_org_id
    assert not any("jpy" in key or "price" in key for key in content)
    assert len(cert.id) >= 20 and len(cert.sha256) == 64
    assert verify_certificate(db, cert.id) == (cert, True)


def test_a_tampered_certificate_is_not_genuine(db, yard):
    cert = issue_certificate(db, yard, _request(_copper(db, yard)))
    db.commit()
    stored = db.get(Certificate, cert.id)
    stored.content_json = stored.content_json.replace('"24.500"', '"42.500"')
    db.add(stored)
    db.commit()
    assert verify_certificate(db, cert.id) == (stored, False)
    assert verify_certificate(db, "no-such-id") == (None, False)


def test_a_deducted_lot_is_certified_but_a_rejected_or_incomplete_one_is_not(db, yard):
    assay = _copper(db, yard, cu="93.5")  # 0.5 % short: deducted, still good delivery
    cert = issue_certificate(db, yard, _request(assay))
    assert json.loads(cert.content_json)["outcome"] == "conforms_with_deductions"
    rejected = _copper(db, yard, cu="91")
    with pytest.raises(CertificateRefused) as err:
        issue_certificate(db, yard, _request(rejected))
    assert str(err.value) == (
        "Only a lot that conforms to the grade can be certified (outcome: rejected)."
    )
    incomplete = _copper(db, yard, inspections={})
    with pytest.raises(CertificateRefused):
        issue_certificate(db, yard, _request(incomplete, tonnes=Decimal("1")))


@pytest.mark.parametrize(
    ("status", "roles", "allowed"),
    [
        ("verified", "admin", True),
        ("verified", "inspector", True),
        ("verified", "signatory", True),
        ("verified", "trader", False),
        ("verified", "officer", False),
        ("unverified", "admin", False),
        ("suspended", "signatory", False),
    ],
)
def test_who_certifies_a_certifying_role_of_a_verified_organisation(
    db, yard, status, roles, allowed
):
    assay = _copper(db, yard)
    org = db.get(Organization, yard.organization_id)
    org.status = status
    db.add(org)
    db.commit()
    actor = as_actor(db, make_member(db, org, roles=roles))
    if allowed:
        assert issue_certificate(db, actor, _request(assay)).issuer_org_id == org.id
    else:
        with pytest.raises(PermissionDenied):
            issue_certificate(db, actor, _request(assay))
        assert db.exec(select(Certificate)).all() == []


def test_another_organisation_cannot_certify_or_read_an_assay_or_certificate_not_its_own(db, yard):
    assay = _copper(db, yard)
    cert = issue_certificate(db, yard, _request(assay))
    db.commit()
    stranger = as_actor(db, make_member(db, make_org(db), roles="admin inspector"))
    with pytest.raises(NotFound) as err:
        issue_certificate(db, stranger, _request(assay))
    assert str(err.value) == "No such assay."
    with pytest.raises(NotFound):
        read_certificate(db, stranger, cert.id)
    assert read_certificate(db, yard, cert.id) is cert
    assert len(db.exec(select(Certificate)).all()) == 1
