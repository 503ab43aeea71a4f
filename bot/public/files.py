"""Documents of disclosures and photos of projects: read from the commune's import file, kept in the
database (``public_files``), served by the public pages with their own type.

In the import, beside the entry (paths relative to the import file):

    disclosures:
      - {category: budget, title: Dự toán ngân sách 2027, ..., files: [du-toan-2027.pdf, bang-chi-tiet.xlsx]}
    projects:
      - {name: Cải tạo vỉa hè phố Hàng Bạc, ..., photos: [anh/2026-11-10.jpg]}

A file's type is taken from its name and must match its first bytes (a renamed executable is
refused with the line of its entry); a photo must be a JPEG, PNG or WebP. Importing again replaces an
entry's files with those listed: new ones added, changed ones replaced, unlisted ones removed."""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select

from storage.models_public import PublicFile, bump_versions

MAX_BYTES = 10 * 1024 * 1024
TYPES = {  # extension → (type, signatures of its first bytes)
    ".pdf": ("application/pdf", (b"%PDF-",)),
    ".jpg": ("image/jpeg", (b"\xff\xd8\xff",)), ".jpeg": ("image/jpeg", (b"\xff\xd8\xff",)),
    ".png": ("image/png", (b"\x89PNG\r\n\x1a\n",)),
    ".webp": ("image/webp", (b"RIFF",)),
    ".docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", (b"PK\x03\x04",)),
    ".xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", (b"PK\x03\x04",)),
    ".odt": ("application/vnd.oasis.opendocument.text", (b"PK\x03\x04",)),
    ".ods": ("application/vnd.oasis.opendocument.spreadsheet", (b"PK\x03\x04",)),
    ".doc": ("application/msword", (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)),
    ".xls": ("application/vnd.ms-excel", (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)),
}
PHOTOS = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class FileToKeep:
    filename: str
    content_type: str
    data: bytes
    sha256: str


def read(planner, entry, name: str, *, photos: bool) -> list[FileToKeep]:
    """The files an entry lists under ``name``, read and checked now, so a problem names its line."""
    folder = Path(planner.source.path).resolve().parent
    found, names = [], set()
    for item in entry.texts(name):
        path = (folder / item.value).resolve()
        suffix = path.suffix.lower()
        allowed = PHOTOS if photos else tuple(TYPES)
        if suffix not in allowed:
            raise entry.fail(name, f"{item.value!r}: expected one of {', '.join(allowed)}", item.line)
        if not path.is_file():
            raise entry.fail(name, f"no file {item.value!r} beside the import file", item.line)
        data = path.read_bytes()
        if len(data) > MAX_BYTES:
            raise entry.fail(name, f"{item.value!r} is over {MAX_BYTES // 1024 // 1024} MB", item.line)
        content_type, signatures = TYPES[suffix]
        if not data.startswith(signatures) or (suffix == ".webp" and data[8:12] != b"WEBP"):
            raise entry.fail(name, f"{item.value!r} is not a {suffix[1:].upper()} file (its content says otherwise)",
                             item.line)
        filename = _safe_name(path.name)
        if filename in names:
            raise entry.fail(name, f"two files named {filename!r}", item.line)
        names.add(filename)
        found.append(FileToKeep(filename, content_type, data, hashlib.sha256(data).hexdigest()))
    return found


def _safe_name(name: str) -> str:
    """A name that is safe in a URL path segment and a Content-Disposition header: ASCII, Vietnamese
    letters without their marks ("chi tiết.xlsx" → "chi-tiet.xlsx")."""
    bare = unicodedata.normalize("NFD", name.replace("đ", "d").replace("Đ", "D"))
    kept = "".join(ch if (ch.isascii() and ch.isalnum()) or ch in "._-" else "-"
                   for ch in bare if unicodedata.category(ch) != "Mn")
    return kept.strip(".-")[:150] or "file"


async def write(writer, owner: str, written: list) -> None:
    """Make each written entry's files the ones its import lists (nothing listed: none)."""
    if not written:
        return
    await writer.session.flush()  # new entries need their ids
    ids = [row.id for _, row in written]
    existing = list((await writer.session.execute(
        select(PublicFile.id, PublicFile.owner_id, PublicFile.filename, PublicFile.sha256, PublicFile.position)
        .where(PublicFile.owner == owner, PublicFile.owner_id.in_(ids)))).all())
    stale, fresh, communes = [], [], set()
    for planned, row in written:
        mine = {filename: (file_id, sha, position) for file_id, owner_id, filename, sha, position in existing
                if owner_id == row.id}
        wanted = {f.filename for f in planned.files}
        stale += [file_id for filename, (file_id, _, _) in mine.items() if filename not in wanted]
        for position, keep in enumerate(planned.files):
            known = mine.get(keep.filename)
            if known is not None and known[1] == keep.sha256 and known[2] == position:
                continue
            if known is not None:
                stale.append(known[0])
            fresh.append(PublicFile(commune_code=row.commune_code, owner=owner, owner_id=row.id, position=position,
                                    filename=keep.filename, content_type=keep.content_type, size=len(keep.data),
                                    sha256=keep.sha256, data=keep.data))
        if stale or fresh:
            communes.add(row.commune_code)
    if stale:  # first, so a replaced file's name is free again
        await writer.session.execute(delete(PublicFile).where(PublicFile.id.in_(stale)))
        # a bulk delete passes no flush hook: the publication version is moved here
        await writer.session.run_sync(lambda session: bump_versions(session, sorted(communes)))
    writer.session.add_all(fresh)


async def listed(uow, owner: str, owner_ids: list[int]) -> dict[int, list[PublicFile]]:
    """Each owner's files (without their bytes), in the import's order."""
    found: dict[int, list[PublicFile]] = {owner_id: [] for owner_id in owner_ids}
    if owner_ids:
        for row in (await uow.session.execute(
                select(PublicFile).where(PublicFile.owner == owner, PublicFile.owner_id.in_(owner_ids))
                .order_by(PublicFile.owner_id, PublicFile.position, PublicFile.id))).scalars():
            found[row.owner_id].append(row)
    return found
