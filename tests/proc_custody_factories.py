"""Test data of the chain-of-custody ledger: a copper offtake contract whose deliveries feed
the buyer's balance, direct credits for ledger rules, and certificates of assays."""

import itertools
from datetime import date
from decimal import Decimal

from factories import as_actor, make_member, make_org
from operations_factories import copper_version, make_active_contract, make_copper_assay
from sqlmodel import Session, select

from contracts.deliveries import DeliveryIn, record_delivery
from contracts.models import Delivery
from contracts.obligations import open_month
from participants.actors import SYSTEM
from participants.models import Organization
from quality.catalogue import seed_catalogue
from quality.custody import credit_delivery
from quality.models import Assay, Certificate, CustodyAccount, CustodyEntry

TODAY = date(2027, 1, 25)
_delivery_ids = itertools.count(900_000)  # credits without a delivery row (source ids only)


class CustodyWorld:
    """A recycler selling copper No.2 to a manufacturer on an active contract (month 2027-01
    open), another manufacturer, and members who act for each."""

    def __init__(self, db: Session):
        seed_catalogue(db)
        self.db = db
        self.version = copper_version(db)
        self.seller = make_org(db, kind="recycler")
        self.buyer = make_org(db, kind="manufacturer")
        self.other = make_org(db, kind="manufacturer")
        self.seller_trader = as_actor(db, make_member(db, self.seller, roles="trader"))
        self.buyer_inspector = as_actor(db, make_member(db, self.buyer, roles="inspector"))
        self.other_trader = as_actor(db, make_member(db, self.other, roles="trader"))
        self.contract = make_active_contract(db, self.seller, self.buyer, self.version)
        open_month(db, SYSTEM, date(2027, 1, 1))
        db.commit()

    def record(self, cu: str = "96.1", u: str = "0.2", net_t: str = "24.5") -> Delivery:
        assay = make_copper_assay(self.db, self.seller, cu_pct=cu, uncertainty=u, lab="Seller Lab")
        data = DeliveryIn(
            contract_id=self.contract.id,
            delivered_on=date(2027, 1, 20),
            net_t=net_t,
            assay_id=assay.id,
        )
        delivery = record_delivery(self.db, self.seller_trader, data, (), TODAY)
        self.db.commit()
        return delivery


def credit(
    db: Session,
    org: Organization,
    kg: int,
    material: str = "copper_scrap",
    share: str = "100",
    assay_id: int | None = None,
) -> CustodyEntry:
    """Credit `org` as if a delivery of `kg` net had been accepted (committed)."""
    entry = credit_delivery(
        db,
        organization_id=org.id,
        material_code=material,
        delivery_id=next(_delivery_ids),
        net_kg=kg,
        recycled_share_pct=Decimal(share),
        assay_id=assay_id,
    )
    db.commit()
    return entry


def account(db: Session, org: Organization, material: str = "copper_scrap") -> CustodyAccount:
    db.expire_all()
    return db.exec(
        select(CustodyAccount).where(
            CustodyAccount.organization_id == org.id, CustodyAccount.material_code == material
        )
    ).one()


def entries(db: Session, org: Organization) -> list[CustodyEntry]:
    db.expire_all()
    return list(
        db.exec(
            select(CustodyEntry)
            .where(CustodyEntry.organization_id == org.id)
            .order_by(CustodyEntry.id)
        ).all()
    )


def make_certificate(db: Session, assay: Assay, issuer: Organization, version_id: int) -> str:
    """A certificate of `assay` issued by `issuer` (content not checked here)."""
    cert_id = f"JK-TEST-{assay.id:06d}-{issuer.id:04d}"
    db.add(
        Certificate(
            id=cert_id,
            assay_id=assay.id,
            version_id=version_id,
            issuer_org_id=issuer.id,
            content_json="{}",
            sha256="0" * 64,
        )
    )
    db.commit()
    return cert_id
