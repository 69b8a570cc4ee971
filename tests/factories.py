"""Factories for test data: verified organisations and members in one call."""

import itertools
from datetime import date

from sqlmodel import Session

from market.models import OfftakeRequest, SupplyListing
from participants.accounts import corporate_number_check_digit, hash_password
from participants.actors import Actor, load_actor
from participants.models import Member, Organization, OrgStatus

PASSWORD = "correct-horse-battery"
_seq = itertools.count(1)


def corporate_number(seed: int) -> str:
    base = f"{seed:012d}"
    return f"{corporate_number_check_digit(base)}{base}"


def make_org(
    db: Session,
    kind: str = "recycler",
    status: str = OrgStatus.VERIFIED,
    prefecture: str = "11",
    **fields,
) -> Organization:
    n = next(_seq)
    org = Organization(
        kind=kind,
        name_ja=fields.pop("name_ja", f"テスト組織{n}"),
        name_en=fields.pop("name_en", f"Test Org {n}"),
        corporate_number=fields.pop("corporate_number", corporate_number(9000000 + n)),
        prefecture=prefecture,
        status=status,
        lat=fields.pop("lat", 35.86),
        lon=fields.pop("lon", 139.65),
        **fields,
    )
    db.add(org)
    db.commit()
    return org


def make_member(
    db: Session,
    org: Organization,
    roles: str = "admin trader signatory",
    email: str | None = None,
    locale: str = "en",
) -> Member:
    n = next(_seq)
    member = Member(
        organization_id=org.id,
        email=email or f"member{n}@example.jp",
        name=f"Member {n}",
        password_hash=hash_password(PASSWORD),
        roles=roles,
        locale=locale,
    )
    db.add(member)
    db.commit()
    return member


def login(client, email: str, password: str = PASSWORD):
    """Log a test client in through the login form."""
    return client.post("/login", data={"email": email, "password": password})


def as_actor(db: Session, member: Member) -> Actor:
    """The member as the domain's acting member (organisation state as stored now)."""
    return load_actor(db, member.id)


def demo_token(app, email: str) -> dict:
    """A bearer header for a demo login (password `junkan-demo`)."""
    from demo import DEMO_PASSWORD

    r = app.test_client().post("/api/v1/tokens", json={"email": email, "password": DEMO_PASSWORD})
    assert r.status_code == 201, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def make_listing(db: Session, org: Organization, version_id: int, **fields) -> SupplyListing:
    """An open 100 t/month HDPE listing of `org` from Saitama at ¥70,000/t (fields override)."""
    values = dict(
        organization_id=org.id,
        status="open",
        title="HDPE bales",
        material_code="hdpe",
        standard_version_id=version_id,
        monthly_kg=100_000,
        min_kg_per_contract=20_000,
        available_from=date(2027, 1, 1),
        max_term_months=12,
        lat=35.86,
        lon=139.65,
        incoterm="FCA",
        incoterm_place="Saitama yard",
        price_kind="fixed",
        fixed_price_jpy_per_t=70_000,
        data_quality_level=1,
        expires_on=date(2099, 1, 1),
    )
    listing = SupplyListing(**(values | fields))
    db.add(listing)
    db.commit()
    return listing


def make_request(db: Session, org: Organization, version_id: int, **fields) -> OfftakeRequest:
    """An open 60 t/month HDPE request of `org` delivered to Yokohama, ceiling ¥87,654/t."""
    values = dict(
        organization_id=org.id,
        status="open",
        title="HDPE for crates",
        material_code="hdpe",
        standard_version_id=version_id,
        accept_stricter=True,
        monthly_kg=60_000,
        start_month=date(2027, 3, 1),
        term_months=6,
        delivery_place="Yokohama",
        lat=35.45,
        lon=139.64,
        price_kind="fixed",
        max_price_jpy_per_t=87_654,
        expires_on=date(2099, 1, 1),
    )
    request = OfftakeRequest(**(values | fields))
    db.add(request)
    db.commit()
    return request


# A No.2 copper lot that conforms to ISRI Birch/Cliff, as the API body and as the page form.
COPPER_ASSAY_JSON = {
    "lot_ref": "KWG-2026-10-A",
    "material": "copper_scrap",
    "lab_name": "Japan Assay Centre",
    "lab_accredited": True,
    "method": "JIS H 1051",
    "sampled_on": "2026-10-01",
    "reported_on": "2026-10-03",
    "tonnes": "24.5",
    "evidence": {
        "declared": {"composition": "No.2 copper"},
        "inspections": {
            "no_brass": True,
            "no_excess_oil": True,
            "no_insulation": True,
            "no_burnt_brittle_wire": True,
        },
    },
    "results": [{"parameter": "cu_pct", "value": "96.1", "uncertainty": "0.2"}],
}
COPPER_ASSAY_FORM = {
    "lot_ref": "KWG-2026-10-A",
    "material": "copper_scrap",
    "tonnes": "24.5",
    "lab_name": "Japan Assay Centre",
    "lab_accredited": "y",
    "method": "JIS H 1051",
    "sampled_on": "2026-10-01",
    "reported_on": "2026-10-03",
    "composition": "No.2 copper",
    "results-0-parameter": "cu_pct",
    "results-0-value": "96.1",
    "results-0-uncertainty": "0.2",
}
