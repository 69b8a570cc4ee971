"""Factories for test data: verified organisations and members in one call."""

import itertools

from sqlmodel import Session

from market.models import Member, Organization, OrgStatus
from market.participants import corporate_number_check_digit, hash_password

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
