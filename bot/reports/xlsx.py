"""The report as an Excel workbook: one sheet per table, typed cells (whole numbers, percentages, plain
text), no formulas, so that the file shows the same figures in any spreadsheet and is read back as
values; a last sheet with the definitions and their legal basis. openpyxl is imported here, when a
report is made, never by the bot at start-up."""

from __future__ import annotations

import io

from bot.reports.figures import ReportFigures
from bot.reports.tables import RATES, column_title, definitions, header, tables
from bot.texts import t

SHEET_NAME_MAX = 31  # Excel's limit


def render_xlsx(figures: ReportFigures, language: str, zone) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    bold = Font(bold=True)
    lines = header(figures, language, zone)
    for table in tables(figures, language):
        sheet = book.create_sheet(table.title[:SHEET_NAME_MAX])
        for number, line in enumerate(lines, start=1):
            sheet.cell(number, 1, line).font = bold if number == 1 else Font()
        top = len(lines) + 2
        titles = [t(language, "reports.col.label"), *(column_title(c, language) for c in table.columns)]
        for col, title in enumerate(titles, start=1):
            cell = sheet.cell(top, col, title)
            cell.font, cell.alignment = bold, Alignment(wrap_text=True, vertical="top")
        rows = table.rows + ([(t(language, "reports.total"), table.total)] if table.total else [])
        for offset, (label, values) in enumerate(rows, start=1):
            sheet.cell(top + offset, 1, label)
            for col, (column, cell_value) in enumerate(zip(table.columns, values), start=2):
                cell = sheet.cell(top + offset, col, cell_value)
                if column in RATES:
                    cell.number_format = "0.0%"
                elif column == "average_days":
                    cell.number_format = "0.0"
                else:
                    cell.number_format = "#,##0"
            if table.total and offset == len(rows):
                for col in range(1, len(titles) + 1):
                    sheet.cell(top + offset, col).font = bold
        sheet.column_dimensions["A"].width = 48
        for col in range(2, len(titles) + 1):
            sheet.column_dimensions[get_column_letter(col)].width = 14
        sheet.freeze_panes = sheet.cell(top + 1, 2)
    sheet = book.create_sheet(t(language, "reports.section.definitions")[:SHEET_NAME_MAX])
    sheet.column_dimensions["A"].width = 120
    for number, line in enumerate(definitions(language), start=1):
        sheet.cell(number, 1, line).alignment = Alignment(wrap_text=True, vertical="top")
    book.properties.title = t(language, "reports.title")
    book.properties.creator = "tiepdan"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
