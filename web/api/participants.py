"""API: tokens, me, organisations."""

from datetime import datetime
from typing import Literal

from flask import g, request
from flask_babel import get_locale, gettext
from pydantic import BaseModel, ConfigDict, Field

from participants.accounts import (
    authenticate,
    create_api_token,
    set_registration_number,
    set_registry_id,
    verified_organizations,
    visible_organization,
)
from participants.actors import load_actor
from participants.countries import country_name
from participants.errors import DomainError, TooManyAttempts
from participants.fields import Line, Paging
from participants.geography import BY_CODE, PREFECTURES
from participants.models import ApiToken, Member, Organization, OrgKind
from participants.registration import registry_label
from web.api import api_bp
from web.api.openapi import Page, operation
from web.auth import api_token_lifetime
from web.db import get_db
from web.errors import problem
from web.i18n import translate_error
from web.pagination import paginate

PrefectureCode = Literal[tuple(p.code for p in PREFECTURES)]
OrganizationKind = Literal[tuple(k.value for k in OrgKind)]


class TokenRequest(BaseModel):
    """E-mail and password of an active member, and a name for the token."""

    model_config = ConfigDict(extra="forbid")
    email: Line(254, min_length=3)
    password: str = Field(min_length=1, max_length=200)
    name: Line(80, min_length=1) = "API"


class TokenResponse(BaseModel):
    """The new token: shown once, only its hash is stored; it stops working at `expires_at`."""

    token: str
    id: int
    name: str
    expires_at: datetime


class ApiTokenOut(BaseModel):
    """An API token (never its value): when it was made, when it expires, when it was used."""

    id: int
    name: str
    prefix: str = Field(description="the first characters of the token, to recognise it")
    created_at: datetime
    expires_at: datetime = Field(description="the token answers 401 from this time on")
    last_used_at: datetime | None = Field(description="to within a minute")


class OrganizationOut(BaseModel):
    """An organisation: public identity and place."""

    id: int
    kind: str
    name_ja: str
    name_en: str
    corporate_number: str | None = Field(
        description="法人番号 (13 digits) of a Japanese organisation"
    )
    country: str = Field(description="ISO 3166-1 alpha-2")
    country_name: str = Field(description="the country's name in the caller's language")
    registry_id: str | None = Field(
        description="an organisation outside Japan: its registration number in its country, "
        "checked by its shape where the country has a known scheme"
    )
    registry_label: str | None = Field(description="what that number is called, e.g. EIN")
    prefecture: str | None
    prefecture_name: str | None
    address: str
    lat: float | None
    lon: float | None
    status: str
    qualified_invoice_number: str | None = Field(
        description="qualified-invoice registration number (T + 13 digits), if any"
    )


class RegistrationNumberIn(BaseModel):
    """The organisation's qualified-invoice registration number; empty or null removes it."""

    model_config = ConfigDict(extra="forbid")
    qualified_invoice_number: Line(40) | None = Field(
        description="T + 13 digits: the corporate number, or the number the National Tax Agency "
        "assigned a sole proprietor; the check digit is verified"
    )


class RegistryIdIn(BaseModel):
    """An organisation outside Japan: its registration number in its country."""

    model_config = ConfigDict(extra="forbid")
    registry_id: Line(64, min_length=1) = Field(
        description="checked by the country's shape where one is known (e.g. DE "
        "Handelsregisternummer 'Köln HRB 48213', US EIN, TH DBD number), else free text"
    )


class MeOut(BaseModel):
    """The caller and its organisation."""

    id: int
    email: str
    name: str
    roles: list[str]
    locale: str
    organization: OrganizationOut
    token: ApiTokenOut = Field(description="the token of this request")


class OrganizationQuery(Paging):
    kind: OrganizationKind | None = None
    prefecture: PrefectureCode | None = Field(default=None, description="JIS X 0401 code")


def api_token_out(token: ApiToken) -> ApiTokenOut:
    return ApiTokenOut(
        id=token.id,
        name=token.name,
        prefix=token.prefix,
        created_at=token.created_at,
        expires_at=token.expires_at,
        last_used_at=token.last_used_at,
    )


def organization_out(org: Organization) -> OrganizationOut:
    pref = BY_CODE.get(org.prefecture or "")
    return OrganizationOut(
        id=org.id,
        kind=org.kind,
        name_ja=org.name_ja,
        name_en=org.name_en,
        corporate_number=org.corporate_number,
        country=org.country,
        country_name=country_name(org.country, str(get_locale())),
        registry_id=org.registry_id,
        registry_label=gettext(registry_label(org.country)) if org.registry_id else None,
        prefecture=org.prefecture,
        prefecture_name=pref.name_en if pref else None,
        address=org.address,
        lat=org.lat,
        lon=org.lon,
        status=org.status,
        qualified_invoice_number=org.qualified_invoice_number,
    )


@api_bp.post("/tokens")
@operation(
    "Create an API token",
    body=TokenRequest,
    responses={201: TokenResponse},
    errors=(401, 429),
    auth=False,
    tag="account",
)
def create_token(body: TokenRequest):
    """Exchange e-mail and password for a bearer token (valid for 90 days unless the marketplace
    sets another lifetime). Repeated wrong passwords for one account from one address are slowed
    down: 429 with Retry-After."""
    db = get_db()
    try:
        member = authenticate(db, body.email, body.password, request.remote_addr or "")
        token, raw = create_api_token(
            db, load_actor(db, member.id), body.name, api_token_lifetime()
        )
    except DomainError as err:
        # Answered, not raised: the wrapper commits, so a failed attempt counts for throttling.
        message = translate_error(err)
        response = problem(
            err.status,
            gettext("Authentication failed"),
            message,
            [{"field": err.field, "message": message}],
        )
        if isinstance(err, TooManyAttempts) and err.retry_after:
            response.headers["Retry-After"] = str(err.retry_after)
        if err.status == 401:
            response.headers["WWW-Authenticate"] = "Bearer"
        return response
    return TokenResponse(token=raw, id=token.id, name=token.name, expires_at=token.expires_at), 201


@api_bp.get("/me")
@operation("Who am I", responses={200: MeOut}, tag="account")
def me():
    """The caller, its organisation, and the token of this request with its expiry."""
    m: Member = g.caller.member
    return MeOut(
        id=m.id,
        email=m.email,
        name=m.name,
        roles=sorted(m.role_set),
        locale=m.locale,
        organization=organization_out(g.caller.org),
        token=api_token_out(g.caller.api_token),
    )


@api_bp.get("/organizations")
@operation(
    "List verified organisations",
    query=OrganizationQuery,
    responses={200: Page[OrganizationOut]},
    tag="organizations",
)
def organizations(query: OrganizationQuery):
    """Verified organisations, filtered by kind and prefecture."""
    page = paginate(get_db(), verified_organizations(query.kind, query.prefecture), paging=query)
    return page.as_json([organization_out(o).model_dump(mode="json") for o in page.items])


@api_bp.get("/organizations/<int:org_id>")
@operation("Read an organisation", responses={200: OrganizationOut}, tag="organizations")
def organization(org_id: int):
    """One organisation (verified ones, or the caller's own)."""
    return organization_out(visible_organization(get_db(), g.caller.actor, org_id))


@api_bp.put("/organization/registration-number")
@operation(
    "Set the registration number",
    body=RegistrationNumberIn,
    responses={200: OrganizationOut},
    errors=(403,),
    tag="organizations",
)
def put_registration_number(body: RegistrationNumberIn):
    """An administrator sets (or, with null or an empty string, removes) the organisation's
    qualified-invoice registration number; invoices issued afterwards carry it. A number that
    is not T + 13 digits or whose check digit is wrong: 422."""
    return organization_out(
        set_registration_number(get_db(), g.caller.actor, body.qualified_invoice_number)
    )


@api_bp.put("/organization/registry-id")
@operation(
    "Set the registration number of an organisation outside Japan",
    body=RegistryIdIn,
    responses={200: OrganizationOut},
    errors=(403,),
    tag="organizations",
)
def put_registry_id(body: RegistryIdIn):
    """An administrator of an organisation outside Japan corrects its registration number in
    its country. A number of the wrong shape for the country, or a Japanese organisation
    (identified by its corporate number): 422."""
    return organization_out(set_registry_id(get_db(), g.caller.actor, body.registry_id))
