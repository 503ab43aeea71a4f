"""The report's charts, drawn once with matplotlib for the PDF (PNG) and the dashboard (SVG): received
and resolved per month, the on-time rate by kind, the top categories, overdue items by unit.

matplotlib is imported here, when a chart is drawn (the bot's memory at start-up is benchmarked), with
the Agg backend and without pyplot: figures are plain objects, drawn under a lock since matplotlib's
global settings are not thread-safe and drawing runs in worker threads."""

from __future__ import annotations

import io
import threading
from dataclasses import dataclass

from bot.reports.figures import ReportFigures
from bot.reports.tables import category_label, month_label, plain, unit_label
from bot.texts import t

CHARTS = ("trend", "kind", "category", "overdue_unit")
TOP = 8
SIZE = (7.5, 3.6)  # inches; every chart the same, so that the PDF lays them out two by two
BLUE, GREEN, RED, GREY = "#1f5fa8", "#2e8b57", "#c0392b", "#8a8f98"
_lock = threading.Lock()


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    data: bytes
    media_type: str  # image/png or image/svg+xml


def draw(figures: ReportFigures, language: str, fmt: str = "png") -> list[Chart]:
    """Every chart of the report, as PNG (for the PDF) or SVG (for the dashboard)."""
    with _lock:
        import matplotlib

        matplotlib.use("Agg")
        return [Chart(key, t(language, f"reports.chart.{key}"), _save(_DRAW[key](figures, language), fmt),
                      "image/svg+xml" if fmt == "svg" else "image/png") for key in CHARTS]


def _figure():
    from matplotlib.figure import Figure

    figure = Figure(figsize=SIZE, dpi=110)
    return figure, figure.add_subplot()


def _save(figure, fmt: str) -> bytes:
    out = io.BytesIO()
    figure.tight_layout()
    figure.savefig(out, format=fmt, dpi=150 if fmt == "png" else None, metadata=_metadata(fmt))
    return out.getvalue()


def _metadata(fmt: str) -> dict:
    # No date nor software version in the file: the same figures give the same file.
    return {"Date": None} if fmt == "svg" else {"Software": None}


def _empty(axes, language: str) -> None:
    axes.text(0.5, 0.5, t(language, "reports.chart.empty"), ha="center", va="center", color=GREY,
              transform=axes.transAxes)
    axes.set_axis_off()


def _trend(figures: ReportFigures, language: str):
    figure, axes = _figure()
    months = sorted(figures.by_month)
    if not any(figures.by_month[m].received for m in months):
        _empty(axes, language)
        return figure
    positions = range(len(months))
    received = [figures.by_month[m].received for m in months]
    resolved = [figures.by_month[m].resolved for m in months]
    on_time = [figures.by_month[m].on_time for m in months]
    axes.bar([p - 0.2 for p in positions], received, 0.4, color=BLUE, label=t(language, "reports.col.received"))
    axes.bar([p + 0.2 for p in positions], resolved, 0.4, color=GREEN, label=t(language, "reports.col.resolved"))
    axes.plot(list(positions), on_time, color=RED, marker="o", label=t(language, "reports.col.on_time"))
    axes.set_xticks(list(positions), [month_label(m, language) for m in months],
                    rotation=30 if len(months) > 4 else 0, fontsize=8)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.legend(fontsize=8, frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _barh(figures_pairs: list[tuple[str, float]], language: str, color: str, *, percent: bool = False):
    figure, axes = _figure()
    if not figures_pairs:
        _empty(axes, language)
        return figure
    labels = [label if len(label) <= 40 else label[:39] + "…" for label, _ in reversed(figures_pairs)]
    values = [v for _, v in reversed(figures_pairs)]
    bars = axes.barh(labels, values, color=color)
    axes.bar_label(bars, labels=[f"{v:.0%}" if percent else f"{v:g}" for v in values], padding=3, fontsize=8)
    if percent:
        axes.set_xlim(0, 1.15)
        axes.xaxis.set_major_formatter(lambda x, _: f"{x:.0%}")
    else:
        axes.xaxis.get_major_locator().set_params(integer=True)
        axes.set_xlim(0, max(values) * 1.15 or 1)
    axes.tick_params(axis="y", labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def _kind(figures: ReportFigures, language: str):
    pairs = [(plain(t(language, f"kind.{kind}")), tally.on_time_rate) for kind, tally in
             sorted(figures.by_kind.items()) if tally.on_time_rate is not None]
    return _barh(pairs, language, GREEN, percent=True)


def _category(figures: ReportFigures, language: str):
    top = sorted(figures.by_category.items(), key=lambda kv: (-kv[1].received, kv[0]))[:TOP]
    return _barh([(category_label(figures, key, language), tally.received) for key, tally in top], language, BLUE)


def _overdue_unit(figures: ReportFigures, language: str):
    top = sorted(((unit, tally) for unit, tally in figures.by_unit.items() if tally.overdue),
                 key=lambda kv: (-kv[1].overdue, kv[0]))[:TOP]
    return _barh([(unit_label(figures, unit, language), tally.overdue) for unit, tally in top], language, RED)


_DRAW = {"trend": _trend, "kind": _kind, "category": _category, "overdue_unit": _overdue_unit}
