"""The register as a file, in the 13 columns of Mẫu số 03/TCD «Sổ tiếp công dân» (Nghị định
154/2026/NĐ-CP, Phụ lục): CSV (UTF-8 with a byte-order mark, so Excel reads the diacritics) and XLSX.
Built from ``register_rows``, so a reader's file holds what their screen holds: a person's data only
where the policy shows it to them, a denouncer's never."""

from __future__ import annotations

import csv
import io

from bot.register import RegisterRow
from bot.texts import t

COLUMNS = 13
FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def header(language: str) -> list[str]:
    return [t(language, f"desk.form03.col{n}") for n in range(1, COLUMNS + 1)]


def cells(row: RegisterRow, language: str) -> list:
    entry, item = row.entry, row.item
    if item is not None and item.kind == "denunciation":
        who = t(language, "desk.register.protected")
    elif row.identity is None:
        who = t(language, "desk.register.withheld")
    else:
        name, address, representative = row.identity
        who = ", ".join(p for p in (name, address) if p)
        if representative:
            who += "; " + t(language, "desk.register.represented_by", name=representative)
    kind = t(language, f"desk.form03.kind.{item.kind}") if item is not None else ""
    follow = ""
    if item is not None:
        follow = t(language, "desk.register.follow", code=item.tracking_code, status=t(language, f"status.{item.status}"))
    notes = [t(language, f"desk.register.form.{entry.form}")]
    if row.identity is not None and entry.co_complainants:
        notes.append(t(language, "desk.register.with", names=", ".join(entry.co_complainants)))
    if entry.note:
        notes.append(entry.note)
    return [row.number, entry.received_on.strftime("%d/%m/%Y"), who,
            (entry.id_document or "") if row.identity is not None else "", entry.summary, kind, entry.people,
            entry.settled_by or "", "x" if entry.within_competence else "", entry.guidance or "",
            row.unit, follow, "; ".join(notes)]


def to_csv(rows: list[RegisterRow], language: str) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header(language))
    for row in rows:
        writer.writerow([_safe(value) for value in cells(row, language)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_xlsx(rows: list[RegisterRow], language: str, title: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    book = Workbook()
    sheet = book.active
    sheet.title = "TCD"
    sheet.append([title])
    sheet["A1"].font = Font(bold=True, size=14)
    sheet.append(header(language))
    sheet.append(list(range(1, COLUMNS + 1)))  # the form numbers its columns 1–13
    for cell in sheet[2]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        sheet.append([_safe(value) for value in cells(row, language)])
    for letter, width in zip("ABCDEFGHIJKLM", (6, 12, 30, 16, 45, 14, 10, 20, 10, 25, 22, 28, 25)):
        sheet.column_dimensions[letter].width = width
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _safe(value):
    """A cell a spreadsheet will not run: text starting with = + - @ is prefixed with an apostrophe
    (a citizen's words become a register cell; CSV injection, OWASP)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
