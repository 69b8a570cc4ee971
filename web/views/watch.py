"""The operator's export watch page: anomalies, flows of critical scrap leaving and entering
Japan (chart and table), consents expiring within 30 and 90 days (`market.watch`,
`contracts.watch`; the API answers the same figures)."""

from collections import defaultdict

from flask import Blueprint, current_app, render_template
from flask_babel import gettext
from flask_login import login_required

from contracts.watch import anomalies, expiring_records, flows
from market.watch import EXPIRY_WINDOWS
from participants.accounts import organizations_by_id
from participants.actors import OPERATE_MARKETPLACE
from participants.columns import tokyo_today
from web.auth import current_actor
from web.charts import flows_chart
from web.db import get_db
from web.labels import label

bp = Blueprint("watch", __name__)


def floor_pct() -> int:
    return int(current_app.config.get("WATCH_PRICE_FLOOR_PCT", 70))


def finding_params(params: dict) -> dict:
    """The finding's parameters as a person reads them: materials and parameters by name,
    the evidence and the price basis in words (the domain keeps codes)."""
    shown = dict(params)
    for key in ("declared", "shown"):
        if key in shown:
            shown[key] = label(shown[key], "material")
    if "parameters" in shown:
        codes = [c.strip() for c in str(shown["parameters"]).split(",") if c.strip()]
        shown["parameters"] = gettext(", ").join(label(c, "parameter") for c in codes)
    evidence = str(shown.get("evidence", ""))
    kind, _, number = evidence.partition(" ")
    if kind == "assay":
        shown["evidence"] = gettext("assay #%(id)s", id=number)
    elif kind == "certificate":
        shown["evidence"] = gettext("certificate %(id)s", id=number)
    basis = str(shown.get("basis", ""))
    if basis == "index":
        shown["basis"] = gettext("the material's price index")
    elif basis.startswith("median of "):
        shown["basis"] = gettext("median of %(n)s listings and contracts", n=basis[10:])
    return shown


@bp.get("/watch")
@login_required
def watch():
    db, actor = get_db(), current_actor()
    OPERATE_MARKETPLACE.check(actor)
    today = tokyo_today()
    pct = floor_pct()
    found = anomalies(db, actor, today, pct)
    flow_rows = flows(db, actor)
    expiring = expiring_records(db, actor, today, max(EXPIRY_WINDOWS))
    org_ids = {r.organization_id for r in expiring} | {a.organization_id for a in found}
    orgs = organizations_by_id(db, org_ids)
    chart = None
    if flow_rows:
        by_month: dict = defaultdict(lambda: [0, 0, 0, 0])
        for f in flow_rows:
            cell = by_month[f.month]
            i = 0 if f.direction == "export" else 1
            cell[i] += f.contracted_kg
            cell[i + 2] += f.delivered_kg
        months = sorted(by_month)
        chart = flows_chart(
            months,
            [by_month[m][0] / 1000 for m in months],
            [by_month[m][1] / 1000 for m in months],
            [by_month[m][2] / 1000 for m in months],
            [by_month[m][3] / 1000 for m in months],
            {
                "export": gettext("Export (contracted)"),
                "import": gettext("Import (contracted)"),
                "delivered": gettext("Delivered"),
            },
        )
    return render_template(
        "watch/index.html",
        anomalies=[(a, gettext(a.message, **finding_params(a.params))) for a in found],
        floor_pct=pct,
        flows=flow_rows,
        chart=chart,
        expiring=[(r, (r.valid_until - today).days) for r in expiring],
        windows=EXPIRY_WINDOWS,
        orgs=orgs,
        today=today,
    )
