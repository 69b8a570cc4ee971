"""Market statistics: the public page (no login) with tables, charts and maps of Japan, its CSV,
and an organisation's own figures beside the published market (login).

The figures and their disclosure control come from `contracts.statistics` (rules:
`market.disclosure`); a suppressed cell is shown as "suppressed", never as a number.
"""

import csv
import io
from collections import defaultdict
from datetime import date

from flask import Blueprint, Response, current_app, flash, render_template, request
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from pydantic import ValidationError
from sqlmodel import select

from contracts.statistics import (
    StatisticsOut,
    StatisticsQuery,
    StatisticsTonnes,
    own_statistics,
    statistics_with_map,
)
from participants.errors import ValidationFailed
from participants.geography import BY_CODE, REGION_BY_CODE, REGIONS
from quality.models import Material
from web.auth import current_actor
from web.charts import japan_map, series_chart
from web.config import disclosure_rules
from web.db import get_db
from web.formatting import t
from web.i18n import translate_error
from web.labels import LABELS
from web.validation import InputInvalid, input_errors

bp = Blueprint("statistics", __name__)

# The names live in web.labels (kinds statistics_family, statistics_measure).
FAMILY_LABELS = LABELS["statistics_family"]
MEASURE_LABELS = LABELS["statistics_measure"]
CSV_HEADERS = [
    _l("Measure"),
    _l("Month"),
    _l("Family"),
    _l("Material"),
    _l("Region"),
    _l("Prefecture"),
    _l("Value"),
    "suppressed",
]
QUERY_FIELDS = ("from_month", "to_month", "material", "family", "by")


def _is_japanese() -> bool:
    return str(get_locale()) == "ja"


def _query(strict: bool) -> StatisticsQuery:
    """The filters from the query string (empty values left out). The CSV answers bad input
    with 422; the page says what is wrong and shows the default selection."""
    raw = {k: request.args[k] for k in QUERY_FIELDS if request.args.get(k)}
    try:
        return StatisticsQuery.model_validate(raw)
    except ValidationError as exc:
        if strict:
            raise InputInvalid(input_errors(exc)) from None
        for error in input_errors(exc):
            flash(f"{error['field']}: {error['message']}", "error")
        return StatisticsQuery()


def _read(query: StatisticsQuery, strict: bool):
    db = get_db()
    rules = disclosure_rules(current_app.config)
    try:
        return statistics_with_map(db, rules, query)
    except ValidationFailed as err:
        if strict:
            raise
        flash(translate_error(err), "error")
        return statistics_with_map(db, rules, StatisticsQuery())


def place_name(region: str | None, prefecture: str | None) -> str:
    if prefecture:
        p = BY_CODE[prefecture]
        return p.name_ja if _is_japanese() else p.name_en
    if region:
        r = REGION_BY_CODE[region]
        return r.name_ja if _is_japanese() else r.name_en
    return gettext("All Japan")


def _materials() -> dict[str, Material]:
    return {m.code: m for m in get_db().exec(select(Material).order_by(Material.code))}


def material_name(materials: dict, family: str | None, material: str | None) -> str:
    if material:
        m = materials.get(material)
        return (m.name_ja if _is_japanese() else m.name_en) if m else material
    if family:
        return str(FAMILY_LABELS.get(family, family))
    return gettext("All materials")


def _geo_of(row) -> str:
    return row.prefecture or (f"r:{row.region}" if row.region else "JP")


def is_top(row, out) -> bool:
    """Whether a row is of the selected material, family or all materials (not a part)."""
    if out.material:
        return row.material == out.material
    if out.family:
        return row.material is None and row.family == out.family
    return row.material is None and row.family is None


def _grid(out: StatisticsOut):
    """The selected material (or family, or all)'s contracted rows as month × place grids."""
    tonnes: dict = defaultdict(dict)
    prices: dict = defaultdict(dict)
    places: list[str] = []
    for row in out.contracted:
        if not is_top(row, out):
            continue
        geo = _geo_of(row)
        if geo not in places:
            places.append(geo)
        tonnes[row.month][geo] = row.contracted_t
        prices[row.month][geo] = row.price_jpy_per_t
    order = ["JP"] + [f"r:{r.code}" for r in REGIONS] + [p for r in REGIONS for p in r.prefectures]
    places.sort(key=order.index)
    return tonnes, prices, places


def _place_label(geo: str) -> str:
    if geo == "JP":
        return place_name(None, None)
    if geo.startswith("r:"):
        return place_name(geo[2:], None)
    return place_name(None, geo)


def _series(months: list[date], cells: dict) -> tuple[list, list]:
    values, hidden = [], []
    for month in months:
        figure = cells.get(month, {}).get("JP")
        hidden.append(bool(figure and figure.suppressed))
        if figure is None or figure.suppressed:
            values.append(None)
        else:
            values.append(float(figure.value))
    return values, hidden


def _map_desc(data: dict[str, tuple[bool, float | None]], names: dict[str, str]) -> str:
    """The map's text alternative: every prefecture with a figure, highest first, the
    suppressed ones, and that the others have no data."""
    shown = sorted(
        ((v, code) for code, (s, v) in data.items() if not s and v), key=lambda x: (-x[0], x[1])
    )
    hidden = sorted(code for code, (s, _v) in data.items() if s)
    parts = [
        gettext(
            "Prefectures with figures (%(n)s), from the highest: %(figures)s.",
            n=len(shown),
            figures=gettext(", ").join(f"{names[c]} {t(v, 't')}" for v, c in shown),
        )
        if shown
        else gettext("No prefecture has a figure.")
    ]
    if hidden:
        parts.append(
            gettext(
                "Suppressed (hatched): %(names)s.",
                names=gettext(", ").join(names[c] for c in hidden),
            )
        )
    parts.append(gettext("The other prefectures have no data."))
    # Sentences ending in 。 (Japanese) follow each other without a space.
    return "".join(p if p.endswith("。") else p + " " for p in parts).strip()


def _map_svg(figures: dict[str, StatisticsTonnes], title: str, ident: str):
    names = {code: place_name(None, code) for code in BY_CODE}
    data = {
        code: (f.suppressed, None if f.suppressed else float(f.value))
        for code, f in figures.items()
    }
    labels = {
        "title": title,
        "desc": _map_desc(data, names),
        "suppressed": gettext("suppressed"),
        "none": gettext("no data"),
    }
    return japan_map(data, names, labels, ident)


def _months(out: StatisticsOut) -> list[date]:
    months, month = [], out.from_month
    while month <= out.to_month:
        months.append(month)
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


@bp.get("/statistics")
def statistics():
    """The public market statistics (no login)."""
    query = _query(strict=False)
    out, maps = _read(query, strict=False)
    materials = _materials()
    tonnes, prices, places = _grid(out)
    months = _months(out)
    t_values, t_hidden = _series(months, tonnes)
    p_values, p_hidden = _series(months, prices)
    selected = material_name(materials, out.family, out.material)
    charts = {
        "tonnes": series_chart(
            months,
            t_values,
            t_hidden,
            {"value": gettext("Contracted tonnes"), "suppressed": gettext("suppressed")},
        ),
        "price": series_chart(
            months,
            p_values,
            p_hidden,
            {"value": gettext("Average contract price"), "suppressed": gettext("suppressed")},
            yen=True,
        ),
    }
    map_svgs = {
        "supply": _map_svg(
            maps["supply"], gettext("Open supply by prefecture: %(m)s", m=selected), "map-supply"
        ),
        "demand": _map_svg(
            maps["demand"], gettext("Open demand by prefecture: %(m)s", m=selected), "map-demand"
        ),
    }
    open_rows = [r for r in out.open_market if is_top(r, out)]
    return render_template(
        "statistics/public.html",
        out=out,
        query=query,
        materials=materials,
        families={k: str(v) for k, v in FAMILY_LABELS.items()},
        selected=selected,
        months=months,
        tonnes_grid=tonnes,
        prices_grid=prices,
        places=places,
        place_label=_place_label,
        place_name=place_name,
        charts=charts,
        maps=map_svgs,
        open_rows=open_rows,
        csv_args={k: v for k, v in request.args.items() if k in QUERY_FIELDS and v},
    )


def _csv_value(figure) -> tuple[str, str]:
    if figure is None:
        return "", ""
    if figure.suppressed:
        return "", "1"
    return str(figure.value), "0"


def statistics_csv_text(out: StatisticsOut) -> str:
    """One row per published or suppressed cell (suppressed: empty value, `suppressed` 1)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(h) for h in CSV_HEADERS])
    for row in out.contracted:
        month = row.month.strftime("%Y-%m") if row.month else "all"
        place = (row.family or "", row.material or "", row.region or "", row.prefecture or "")
        for measure, figure in (
            ("contracted_t", row.contracted_t),
            ("price_jpy_per_t", row.price_jpy_per_t),
        ):
            if figure is not None:
                writer.writerow([measure, month, *place, *_csv_value(figure)])
    for row in out.open_market:
        place = (row.family or "", row.material or "", row.region or "", row.prefecture or "")
        for measure, figure in (("supply_t", row.supply_t), ("demand_t", row.demand_t)):
            if figure is not None:
                writer.writerow([measure, "", *place, *_csv_value(figure)])
    return buffer.getvalue()


@bp.get("/statistics.csv")
def statistics_csv():
    """The same cells as the page and the API, as CSV (UTF-8 with a byte-order mark)."""
    out, _maps = _read(_query(strict=True), strict=True)
    return Response(
        "\ufeff" + statistics_csv_text(out),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="junkan-statistics.csv"'},
    )


@bp.get("/organization/statistics")
@login_required
def own():
    """The organisation's own tonnes and prices beside the published market figures."""
    query = _query(strict=False)
    db, actor = get_db(), current_actor()
    rules = disclosure_rules(current_app.config)
    try:
        out = own_statistics(db, actor, rules, query)
    except ValidationFailed as err:
        flash(translate_error(err), "error")
        out = own_statistics(db, actor, rules, StatisticsQuery())
    return render_template(
        "statistics/own.html",
        out=out,
        query=query,
        materials=_materials(),
        families={k: str(v) for k, v in FAMILY_LABELS.items()},
        place_name=place_name,
        material_name=material_name,
    )
