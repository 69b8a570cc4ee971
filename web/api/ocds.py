"""API: Open Contracting data (OCDS 1.1.5) — the same release packages as /ocds/releases.json
and /ocds/tenders/{id}.json, public (no token)."""

from flask import url_for

from market.ocds import OcdsReleasePackageOut, release_package_json
from web.api import api_bp
from web.api.openapi import operation
from web.db import get_db
from web.views.ocds import package_response


@api_bp.get("/ocds/releases")
@operation(
    "OCDS release package of all published tenders",
    responses={200: OcdsReleasePackageOut},
    errors=(404,),
    auth=False,
    tag="ocds",
)
def ocds_releases():
    """Every OCDS 1.1.5 release of every published tender (newest tender first), as stored
    when each step was published: tender, tenderUpdate, tenderCancellation, award, contract.
    404 while nothing has been published (a package holds at least one release)."""
    return package_response(
        lambda: release_package_json(
            get_db(),
            uri=url_for("api.ocds_releases", _external=True),
            publisher_uri=url_for("public.index", _external=True),
        )
    )


@api_bp.get("/ocds/tenders/<int:tender_id>")
@operation(
    "OCDS release package of one tender",
    responses={200: OcdsReleasePackageOut},
    auth=False,
    tag="ocds",
)
def ocds_tender_releases(tender_id: int):
    """The OCDS 1.1.5 releases of one published tender, in the order they were published."""
    return package_response(
        lambda: release_package_json(
            get_db(),
            uri=url_for("api.ocds_tender_releases", tender_id=tender_id, _external=True),
            publisher_uri=url_for("public.index", _external=True),
            tender_id=tender_id,
        )
    )
