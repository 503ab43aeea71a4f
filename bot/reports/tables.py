"""The report's tables, once, for every format (XLSX, PDF, CSV, the dashboard): a title, rows of a
label and its counts, and a total row. Labels are plain text (no emoji: the PDF's font has none)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

from bot.domain.communes import commune_label
from bot.reports.figures import NO_UNIT, ReportFigures, Tally
from bot.reports.reception import RECEPTION_FIELDS, Reception
from bot.texts import t

# What each row counts, in order; rates are fractions (0.0–1.0), None when nothing to divide by.
COLUMNS = ("received", "accepted", "resolved", "on_time", "late", "overdue", "on_time_rate", "average_days",
           "rated", "satisfied", "satisfaction_rate")
RATES = ("on_time_rate", "satisfaction_rate")
RECEPTION_COLUMNS = (*RECEPTION_FIELDS, "zalo_notices", "zalo_cost")
DEFINITIONS = ("received", "accepted", "resolved", "on_time", "late", "overdue", "satisfaction", "reception",
               "zalo", "cut_off", "scope")


def plain(label: str) -> str:
    """"🏠 Đất đai, nhà ở" → "Đất đai, nhà ở": what comes before the first Latin letter or digit goes
    (emoji, and symbols such as ℹ that Unicode counts as letters)."""
    for index, char in enumerate(label):
        if char.isdigit() or unicodedata.name(char, "").startswith("LATIN"):
            return label[index:].strip()
    return label


def value(tally: Tally, column: str):
    return getattr(tally, column)


@dataclass
class Table:
    key: str                          # summary, commune, kind, category, unit, month, reception
    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, list]]      # label, one value per column
    total: list | None = None         # the total row's values, when the rows add up to it


def _tally_rows(pairs: list[tuple[str, Tally]]) -> list[tuple[str, list]]:
    return [(label, [value(tally, c) for c in COLUMNS]) for label, tally in pairs]


def tables(figures: ReportFigures, language: str) -> list[Table]:
    total = [value(figures.total, c) for c in COLUMNS]
    found = [Table("summary", t(language, "reports.section.summary"), COLUMNS,
                   _tally_rows([(t(language, "reports.total"), figures.total)]))]
    if figures.rolls_up or len(figures.by_commune) > 1:
        pairs = sorted(((commune_label(code), tally) for code, tally in figures.by_commune.items()))
        found.append(Table("commune", t(language, "reports.section.commune"), COLUMNS, _tally_rows(pairs), total))
    kinds = sorted(figures.by_kind.items(), key=lambda kv: -kv[1].received)
    found.append(Table("kind", t(language, "reports.section.kind"), COLUMNS,
                       _tally_rows([(plain(t(language, f"kind.{k}")), v) for k, v in kinds]), total))
    found.append(Table("category", t(language, "reports.section.category"), COLUMNS,
                       _tally_rows([(category_label(figures, k, language), v) for k, v in
                                    sorted(figures.by_category.items(), key=lambda kv: -kv[1].received)]), total))
    found.append(Table("unit", t(language, "reports.section.unit"), COLUMNS,
                       _tally_rows([(unit_label(figures, k, language), v) for k, v in
                                    sorted(figures.by_unit.items(), key=lambda kv: -kv[1].received)]), total))
    found.append(Table("month", t(language, "reports.section.month"), COLUMNS,
                       _tally_rows([(month_label(m, language), v) for m, v in sorted(figures.by_month.items())]), total))
    if figures.has_reception:
        communes = sorted(set(figures.reception) | set(figures.zalo) | set(figures.by_commune))
        rows = []
        for code in communes:
            held = figures.reception.get(code, Reception())
            rows.append((commune_label(code), [*(getattr(held, f) for f in RECEPTION_FIELDS),
                                               *figures.zalo.get(code, (0, 0))]))
        total = figures.reception_total
        found.append(Table("reception", t(language, "reports.section.reception"), RECEPTION_COLUMNS, rows,
                           [*(getattr(total, f) for f in RECEPTION_FIELDS), *figures.zalo_total]))
    return found


def category_label(figures: ReportFigures, key: str, language: str) -> str:
    labels = figures.category_labels.get(key)
    return plain(labels[1] if language == "en" and labels else labels[0]) if labels else key


def unit_label(figures: ReportFigures, unit_id: int, language: str) -> str:
    if unit_id == NO_UNIT:
        return t(language, "reports.no_unit")
    return figures.unit_names.get(unit_id, str(unit_id))


def month_label(month: str, language: str) -> str:
    year, number = month.split("-")
    return t(language, "reports.month", month=number, year=year)


def header(figures: ReportFigures, language: str, zone) -> list[str]:
    """The lines above every report: title, scope, period, cut-off, made at, no personal data."""
    def local(moment: datetime) -> str:
        return moment.astimezone(zone).strftime("%H:%M %d/%m/%Y")

    period = figures.period
    return [t(language, "reports.title"), t(language, "reports.scope", scope=figures.title),
            t(language, "reports.period", period=period.key, first=f"{period.first:%d/%m/%Y}",
              last=f"{period.last:%d/%m/%Y}"),
            t(language, "reports.cut_off", cut_off=local(figures.cut_off)),
            t(language, "reports.made_at", made_at=local(figures.made_at)),
            t(language, "reports.no_personal_data")]


def definitions(language: str) -> list[str]:
    return [t(language, f"reports.def.{key}") for key in DEFINITIONS]


def column_title(column: str, language: str) -> str:
    return t(language, f"reports.col.{column}")


def display(cell_value, column: str, language: str) -> str:
    """A cell as text (PDF, dashboard): rates as percentages; Vietnamese writes a decimal comma."""
    if cell_value is None:
        return t(language, "reports.none")
    if column in RATES:
        text = f"{100 * cell_value:.1f}%"
    elif isinstance(cell_value, float):
        text = f"{cell_value:.1f}"
    else:
        text = f"{cell_value:,}"
        return text.replace(",", ".") if language == "vi" else text
    return text.replace(".", ",") if language == "vi" else text
