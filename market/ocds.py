"""Open Contracting Data Standard 1.1.5: releases of tenders, awards and contracts.

STUB (foundation commit): `record_release` stores a minimal release so that the tender and
award steps can call it; the OCDS work fills in the release content, the package, and their
validation against the official schemas.
"""

import json

from sqlmodel import Session, func, select

from market.models import OcdsRelease, Tender
from participants.columns import utcnow

OCID_PREFIX = "ocds-jk0001"  # registered-style prefix: "ocds-" + 6 characters


def ocid(tender_id: int) -> str:
    return f"{OCID_PREFIX}-tender-{tender_id}"


def record_release(session: Session, tender: Tender, tag: str) -> OcdsRelease:
    """Store a release of the tender's current state with `tag` (tender, tenderUpdate,
    tenderCancellation, award, contract); its id is the ocid, the tag and a sequence."""
    count = session.exec(
        select(func.count()).select_from(OcdsRelease).where(OcdsRelease.tender_id == tender.id)
    ).one()
    now = utcnow()
    release = {
        "ocid": ocid(tender.id),
        "id": f"{ocid(tender.id)}-{tag}-{count + 1}",
        "date": now.isoformat(),
        "tag": [tag],
        "initiationType": "tender",
    }
    row = OcdsRelease(
        tender_id=tender.id,
        release_id=release["id"],
        tag=tag,
        date=now,
        release_json=json.dumps(release, ensure_ascii=False),
    )
    session.add(row)
    session.flush()
    return row
