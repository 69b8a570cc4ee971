"""Open Contracting data (OCDS 1.1.5), public and without login: the release package of every
published tender and the package of one tender's releases. The releases are served as they
were stored when each step was published (`market.ocds`); planning tenders never appear."""

from flask import Blueprint, Response, request, url_for
from flask_babel import gettext

from market.ocds import release_package_json
from participants.errors import NotFound
from web.db import get_db
from web.errors import problem
from web.i18n import translate_error

bp = Blueprint("ocds", __name__)


def package_response(build) -> Response:
    """The package as application/json (cacheable, readable from any origin: open data), or
    a problem+json 404 when there is nothing to publish."""
    try:
        text = build()
    except NotFound as error:
        return problem(404, gettext("Not found"), translate_error(error))
    response = Response(text, mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.cache_control.public = True
    response.cache_control.max_age = 60
    response.add_etag()
    return response.make_conditional(request)


@bp.get("/ocds/releases.json")
def releases():
    """All releases of published tenders, newest tender first."""
    return package_response(
        lambda: release_package_json(
            get_db(),
            uri=url_for("ocds.releases", _external=True),
            publisher_uri=url_for("public.index", _external=True),
        )
    )


@bp.get("/ocds/tenders/<int:tender_id>.json")
def tender_releases(tender_id: int):
    """The releases of one published tender, in the order they were published."""
    return package_response(
        lambda: release_package_json(
            get_db(),
            uri=url_for("ocds.tender_releases", tender_id=tender_id, _external=True),
            publisher_uri=url_for("public.index", _external=True),
            tender_id=tender_id,
        )
    )
