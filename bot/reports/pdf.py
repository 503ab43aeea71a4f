"""The report as PDF: landscape A4, the header, the charts, each table, the definitions. Set in DejaVu
Sans, the TrueType font matplotlib ships, so that every Vietnamese diacritic prints and can be copied or
extracted as text, with no dependency on the system's fonts. fpdf2 is imported here, when a report is
made."""

from __future__ import annotations

import io
import os

from bot.policy import Level
from bot.reports import charts
from bot.reports.figures import ReportFigures
from bot.reports.tables import column_title, definitions, display, header, tables
from bot.texts import t

FONT = "DejaVu"
LABEL_WIDTH = 62  # mm, the first column; the others share what is left
GUTTER = 6        # mm between two charts


def _font_files() -> tuple[str, str]:
    import matplotlib

    folder = os.path.join(matplotlib.get_data_path(), "fonts", "ttf")
    return os.path.join(folder, "DejaVuSans.ttf"), os.path.join(folder, "DejaVuSans-Bold.ttf")


def _national_header(pdf, figures: ReportFigures, language: str) -> None:
    """The heading of an administrative document (Nghị định 30/2020/NĐ-CP, Phụ lục I): the issuing
    body on the left, the national title and motto on the right."""
    top, half = pdf.get_y(), pdf.epw / 2
    pdf.set_font(FONT, "B", 10)
    pdf.set_xy(pdf.l_margin, top)
    if figures.scope.level is Level.unit:
        issuer = figures.title.split(" — ")[0].upper()
    else:  # "Phường Hoàn Kiếm, Thành phố Hà Nội" → its People's Committee
        issuer = t(language, "reports.issuer_committee", name=figures.title.split(",")[0].upper())
    pdf.multi_cell(half - 10, 5, issuer, align="C")
    pdf.set_xy(pdf.l_margin + half, top)
    pdf.multi_cell(half, 5, t(language, "reports.national_title"), align="C", new_x="LEFT", new_y="NEXT")
    pdf.multi_cell(half, 5, t(language, "reports.national_motto"), align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(pdf.get_y(), top + 12) + 4)


def render_pdf(figures: ReportFigures, language: str, zone) -> bytes:
    from fpdf import FPDF
    from fpdf.fonts import FontFace

    pdf = FPDF(orientation="L", unit="mm", format="A4")
    regular, bold = _font_files()
    pdf.add_font(FONT, "", regular)
    pdf.add_font(FONT, "B", bold)
    pdf.set_title(t(language, "reports.title"))
    pdf.set_creator("tiepdan")
    pdf.set_creation_date(figures.made_at)
    pdf.set_auto_page_break(True, margin=12)
    pdf.add_page()
    _national_header(pdf, figures, language)
    lines = header(figures, language, zone)
    pdf.set_font(FONT, "B", 14)
    pdf.multi_cell(0, 7, lines[0], align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    for line in lines[1:]:
        pdf.multi_cell(0, 5, line, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    width = (pdf.epw - GUTTER) / 2
    height = width * charts.SIZE[1] / charts.SIZE[0]
    for index, chart in enumerate(charts.draw(figures, language, "png")):
        if index % 2 == 0:
            top = pdf.get_y() if index == 0 else top + height + 9
            if top + height + 6 > pdf.h - pdf.b_margin:
                pdf.add_page()
                top = pdf.get_y()
        x = pdf.l_margin + (index % 2) * (width + GUTTER)
        pdf.set_xy(x, top)
        pdf.set_font(FONT, "B", 9)
        pdf.cell(width, 5, chart.title)
        pdf.image(io.BytesIO(chart.data), x=x, y=top + 6, w=width, h=height)
    pdf.set_y(top + height + 9)
    heading = FontFace(emphasis="BOLD", fill_color=(230, 236, 245))
    for table in tables(figures, language):
        if pdf.get_y() > pdf.h - pdf.b_margin - 40:  # a title alone at the foot of a page
            pdf.add_page()
        pdf.set_font(FONT, "B", 11)
        pdf.cell(0, 7, table.title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", 7)
        others = (pdf.epw - LABEL_WIDTH) / len(table.columns)
        rows = table.rows + ([(t(language, "reports.total"), table.total)] if table.total else [])
        with pdf.table(col_widths=(LABEL_WIDTH, *([others] * len(table.columns))), headings_style=heading,
                       text_align=("LEFT", *(["RIGHT"] * len(table.columns))), line_height=4.2,
                       width=pdf.epw) as grid:
            names = grid.row()
            names.cell(t(language, "reports.col.label"), align="LEFT")
            for column in table.columns:
                names.cell(column_title(column, language), align="CENTER")
            for number, (label, values) in enumerate(rows, start=1):
                style = FontFace(emphasis="BOLD") if table.total and number == len(rows) else None
                row = grid.row(style=style)
                row.cell(label)
                for column, cell_value in zip(table.columns, values):
                    row.cell(display(cell_value, column, language))
        pdf.ln(5)
    pdf.add_page()
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 7, t(language, "reports.section.definitions"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    for line in definitions(language):
        pdf.multi_cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(1)
    return bytes(pdf.output())
