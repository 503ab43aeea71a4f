"""The report as CSV: one long table a spreadsheet or a script reads, every row saying which section it
belongs to. UTF-8 with a byte-order mark, so that Excel shows the diacritics."""

from __future__ import annotations

import csv
import io

from bot.reports.figures import ReportFigures
from bot.reports.tables import COLUMNS, RECEPTION_COLUMNS, column_title, header, tables
from bot.texts import t


def render_csv(figures: ReportFigures, language: str, zone) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    for line in header(figures, language, zone):
        writer.writerow(["#", line])
    columns = COLUMNS + RECEPTION_COLUMNS
    writer.writerow(["section", t(language, "reports.col.label"), *(column_title(c, language) for c in columns)])
    for table in tables(figures, language):
        for label, values in table.rows + ([(t(language, "reports.total"), table.total)] if table.total else []):
            by_column = dict(zip(table.columns, values))
            writer.writerow([table.key, label, *(_cell(by_column.get(c)) for c in columns)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)
