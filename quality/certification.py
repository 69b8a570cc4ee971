"""Grade certificates of assessed lots: issue with a SHA-256 of canonical content, verify.

The content never holds prices: it is shown to anyone who has the certificate id.
"""

import json
import secrets
from decimal import Decimal

from sqlmodel import Session, col, select

from quality.assays import assay_data_quality, assess_assay
from quality.catalogue import get_material
from quality.certificates import canonical_json, content_sha256, verify
from quality.errors import QualityError
from quality.models import Assay, Certificate, GradeStandard, StandardVersion


class CertificateRefused(QualityError):
    """The lot cannot be certified for the grade (not good delivery, or incomplete data)."""

    status = 409
    message = "Only a lot that conforms to the grade can be certified (outcome: %(outcome)s)."


def new_certificate_id() -> str:
    """A random URL-safe id (128 bits), hard to guess."""
    return secrets.token_urlsafe(16)


def issue_certificate(
    session: Session,
    assay: Assay,
    standard: GradeStandard,
    version: StandardVersion,
    issuer_org_id: int,
    issuer_name: str,
    tonnes: Decimal | None = None,
) -> Certificate:
    """Certify an assay that conforms (with or without deductions) to one version (flush)."""
    report = assess_assay(session, assay, standard, version)
    if not report.assessment.accepted:
        raise CertificateRefused(None, "standard", outcome=str(report.assessment.outcome))
    if tonnes is None and assay.tonnes_kg is not None:
        tonnes = Decimal(assay.tonnes_kg) / 1000
    if tonnes is None or not isinstance(tonnes, Decimal) or not tonnes.is_finite() or tonnes <= 0:
        raise CertificateRefused("Give the tonnage of the lot before certifying it.", "tonnes")
    material = get_material(session, assay.material_code)
    level, _ = assay_data_quality(session, assay)
    cert = Certificate(
        id=new_certificate_id(),
        assay_id=assay.id,
        version_id=version.id,
        issuer_org_id=issuer_org_id,
        content_json="",
        sha256="",
    )
    content = {
        "certificate": cert.id,
        "grade": standard.code,
        "grade_version": version.number,
        "grade_name_en": standard.name_en,
        "grade_name_ja": standard.name_ja,
        "material": material.code,
        "material_name_en": material.name_en,
        "material_name_ja": material.name_ja,
        "tonnes": tonnes.quantize(Decimal("0.001")),
        "issuer_id": issuer_org_id,
        "issuer_name": issuer_name,
        "issued_on": cert.issued_at.date(),
        "lot_ref": assay.lot_ref,
        "lab": assay.lab_name,
        "lab_accredited": assay.lab_accredited,
        "method": assay.method,
        "outcome": str(report.assessment.outcome),
        "data_quality_level": level,
    }
    cert.content_json = canonical_json(content).decode("utf-8")
    cert.sha256 = content_sha256(content)
    session.add(cert)
    session.flush()
    return cert


def certificate_content(cert: Certificate) -> dict:
    return json.loads(cert.content_json)


def verify_certificate(session: Session, cert_id: str) -> tuple[Certificate | None, bool]:
    """(certificate or None, genuine): genuine when the stored content still hashes to sha256."""
    cert = session.get(Certificate, cert_id)
    if cert is None:
        return None, False
    try:
        content = certificate_content(cert)
    except json.JSONDecodeError:
        return cert, False
    if not isinstance(content, dict) or content.get("certificate") != cert.id:
        return cert, False
    return cert, verify(content, cert.sha256)


def certificates_of_assay(session: Session, assay: Assay) -> list[Certificate]:
    return list(
        session.exec(
            select(Certificate)
            .where(Certificate.assay_id == assay.id)
            .order_by(col(Certificate.issued_at))
        ).all()
    )
