"""Green-purchasing reports: an agency's results of a fiscal year by category, as a page and as
a CSV file for the ministry's yearly results form (UTF-8 with a byte-order mark, so that Excel
in Japan opens it as UTF-8; headers in the reader's language).

`market.reports` decides who reads which agency's report: an agency's own members, the
operator any agency's (chosen on the page); another agency's answers 404 as in the API.
"""

import csv
import io
from dataclasses import dataclass

from flask import Blueprint, Response, flash, render_template, request
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from flask_login import login_required
from pydantic import ValidationError

from market.reports import (
    FIRST_FISCAL_YEAR,
    LAST_FISCAL_YEAR,
    CategoryReportOut,
    FiguresOut,
    GreenPurchasingReportOut,
    ReportQuery,
    current_fiscal_year,
    green_purchasing_report,
    reportable_agencies,
)
from web.auth import current_actor
from web.db import get_db
from web.validation import InputInvalid, input_errors

bp = Blueprint("reports", __name__)

SOURCE_LABELS = {
    "direct": _l("Direct purchases"),
    "tender": _l("Tender orders"),
    "total": _l("Total"),
}
# The CSV's columns: (header, value of a row). Tonnes and percentages as the API gives them.
CSV_HEADERS = [
    _l("Fiscal year"),
    _l("Agency"),
    _l("Category code"),
    _l("Category"),
    _l("Classification"),
    _l("Procurement route"),
    _l("Orders"),
    _l("Value, tax excluded (yen)"),
    _l("Value, tax included (yen)"),
    _l("Product mass (t)"),
    _l("Recycled content (t)"),
    _l("Recycled share (percent)"),
    _l("Post-consumer content (t)"),
    _l("Recommended minimum, post-consumer (percent)"),
    _l("Recommended minimum, total (percent)"),
    _l("Orders meeting the minimum"),
    _l("Orders below the minimum"),
    _l("Mass meeting the minimum (t)"),
    _l("Share meeting the minimum (percent)"),
    _l("Source of the minimum"),
]


@dataclass
class ReportRow:
    """One line of the table and of the CSV: a category's source, its total, or a total."""

    category: CategoryReportOut | None
    source: str  # direct | tender | total
    figures: FiguresOut
    subtotal: bool  # the category's (or the report's) total line


def report_rows(report: GreenPurchasingReportOut) -> list[ReportRow]:
    """Per category: its direct and tender lines (those with orders) and its total; then the
    report's direct, tender and grand totals."""
    rows: list[ReportRow] = []
    for category in report.categories:
        for source in ("direct", "tender"):
            figures = getattr(category, source)
            if figures.orders:
                rows.append(ReportRow(category, source, figures, False))
        rows.append(ReportRow(category, "total", category.total, True))
    for source in ("direct", "tender", "total"):
        rows.append(ReportRow(None, source, getattr(report, source), source == "total"))
    return rows


def _is_japanese() -> bool:
    return str(get_locale()) == "ja"


def fiscal_year_label(fiscal_year: int) -> str:
    """FY2026 in the reader's language: "FY2026" or "2026年度（令和8年度）"."""
    if not _is_japanese():
        return gettext("FY%(year)s", year=fiscal_year)
    reiwa = fiscal_year - 2018
    era = f"（令和{'元' if reiwa == 1 else reiwa}年度）" if reiwa >= 1 else ""
    return f"{fiscal_year}年度{era}"


def _name(record, prefix: str = "name") -> str:
    return getattr(record, f"{prefix}_ja" if _is_japanese() else f"{prefix}_en")


def _query(strict: bool) -> ReportQuery:
    """?fy=2026&organization_id=… from the query string; without fy, this fiscal year.
    Nonsense: the page says so and shows this year; the CSV answers 400."""
    raw = {"fiscal_year": request.args.get("fy") or str(current_fiscal_year())}
    if request.args.get("organization_id"):
        raw["organization_id"] = request.args["organization_id"]
    try:
        return ReportQuery.model_validate(raw)
    except ValidationError as exc:
        if strict:
            raise InputInvalid(input_errors(exc, {"fiscal_year": "fy"}), status=400) from None
        flash(
            gettext(
                "Choose a fiscal year from %(first)s to %(last)s and an agency from the list.",
                first=FIRST_FISCAL_YEAR,
                last=LAST_FISCAL_YEAR,
            ),
            "error",
        )
        return ReportQuery(fiscal_year=current_fiscal_year())


@bp.get("/procurement/reports")
@login_required
def reports():
    db, actor = get_db(), current_actor()
    agencies = reportable_agencies(db, actor)  # 403 for those who read no report
    query = _query(strict=False)
    report = None
    if query.organization_id is not None or not actor.is_operator:
        report = green_purchasing_report(db, actor, query.fiscal_year, query.organization_id).out()
    return render_template(
        "reports/green_purchasing.html",
        query=query,
        agencies=agencies,
        report=report,
        rows=report_rows(report) if report else [],
        source_labels={k: str(v) for k, v in SOURCE_LABELS.items()},
        fiscal_year_label=fiscal_year_label,
        name=_name,
        choose_agency=actor.is_operator,
    )


def _csv_cell(value: object) -> str:
    """A cell as text; text that a spreadsheet would run as a formula is quoted with '."""
    text = "" if value is None else str(value)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + text
    return text


def report_csv(report: GreenPurchasingReportOut) -> str:
    """The report as CSV text (headers in the reader's language; CRLF line ends)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([str(h) for h in CSV_HEADERS])
    agency = _name(report, "organization_name")
    for row in report_rows(report):
        c, f = row.category, row.figures
        writer.writerow(
            [
                _csv_cell(v)
                for v in (
                    report.fiscal_year,
                    agency,
                    c.code if c else "",
                    _name(c) if c else gettext("All categories"),
                    f"{c.classification_scheme} {c.classification_id}" if c else "",
                    SOURCE_LABELS[row.source],
                    f.orders,
                    f.value_jpy,
                    f.value_total_jpy,
                    f.mass_t,
                    f.recycled_t,
                    f.recycled_share_pct,
                    f.post_consumer_t,
                    c.min_post_consumer_pct if c else "",
                    c.min_total_pct if c else "",
                    f.met_orders,
                    f.unmet_orders,
                    f.met_t,
                    f.met_share_pct,
                    c.source if c else "",
                )
            ]
        )
    return out.getvalue()


@bp.get("/procurement/reports.csv")
@login_required
def reports_csv():
    query = _query(strict=True)
    report = green_purchasing_report(
        get_db(), current_actor(), query.fiscal_year, query.organization_id
    ).out()
    body = "\ufeff" + report_csv(report)
    filename = f"green-purchasing-FY{report.fiscal_year}-{report.organization_id}.csv"
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )
