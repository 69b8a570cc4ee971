"""Charts drawn on the server with matplotlib, as SVG images (no script: the CSP holds).

Axes carry round tick values (1, 2, 2.5 or 5 × 10^k) from matplotlib's MaxNLocator; labels
are text in the page's language, and each chart comes with a table of the same figures on
its page, for screen readers and for people who want the numbers.
"""

import base64
import io
import warnings
from collections.abc import Sequence
from datetime import date

import matplotlib

matplotlib.use("svg")
matplotlib.rcParams["svg.fonttype"] = "none"  # text stays text: the browser's fonts draw it
matplotlib.rcParams["font.family"] = ["Noto Sans CJK JP", "DejaVu Sans", "sans-serif"]

from matplotlib.figure import Figure  # noqa: E402
from matplotlib.ticker import FuncFormatter, MaxNLocator  # noqa: E402

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
        fig.savefig(buffer, format="svg", bbox_inches="tight")
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
