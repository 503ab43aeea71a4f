"""Making a report file: whose figures (the policy decides), which format, what the file is called.
One entry for the CLI (``tiepdan report``) and the console (bot/reports/web.py)."""

from __future__ import annotations

from dataclasses import dataclass
from zoneinfo import ZoneInfo

from bot import policy
from bot.domain.communes import fold
from bot.policy import Actor, Level, Scope
from bot.reports.figures import ReportFigures


@dataclass(frozen=True)
class Format:
    extension: str
    content_type: str


FORMATS = {
    "xlsx": Format("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "pdf": Format("pdf", "application/pdf"),
    "csv": Format("csv", "text/csv; charset=utf-8"),
}


class ScopeRefused(Exception):
    """The actor may not read these figures."""


def report_scope(actor: Actor, commune_code: int | None = None) -> Scope:
    """The actor's figures scope (bot/policy.py), or one commune of it when they chose one: a province's
    reader any commune of the province, anyone else only their own commune (a leader stays in their unit)."""
    scope = policy.figures_scope(actor)
    if scope.level is Level.nothing:
        raise ScopeRefused()
    if commune_code is None:
        return scope
    if scope.level is Level.province:
        if not scope.covers(None, commune_code):
            raise ScopeRefused()
        return Scope(Level.commune, commune_code=commune_code)
    if commune_code != scope.commune_code:
        raise ScopeRefused()
    return scope


def render(figures: ReportFigures, fmt: str, language: str, zone: ZoneInfo) -> bytes:
    """CPU-bound (charts, fonts): the web runs it in a worker thread."""
    if fmt == "xlsx":
        from bot.reports.xlsx import render_xlsx

        return render_xlsx(figures, language, zone)
    if fmt == "pdf":
        from bot.reports.pdf import render_pdf

        return render_pdf(figures, language, zone)
    if fmt == "csv":
        from bot.reports.csvfile import render_csv

        return render_csv(figures, language, zone)
    raise ValueError(fmt)


def filename(figures: ReportFigures, fmt: str) -> str:
    """ASCII, so every browser keeps it: bao-cao-phuong-hoan-kiem-2026-Q4.xlsx."""
    scope = figures.scope
    if scope.level is Level.unit:
        where = f"don-vi-{scope.unit_id}"
    else:
        where = "-".join(fold(figures.title.split(",")[0]).split())
    return f"bao-cao-{where}-{figures.period.key}.{FORMATS[fmt].extension}"
