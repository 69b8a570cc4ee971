"""Performance dashboards: one contract month by month, and all of an organisation's contracts."""

from flask import Blueprint, render_template
from flask_babel import gettext
from flask_login import login_required

from contracts.performance import contract_performance, organization_performance, overall
from market.listings import kg_to_tonnes
from participants.models import Organization
from web.auth import current_actor
from web.charts import money_chart, volume_chart
from web.db import get_db
from web.labels import LABELS

bp = Blueprint("performance", __name__)

OBLIGATION_STATUS_NAMES = LABELS["obligation_status"]  # templates: |label("obligation_status")


def _t(kg: int) -> float:
    return float(kg_to_tonnes(kg))


def _charts(perf) -> dict:
    months = [m.month for m in perf.months]
    if not months:
        return {}
    return {
        "volume": volume_chart(
            months,
            [_t(m.delivered_kg) for m in perf.months],
            [_t(m.due_kg) for m in perf.months],
            [_t(m.min_kg) for m in perf.months],
            [_t(m.max_kg) for m in perf.months],
            {
                "band": gettext("Tolerance band"),
                "delivered": gettext("Delivered (accepted)"),
                "due": gettext("Due"),
            },
        ),
        "money": money_chart(
            months,
            [m.invoiced_jpy for m in perf.months],
            [m.paid_jpy for m in perf.months],
            {"invoiced": gettext("Invoiced"), "paid": gettext("Paid")},
        ),
    }


@bp.get("/contracts/<int:contract_id>/performance")
@login_required
def contract(contract_id: int):
    db = get_db()
    perf = contract_performance(db, current_actor(), contract_id)
    orgs = {
        o.id: o
        for o in (
            db.get(Organization, perf.contract.seller_org_id),
            db.get(Organization, perf.contract.buyer_org_id),
        )
    }
    return render_template("performance/contract.html", perf=perf, charts=_charts(perf), orgs=orgs)


@bp.get("/performance")
@login_required
def organization():
    db = get_db()
    actor = current_actor()
    perfs = organization_performance(db, actor)
    partners = {}
    ids = {p.contract.seller_org_id for p in perfs} | {p.contract.buyer_org_id for p in perfs}
    if ids:
        from sqlmodel import col, select

        partners = {
            o.id: o for o in db.exec(select(Organization).where(col(Organization.id).in_(ids)))
        }
    return render_template(
        "performance/organization.html",
        perfs=perfs,
        total=overall(perfs),
        partners=partners,
        own_org_id=actor.organization_id,
    )
