"""Grade certificates of assessed lots: issue with a SHA-256 of canonical content, verify.

The content never holds prices: it is shown to anyone who has the certificate id.

Who may do what (checked here): administrators, inspectors and signatories of a verified
organisation certify their own organisation's assays (`ISSUE_CERTIFICATES`); the issuing
organisation's members read its certificates (`READ_CERTIFICATES`); anyone verifies a
certificate by its id (`verify_certificate`).
"""

import json
import secrets
from decimal import Decimal

from pydantic import BaseModel, ConfigDict
from sqlmodel import Session, col, select

from participants.actors import Actor, permission
from participants.errors import N_, Conflict, NotFound
from participants.fields import Id, Line, Tonnes
from participants.models import Organization, Role
from quality.assays import assay_data_quality, assess_assay, read_assay, resolve_version
from quality.catalogue import get_material
from quality.certificates import canonical_json, content_sha256, verify
from quality.errors import QualityError
from quality.models import Assay, Certificate

ISSUE_CERTIFICATES = permission(
    N_("Only administrators, inspectors and signatories issue certificates."),
    roles=[Role.ADMIN, Role.INSPECTOR, Role.SIGNATORY],
)
READ_CERTIFICATES = permission(
    N_("Log in to see your organisation's certificates."), verified=False
)


class CertificateRefused(Conflict, QualityError):
    """The lot cannot be certified for the grade (not good delivery, or incomplete data)."""

    message = "Only a lot that conforms to the grade can be certified (outcome: %(outcome)s)."


class CertificateRequest(BaseModel):
    """Certify one of the organisation's assays for a grade (its latest published version
    unless `version` is given); `tonnes` defaults to the assay's tonnage."""

    model_config = ConfigDict(extra="forbid")
    assay_id: Id
    standard: Line(40, min_length=1)
    version: Id | None = None
    tonnes: Tonnes | None = None


def new_certificate_id() -> str:
    """A random URL-safe id (128 bits), hard to guess."""
    return secrets.token_urlsafe(16)


def issue_certificate(session: Session, actor: Actor, data: CertificateRequest) -> Certificate:
    """Certify an own assay that conforms (with or without deductions) to a version (flush)."""
    ISSUE_CERTIFICATES.check(actor)
    assay = read_assay(session, actor, data.assay_id)
    standard, version = resolve_version(session, data.standard, data.version)
    report = assess_assay(session, assay, standard, version)
    if not report.assessment.accepted:
        raise CertificateRefused(None, "standard", outcome=str(report.assessment.outcome))
    tonnes = data.tonnes
    if tonnes is None and assay.tonnes_kg is not None:
        tonnes = Decimal(assay.tonnes_kg) / 1000
    if tonnes is None or tonnes <= 0:
        raise CertificateRefused("Give the tonnage of the lot before certifying it.", "tonnes")
    issuer = session.get(Organization, actor.organization_id)
    material = get_material(session, assay.material_code)
    level, _ = assay_data_quality(session, assay)
    cert = Certificate(
        id=new_certificate_id(),
        assay_id=assay.id,
        version_id=version.id,
        issuer_org_id=issuer.id,
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
        "issuer_id": issuer.id,
        "issuer_name": issuer.name_ja,
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


def read_certificate(session: Session, actor: Actor, cert_id: str) -> Certificate:
    """A certificate issued by the actor's organisation; NotFound for any other (or none)."""
    READ_CERTIFICATES.check(actor)
    cert = session.get(Certificate, cert_id)
    if cert is None or not actor.owns(cert.issuer_org_id):
        raise NotFound("No such certificate.", "cert_id")
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
    """Certificates of an assay (the assay was read with `read_assay`)."""
    return list(
        session.exec(
            select(Certificate)
            .where(Certificate.assay_id == assay.id)
            .order_by(col(Certificate.issued_at))
        ).all()
    )
