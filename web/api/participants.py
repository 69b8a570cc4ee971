"""API: tokens, me, organisations."""

from flask import g, request
from flask_babel import gettext
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from market.errors import MarketError
from market.geography import BY_CODE
from market.models import Member, Organization, OrgKind, OrgStatus
from market.participants import authenticate, create_api_token
from web.api import api_bp, parse_body, token_required
from web.api.openapi import schema
from web.db import get_db
from web.errors import problem
from web.i18n import translate_error
from web.pagination import paginate


@schema
class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=200)
    name: str = Field(default="API", min_length=1, max_length=80)


@schema
class TokenResponse(BaseModel):
    token: str
    id: int
    name: str


@schema
class OrganizationOut(BaseModel):
    id: int
    kind: str
    name_ja: str
    name_en: str
    corporate_number: str | None
    country: str
    registry_id: str | None
    prefecture: str | None
    prefecture_name: str | None
    address: str
    lat: float | None
    lon: float | None
    status: str


@schema
class MeOut(BaseModel):
    id: int
    email: str
    name: str
    roles: list[str]
    locale: str
    organization: OrganizationOut


def organization_json(org: Organization) -> dict:
    pref = BY_CODE.get(org.prefecture or "")
    return OrganizationOut(
        id=org.id,
        kind=org.kind,
        name_ja=org.name_ja,
        name_en=org.name_en,
        corporate_number=org.corporate_number,
        country=org.country,
        registry_id=org.registry_id,
        prefecture=org.prefecture,
        prefecture_name=pref.name_en if pref else None,
        address=org.address,
        lat=org.lat,
        lon=org.lon,
        status=org.status,
    ).model_dump()


@api_bp.post("/tokens")
def create_token():
    """Exchange e-mail and password for a bearer token.
    ---
    post:
      summary: Create an API token
      requestBody:
        content:
          application/json:
            schema: {$ref: '#/components/schemas/TokenRequest'}
      responses:
        '201':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/TokenResponse'}
        '422':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
        '429': {description: too many failed logins}
    """
    body = parse_body(TokenRequest)
    db = get_db()
    try:
        member = authenticate(db, body.email, body.password, request.remote_addr or "")
        token, raw = create_api_token(db, member, body.name)
    except MarketError as err:
        db.commit()  # failed attempts count towards throttling
        message = translate_error(err)
        return problem(
            err.status,
            gettext("Authentication failed"),
            message,
            [{"field": err.field, "message": message}],
        )
    db.commit()
    return {"token": raw, "id": token.id, "name": token.name}, 201


@api_bp.get("/me")
@token_required
def me():
    """The caller and its organisation.
    ---
    get:
      summary: Who am I
      security: [{bearer: []}]
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/MeOut'}
        '401':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    m: Member = g.caller.member
    return {
        "id": m.id,
        "email": m.email,
        "name": m.name,
        "roles": sorted(m.role_set),
        "locale": m.locale,
        "organization": organization_json(g.caller.org),
    }


@api_bp.get("/organizations")
@token_required
def organizations():
    """Verified organisations, filtered by kind and prefecture.
    ---
    get:
      summary: List verified organisations
      security: [{bearer: []}]
      parameters:
        - {name: kind, in: query, schema: {type: string, enum: [recycler, manufacturer, agency, standards_body, operator]}}
        - {name: prefecture, in: query, schema: {type: string, pattern: '^[0-9]{2}$'}}
        - {name: page, in: query, schema: {type: integer, minimum: 1}}
        - {name: per_page, in: query, schema: {type: integer, minimum: 1, maximum: 100}}
      responses:
        '200':
          description: a page of organisations
          content:
            application/json:
              schema:
                type: object
                properties:
                  items: {type: array, items: {$ref: '#/components/schemas/OrganizationOut'}}
                  page: {type: integer}
                  per_page: {type: integer}
                  total: {type: integer}
                  next: {type: [string, 'null']}
                  prev: {type: [string, 'null']}
        '400':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    kind = request.args.get("kind")
    prefecture = request.args.get("prefecture")
    errors = []
    if kind and kind not in {k.value for k in OrgKind}:
        errors.append({"field": "kind", "message": gettext("Choose one of the allowed values.")})
    if prefecture and prefecture not in BY_CODE:
        errors.append({"field": "prefecture", "message": gettext("Unknown prefecture code.")})
    if errors:
        return problem(400, gettext("Bad request"), errors[0]["message"], errors)
    query = select(Organization).where(Organization.status == OrgStatus.VERIFIED)
    if kind:
        query = query.where(Organization.kind == kind)
    if prefecture:
        query = query.where(Organization.prefecture == prefecture)
    page = paginate(get_db(), query.order_by(Organization.id), strict=True)
    return page.as_json([organization_json(o) for o in page.items])


@api_bp.get("/organizations/<int:org_id>")
@token_required
def organization(org_id: int):
    """One organisation (verified ones, or the caller's own).
    ---
    get:
      summary: Read an organisation
      security: [{bearer: []}]
      parameters:
        - {name: org_id, in: path, required: true, schema: {type: integer}}
      responses:
        '200':
          content:
            application/json:
              schema: {$ref: '#/components/schemas/OrganizationOut'}
        '404':
          content:
            application/problem+json:
              schema: {$ref: '#/components/schemas/Problem'}
    """
    org = get_db().get(Organization, org_id)
    if org is None or (org.status != OrgStatus.VERIFIED and org.id != g.caller.org.id):
        return problem(404, gettext("Not found"), gettext("No such organisation."))
    return organization_json(org)
