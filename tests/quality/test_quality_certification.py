"""Certificates: issued only for conforming lots, verified by SHA-256, tampering detected."""

import json
from datetime import date
from decimal import Decimal

import pytest

from quality.assays import AssayHeader, ResultInput, record_assay
from quality.catalogue import latest_published, seed_catalogue
from quality.certification import CertificateRefused, issue_certificate, verify_certificate
from quality.models import Certificate

INSPECTED = {
    "no_brass": True,
    "no_excess_oil": True,
    "no_insulation": True,
    "no_burnt_brittle_wire": True,
}


def _copper(db, cu="96.1", inspections=INSPECTED):
    seed_catalogue(db)
    header = AssayHeader(
        "KWG-2026-10-A",
        "copper_scrap",
        "Lab",
        date(2026, 10, 1),
        date(2026, 10, 3),
        True,
        "JIS H 1051",
        "24.5",
        {"inspections": inspections, "declared": {"composition": "Cu 96"}},
    )
    return record_assay(db, 3, header, [ResultInput("cu_pct", cu, "0.2")])


def test_a_conforming_copper_lot_is_certified_without_prices_and_verifies(db):
    assay = _copper(db)
    std, ver = latest_published(db, "ISRI-BIRCH-CLIFF")
    cert = issue_certificate(db, assay, std, ver, 3, "彩の国メタルリサイクル")
    db.commit()
    content = json.loads(cert.content_json)
    assert content["grade"] == "ISRI-BIRCH-CLIFF" and content["grade_version"] == 1
    assert content["tonnes"] == "24.500" and content["outcome"] == "conforms"
    assert content["data_quality_level"] == 3 and content["issuer_name"] == "彩の国メタルリサイクル"
    assert not any("jpy" in key or "price" in key for key in content)
    assert len(cert.id) >= 20 and len(cert.sha256) == 64
    assert verify_certificate(db, cert.id) == (cert, True)


def test_a_tampered_certificate_is_not_genuine(db):
    assay = _copper(db)
    cert = issue_certificate(db, assay, *latest_published(db, "ISRI-BIRCH-CLIFF"), 3, "Yard")
    db.commit()
    stored = db.get(Certificate, cert.id)
    stored.content_json = stored.content_json.replace('"24.500"', '"42.500"')
    db.add(stored)
    db.commit()
    assert verify_certificate(db, cert.id) == (stored, False)
    assert verify_certificate(db, "no-such-id") == (None, False)


def test_a_deducted_lot_is_certified_but_a_rejected_or_incomplete_one_is_not(db):
    assay = _copper(db, cu="93.5")  # 0.5 % short: deducted, still good delivery
    cert = issue_certificate(db, assay, *latest_published(db, "ISRI-BIRCH-CLIFF"), 3, "Yard")
    assert json.loads(cert.content_json)["outcome"] == "conforms_with_deductions"
    rejected = _copper(db, cu="91")
    with pytest.raises(CertificateRefused) as err:
        issue_certificate(db, rejected, *latest_published(db, "ISRI-BIRCH-CLIFF"), 3, "Yard")
    assert str(err.value) == (
        "Only a lot that conforms to the grade can be certified (outcome: rejected)."
    )
    incomplete = _copper(db, inspections={})
    with pytest.raises(CertificateRefused):
        issue_certificate(
            db, incomplete, *latest_published(db, "ISRI-BIRCH-CLIFF"), 3, "Yard", Decimal("1")
        )
