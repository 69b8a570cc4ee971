"""Charts drawn on the server with matplotlib, as SVG images (no script: the CSP holds).

Axes carry round tick values (1, 2, 2.5 or 5 × 10^k) from matplotlib's MaxNLocator; labels
are text in the page's language, and each chart comes with a table of the same figures on
its page, for screen readers and for people who want the numbers.
"""

import base64
import io
import json
import logging
import math
import re
import unicodedata
import warnings
import xml.etree.ElementTree as ET  # noqa: N817
from collections.abc import Sequence
from datetime import date
from functools import lru_cache
from pathlib import Path

import matplotlib

matplotlib.use("svg")
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: the browser's fonts draw it
matplotlib.rcParams["font.family"] = ["Noto Sans CJK JP", "DejaVu Sans", "sans-serif"]
# Without a CJK font installed matplotlib measures with the fallback (the browser draws the
# text); its "font not found" line on every chart says nothing new.
logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)

from markupsafe import Markup  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Patch, PathPatch, Rectangle  # noqa: E402
from matplotlib.path import Path as MplPath  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

from web.formatting import tonnes  # noqa: E402

ROUND_STEPS = [1, 2, 2.5, 5, 10]
INK, BAND, ACCENT, MUTED = "#1d3b34", "#cfe5dd", "#2f7d66", "#8a9a95"


def round_ticks(low: float, high: float, n: int = 5) -> list[float]:
    """Round tick values covering low…high (what the charts' y axes use)."""
    return list(MaxNLocator(nbins=n, steps=ROUND_STEPS).tick_values(low, high))


def _svg_data_uri(fig: Figure) -> str:
    buffer = io.StringIO()
    with warnings.catch_warnings():
        # Text stays text (svg.fonttype none): the browser draws Japanese labels with its own
        # fonts; matplotlib only measures them, with a fallback when no CJK font is installed.
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})
    return "data:image/svg+xml;base64," + base64.b64encode(buffer.getvalue().encode()).decode()


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(7.2, 2.8), dpi=96)
    ax = fig.subplots()
    ax.spines[["top", "right"]].set_visible(False)
    ax.yaxis.set_major_locator(MaxNLocator(nbins=5, steps=ROUND_STEPS))
    ax.grid(axis="y", color="#dde3e1", linewidth=0.8)
    ax.set_axisbelow(True)
    ax.tick_params(colors=INK, labelsize=9)
    return fig, ax


def _month_labels(months: Sequence[date]) -> list[str]:
    return [m.strftime("%Y-%m") for m in months]


def volume_chart(
    months: Sequence[date],
    delivered_t: Sequence[float],
    due_t: Sequence[float],
    min_t: Sequence[float],
    max_t: Sequence[float],
    labels: dict[str, str],
) -> str:
    """Delivered tonnes a month as bars, the tolerance band shaded, the due tonnes as a line."""
    fig, ax = _figure()
    x = list(range(len(months)))
    ax.fill_between(x, min_t, max_t, step="mid", color=BAND, label=labels["band"])
    ax.bar(x, delivered_t, width=0.6, color=ACCENT, label=labels["delivered"])
    ax.plot(x, due_t, color=INK, linewidth=1.5, marker="_", markersize=14, label=labels["due"])
    ax.set_xticks(x, _month_labels(months), rotation=45 if len(months) > 8 else 0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f} t"))
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=9, loc="upper left", ncols=3)
    return _svg_data_uri(fig)


def money_chart(
    months: Sequence[date], invoiced: Sequence[int], paid: Sequence[int], labels: dict[str, str]
) -> str:
    """Invoiced and paid yen a month, side by side."""
    fig, ax = _figure()
    x = list(range(len(months)))
    ax.bar([i - 0.2 for i in x], invoiced, width=0.4, color=MUTED, label=labels["invoiced"])
    ax.bar([i + 0.2 for i in x], paid, width=0.4, color=ACCENT, label=labels["paid"])
    ax.set_xticks(x, _month_labels(months), rotation=45 if len(months) > 8 else 0)
    ax.yaxis.set_major_formatter(FuncFormatter(_yen_tick))
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=9, loc="upper left", ncols=2)
    return _svg_data_uri(fig)


def _yen_tick(value: float, _pos) -> str:
    """¥ with thousands separators; millions as ¥1.5M so labels stay short."""
    if abs(value) >= 1_000_000:
        millions = value / 1_000_000
        text = f"{millions:,.1f}".rstrip("0").rstrip(".")
        return f"¥{text}M"
    return f"¥{value:,.0f}"


def flows_chart(
    months: Sequence[date],
    export_t: Sequence[float],
    import_t: Sequence[float],
    delivered_export_t: Sequence[float],
    delivered_import_t: Sequence[float],
    labels: dict[str, str],
) -> str:
    """Contracted tonnes leaving (export) and entering (import) Japan a month as bars side by
    side, the delivered tonnes of each as markers on them."""
    fig, ax = _figure()
    x = list(range(len(months)))
    ax.bar([i - 0.2 for i in x], export_t, width=0.4, color=ACCENT, label=labels["export"])
    ax.bar([i + 0.2 for i in x], import_t, width=0.4, color=MUTED, label=labels["import"])
    ax.plot(
        [i - 0.2 for i in x], delivered_export_t, linestyle="none", marker="_", markersize=14,
        color=INK, label=labels["delivered"],
    )  # fmt: skip
    ax.plot(
        [i + 0.2 for i in x], delivered_import_t, linestyle="none", marker="_", markersize=14,
        color=INK,
    )  # fmt: skip
    ax.set_xticks(x, _month_labels(months), rotation=45 if len(months) > 8 else 0)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f} t"))
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=9, loc="upper left", ncols=3)
    return _svg_data_uri(fig)


# ---------------------------------------------------------------------------------------------
# Market statistics: a time series with gaps, and a choropleth map of Japan's prefectures


def series_chart(
    months: Sequence[date],
    values: Sequence[float | None],
    suppressed: Sequence[bool],
    labels: dict[str, str],
    yen: bool = False,
) -> str:
    """Values a month as a line with markers; a suppressed month is a gap with a hollow mark on
    the axis (its value is not known to the page), a month without data a gap."""
    fig, ax = _figure()
    x = list(range(len(months)))
    ys = [
        v if v is not None and not s else float("nan")
        for v, s in zip(values, suppressed, strict=True)
    ]
    ax.plot(x, ys, color=ACCENT, linewidth=1.8, marker="o", markersize=4, label=labels["value"])
    hidden = [i for i, s in enumerate(suppressed) if s]
    if hidden:
        ax.plot(
            hidden,
            [0] * len(hidden),
            linestyle="none",
            marker="x",
            color=MUTED,
            markersize=7,
            label=labels["suppressed"],
            clip_on=False,
        )
    step = max(1, len(months) // 12)
    ax.set_xticks(x[::step], _month_labels(months)[::step], rotation=45 if len(x) > 8 else 0)
    ax.yaxis.set_major_formatter(
        FuncFormatter(_yen_tick if yen else (lambda v, _pos: f"{v:,.0f} t"))
    )
    ax.set_ylim(bottom=0)
    ax.legend(frameon=False, fontsize=9, loc="upper left", ncols=2)
    return _svg_data_uri(fig)


GEO_FILE = Path(__file__).resolve().parent / "static" / "geo" / "japan-prefectures.topo.json"
MAP_WIDTH = 520.0
# Okinawa drawn as an inset in the Sea of Japan (degrees added to its longitude and latitude).
OKINAWA_SHIFT = (2.0, 13.0)
MAP_CLASSES = ("#e3efe9", "#b5d6c8", "#7fb8a1", "#479578", "#1d6b52")
NO_DATA = "#f6f7f6"


def _plain(name: str) -> str:
    """ "Hyōgo" → "hyogo": names compared without accents and case."""
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _decode_arcs(topo: dict) -> list[list[tuple[float, float]]]:
    """TopoJSON arcs: delta-encoded quantized positions → longitude, latitude."""
    (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
    arcs = []
    for arc in topo["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x += dx
            y += dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def _ring(arcs: list[list[tuple[float, float]]], indices: list[int]) -> list[tuple[float, float]]:
    """A closed ring from arc indices (~i: arc i reversed); shared end points once."""
    points: list[tuple[float, float]] = []
    for i in indices:
        arc = arcs[i] if i >= 0 else arcs[~i][::-1]
        points.extend(arc if not points else arc[1:])
    return points


@lru_cache(maxsize=1)
def prefecture_shapes() -> tuple[tuple[tuple[str, MplPath], ...], tuple[float, float], tuple]:
    """Each prefecture's outline as a matplotlib path (JIS code, path) projected once, the
    map's size and the Okinawa inset's frame (x, y, width, height).

    Equirectangular with longitudes scaled by cos(36°) (fine at Japan's latitudes); x grows
    east and y south (north up once the map's y axis is inverted), in points of the drawing."""
    from participants.geography import PREFECTURES

    topo = json.loads(GEO_FILE.read_text(encoding="utf-8"))
    arcs = _decode_arcs(topo)
    codes = {_plain(p.name_en): p.code for p in PREFECTURES}
    features: list[tuple[str, list[list[tuple[float, float]]]]] = []
    for geometry in next(iter(topo["objects"].values()))["geometries"]:
        name = (geometry.get("properties") or {}).get("name")
        code = codes.get(_plain(name)) if name else None
        if code is None:
            continue  # the unnamed "-99" feature
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        rings = [_ring(arcs, ring) for polygon in polygons for ring in polygon]
        if code == "13":  # the Ogasawara islands, 1,000 km south: left out to keep the map small
            rings = [ring for ring in rings if max(lat for _lon, lat in ring) > 30]
        if code == "47":
            dx, dy = OKINAWA_SHIFT
            rings = [[(lon + dx, lat + dy) for lon, lat in ring] for ring in rings]
        features.append((code, rings))
    lons = [lon for _c, rings in features for ring in rings for lon, _lat in ring]
    lats = [lat for _c, rings in features for ring in rings for _lon, lat in ring]
    kx = math.cos(math.radians(36))
    west, north = min(lons), max(lats)
    scale = MAP_WIDTH / ((max(lons) - west) * kx)
    height = (north - min(lats)) * scale
    shapes = []
    okinawa = [
        (lon, lat) for c, rings in features if c == "47" for ring in rings for lon, lat in ring
    ]
    inset = (
        max(1.0, (min(lo for lo, _ in okinawa) - west) * kx * scale - 6),
        (north - max(la for _, la in okinawa)) * scale - 6,
        (max(lo for lo, _ in okinawa) - min(lo for lo, _ in okinawa)) * kx * scale + 12,
        (max(la for _, la in okinawa) - min(la for _, la in okinawa)) * scale + 12,
    )
    for code, rings in sorted(features):
        vertices: list[tuple[float, float]] = []
        kinds: list[int] = []
        for ring in rings:
            points, last = [], None
            for lon, lat in ring:
                point = (round((lon - west) * kx * scale, 1), round((north - lat) * scale, 1))
                if point != last:
                    points.append(point)
                    last = point
            if len(points) >= 3:
                vertices += [*points, points[0]]
                kinds += [MplPath.MOVETO] + [MplPath.LINETO] * (len(points) - 1)
                kinds.append(MplPath.CLOSEPOLY)
        shapes.append((code, MplPath(vertices, kinds)))
    return tuple(shapes), (MAP_WIDTH, round(height, 1)), tuple(round(v, 1) for v in inset)


def map_classes(values: Sequence[float]) -> list[float]:
    """Upper bounds of up to five classes of the shown values (round numbers, equal steps)."""
    positive = [v for v in values if v > 0]
    if not positive:
        return []
    ticks = [float(t) for t in round_ticks(0, max(positive), len(MAP_CLASSES)) if t > 0]
    return ticks[: len(MAP_CLASSES)] or [max(positive)]


def _class_labels(bounds: Sequence[float], unit: str) -> list[str]:
    """'0–50 t', '50–100 t' …: the bounds are round numbers, written without trailing zeros."""
    lows = [0.0, *bounds[:-1]] if bounds else []
    return [
        f"{tonnes(low, 't')}–{tonnes(high, 't')} {unit}"
        for low, high in zip(lows, bounds, strict=True)
    ]


LEGEND_COLUMNS, LEGEND_ROW = 3, 21.0  # the legend below the map: its rows' height in points
# The text of an inline SVG: the font matplotlib measured with, then the page's Japanese fonts.
SVG_FONTS = "'Noto Sans CJK JP', 'Hiragino Sans', 'Noto Sans JP', system-ui, sans-serif"
HATCH, HATCH_EDGE = "//", "#6b7b76"
MAP_STROKE = "#b3c0bb"  # prefecture borders: visible around "no data" on the page background


def japan_map(
    figures: dict[str, tuple[bool, float | None]],
    names: dict[str, str],
    labels: dict[str, str],
    ident: str,
    unit: str = "t",
) -> Markup:
    """A choropleth map of the prefectures, drawn by matplotlib, as inline SVG (no script, no
    style attribute: the CSP holds).

    `figures`: JIS code → (suppressed, value); absent codes have no data. Suppressed
    prefectures are hatched, and the legend says so. `labels`: "title" (the map's accessible
    name), "suppressed", "none" (no data) and optionally "desc" (its text alternative), in the
    reader's language; `names`: JIS code → prefecture name. Each prefecture is a group with
    the prefecture's name and figure as its <title> (shown on hover). `ident` prefixes every
    id, so that two maps can share a page. Cached on its inputs: a page drawn again with the
    same figures costs no drawing."""
    return Markup(
        _japan_map_svg(
            tuple(sorted(figures.items())),
            tuple(sorted(names.items())),
            tuple(sorted(labels.items())),
            ident,
            unit,
        )
    )


@lru_cache(maxsize=128)  # about 180 kB each: materials × supply/demand × languages
def _japan_map_svg(
    figures: tuple[tuple[str, tuple[bool, float | None]], ...],
    names: tuple[tuple[str, str], ...],
    labels: tuple[tuple[str, str], ...],
    ident: str,
    unit: str,
) -> str:
    data, name_of, label = dict(figures), dict(names), dict(labels)
    shapes, (width, height), (ix, iy, iw, ih) = prefecture_shapes()
    bounds = map_classes([v for s, v in data.values() if not s and v is not None])
    rows = math.ceil((len(bounds) + 2) / LEGEND_COLUMNS)
    legend_height = LEGEND_ROW * rows + 8
    full = height + legend_height
    fig = Figure(figsize=(width / 72, full / 72), dpi=72)  # one point of the SVG a unit
    fig.patch.set_visible(False)
    ax = fig.add_axes((0, legend_height / full, 1, height / full))
    ax.axis("off")
    ax.set_xlim(0, width)
    ax.set_ylim(height, 0)  # y grows south, as the shapes' coordinates
    tooltips = {}
    for code, path in shapes:
        suppressed, value = data.get(code, (False, None))
        style = {"edgecolor": MAP_STROKE, "linewidth": 0.6, "clip_on": False}
        if suppressed:
            patch = PathPatch(path, facecolor=NO_DATA, hatch=HATCH, **style)
            patch.set_hatchcolor(HATCH_EDGE)
            patch.set_hatch_linewidth(1.4)
            text = label["suppressed"]
        elif value is None or value <= 0:
            patch, text = PathPatch(path, facecolor=NO_DATA, **style), label["none"]
        else:
            k = next((i for i, b in enumerate(bounds) if value <= b), len(bounds) - 1)
            patch = PathPatch(path, facecolor=MAP_CLASSES[k], **style)
            text = f"{tonnes(value, 't')} {unit}"
        patch.set_gid(f"{ident}-p{code}")
        tooltips[f"{ident}-p{code}"] = (code, f"{name_of.get(code, code)}: {text}")
        ax.add_artist(patch)  # not add_patch: the limits are set, no need to measure paths
    ax.add_artist(  # the Okinawa inset's frame
        Rectangle(
            (ix, iy), iw, ih, fill=False, edgecolor=MUTED, linewidth=0.8, linestyle=(0, (3, 3)),
            clip_on=False,
        )
    )  # fmt: skip
    frame = {"edgecolor": MUTED, "linewidth": 0.6}
    handles = [
        Patch(facecolor=colour, label=text, **frame)
        for colour, text in zip(MAP_CLASSES, _class_labels(bounds, unit), strict=False)
    ]
    handles.append(Patch(facecolor=NO_DATA, label=label["none"], **frame))
    hatched = Patch(facecolor=NO_DATA, hatch=HATCH, label=label["suppressed"], **frame)
    hatched.set_hatchcolor(HATCH_EDGE)
    handles.append(hatched)
    # matplotlib fills a legend's columns one after the other: this order reads by rows.
    n, cols = len(handles), LEGEND_COLUMNS
    handles = [handles[i] for j in range(cols) for i in range(j, n, cols)]
    legend = fig.legend(
        handles=handles, loc="lower left", bbox_to_anchor=(0, 0), ncols=cols, frameon=False,
        fontsize=14, handlelength=1.1, handleheight=1.1, labelcolor=INK, borderaxespad=0.3,
        columnspacing=1.2,
    )  # fmt: skip
    legend.set_gid(f"{ident}-legend")
    return _inline_svg(fig, ident, label["title"], label.get("desc"), tooltips, "japan-map")


# matplotlib's style properties that SVG also has as attributes (the CSP refuses styles)
SVG_PRESENTATION = {
    "fill", "fill-opacity", "fill-rule", "stroke", "stroke-width", "stroke-opacity",
    "stroke-linejoin", "stroke-linecap", "stroke-dasharray", "stroke-dashoffset",
    "stroke-miterlimit", "opacity", "clip-path", "font-size", "font-family", "font-weight",
    "font-style", "text-anchor",
}  # fmt: skip
SVG_NS, XLINK_NS = "http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"
ET.register_namespace("", SVG_NS)
ET.register_namespace("xlink", XLINK_NS)
_REFERENCE = re.compile(r"url\(#([^)]+)\)")


def _inline_svg(
    fig: Figure,
    ident: str,
    title: str,
    desc: str | None,
    tooltips: dict[str, tuple[str, str]],
    css_class: str,
) -> str:
    """A figure as an <svg> element to put in a page: no style attribute nor <style> (the
    CSP's style-src refuses them: their properties become presentation attributes), no
    metadata, ids only where something refers to them and each prefixed with `ident`,
    role="img" named by its <title> and described by its <desc>, scaling to its box's width
    (a viewBox, no fixed size). `tooltips`: group id → (data-prefecture, <title> text)."""
    buffer = io.StringIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    root = ET.fromstring(buffer.getvalue())
    q = f"{{{SVG_NS}}}"
    referenced = set(_REFERENCE.findall(buffer.getvalue()))
    referenced |= set(re.findall(r'href="#([^"]+)"', buffer.getvalue()))
    for parent in list(root.iter()):
        for child in list(parent):
            if child.tag in (q + "metadata", q + "style"):
                parent.remove(child)
    for defs in root.findall(q + "defs"):
        if len(defs) == 0:
            root.remove(defs)
    for el in list(root.iter()):
        style = el.attrib.pop("style", None)
        if style:
            for declaration in style.split(";"):
                prop, _, value = declaration.partition(":")
                if prop.strip() in SVG_PRESENTATION - {"font-family"}:  # one family: the root's
                    el.set(prop.strip(), value.strip())
        for attr, value in list(el.attrib.items()):
            if "url(#" in value:
                el.set(attr, _REFERENCE.sub(lambda m: f"url(#{ident}-{m[1]})", value))
            elif attr == f"{{{XLINK_NS}}}href" and value.startswith("#"):
                el.set(attr, f"#{ident}-{value[1:]}")
        if el.tag == q + "path" and "d" in el.attrib:  # "M 1 2 \nL 3 4 \nz" → "M1 2L3 4z"
            d = " ".join(el.get("d").split())
            for gap, code in ((" L ", "L"), (" M ", "M"), ("M ", "M"), (" z", "z")):
                d = d.replace(gap, code)
            el.set("d", d)
        if el.get("transform", "").startswith("rotate(-0 "):
            del el.attrib["transform"]
        key = el.get("id")
        if key is None:
            continue
        if key in tooltips:
            code, text = tooltips[key]
            el.set("data-prefecture", code)
            tip = ET.Element(q + "title")
            tip.text = text
            el.insert(0, tip)
        elif key in referenced:
            el.set("id", f"{ident}-{key}")
        elif not key.startswith(f"{ident}-"):
            del el.attrib["id"]  # matplotlib's figure_1, patch_3 …: unique on no page
    for attr in ("width", "height", "version"):
        root.attrib.pop(attr, None)
    root.set("class", css_class)
    root.set("role", "img")
    root.set("stroke-linejoin", "round")
    root.set("stroke-linecap", "butt")
    root.set("font-family", SVG_FONTS)
    root.set("aria-labelledby", f"{ident}-title")
    if desc:
        root.set("aria-describedby", f"{ident}-desc")
    named = ET.Element(q + "title", id=f"{ident}-title")
    named.text = title
    root.insert(0, named)
    if desc:
        described = ET.Element(q + "desc", id=f"{ident}-desc")
        described.text = desc
        root.insert(1, described)
    return ET.tostring(root, encoding="unicode")


# ---------------------------------------------------------------------------------------------
# Price indices: the index page's chart, the sparklines beside prices, a listing's formula


def _yen_full(value: float, _pos=None) -> str:
    """¥1,150,000: index ticks are round, so the full figure stays short enough."""
    return f"¥{value:,.0f}"


def index_chart(months: Sequence[date], values: Sequence[int], label: str) -> str:
    """An index's values a month as a line with markers; round yen ticks that cover the
    values, the months labelled on the x axis (at most 12 labels)."""
    fig, ax = _figure()
    x = list(range(len(months)))
    line = ax.plot(x, values, color=ACCENT, linewidth=1.8, marker="o", markersize=4, label=label)
    line[0].set_gid("index-values")
    low, high = min(values), max(values)
    if low == high:
        low, high = low * 0.95, high * 1.05 or 1
    ticks = round_ticks(low, high)
    ax.set_yticks(ticks)
    ax.set_ylim(ticks[0], ticks[-1])
    ax.yaxis.set_major_formatter(FuncFormatter(_yen_full))
    step = max(1, math.ceil(len(months) / 12))
    ax.set_xticks(x[::step], _month_labels(months)[::step], rotation=45 if len(x) > 6 else 0)
    ax.set_xlim(-0.5, len(x) - 0.5)
    return _svg_data_uri(fig)


@lru_cache(maxsize=1024)
def sparkline(values: tuple[int, ...]) -> str:
    """A word-sized line of an index's last values (no axes); the last value is a dot. SVG
    text, served at its own address (`web.sparklines.sparkline_src`), cached by browsers.

    Cached on the values: a series is drawn once per process."""
    fig = Figure(figsize=(1.0, 0.28), dpi=96)
    ax = fig.add_axes((0.02, 0.1, 0.9, 0.8))
    ax.axis("off")
    x = list(range(len(values)))
    line = ax.plot(x, values, color=ACCENT, linewidth=1.2)
    line[0].set_gid("sparkline")
    ax.plot([x[-1]], [values[-1]], marker="o", markersize=2.5, color=INK)
    if min(values) == max(values):
        ax.set_ylim(values[0] - 1, values[0] + 1)
    ax.set_xlim(-0.3, max(len(values) - 1, 1) + 0.3)
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", metadata={"Date": None})
    return buffer.getvalue()


def formula_chart(
    points: Sequence[tuple[float, float]],
    current: tuple[int, int] | None,
    floor: int | None,
    cap: int | None,
    labels: dict[str, str],
) -> str:
    """A listing's price (y) against its index (x): the formula's line, flat at the floor and
    the cap (dashed reference lines labelled), the current index value marked."""
    fig, ax = _figure()
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    line = ax.plot(xs, ys, color=ACCENT, linewidth=2, label=labels["price"])
    line[0].set_gid("formula")
    for bound, text, gid in (
        (floor, labels.get("floor"), "floor"),
        (cap, labels.get("cap"), "cap"),
    ):
        if bound is not None:
            ref = ax.axhline(bound, color=MUTED, linewidth=1, linestyle="--")
            ref.set_gid(gid)
            ax.annotate(
                text, (xs[0], bound), xytext=(2, 3), textcoords="offset points",
                fontsize=8, color=INK,
            )  # fmt: skip
    if current is not None:
        mark = ax.plot(
            [current[0]], [current[1]], linestyle="none", marker="o", markersize=7,
            color=INK, label=labels["current"],
        )  # fmt: skip
        mark[0].set_gid("current")
    ax.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=ROUND_STEPS))
    ax.xaxis.set_major_formatter(FuncFormatter(_yen_full))
    ax.yaxis.set_major_formatter(FuncFormatter(_yen_full))
    ax.set_xlim(xs[0], xs[-1])
    pad = max((max(ys) - min(ys)) * 0.15, max(ys) * 0.02, 1)
    ax.set_ylim(min(ys) - pad, max(ys) + pad)  # the floor and cap lines clear of the frame
    ax.set_xlabel(labels["x"], fontsize=9, color=INK)
    ax.set_ylabel(labels["y"], fontsize=9, color=INK)
    ax.legend(frameon=False, fontsize=9, loc="center right")
    return _svg_data_uri(fig)
