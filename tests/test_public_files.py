"""A disclosure's documents and a project's photos: imported with the commune's file, served on the
public pages with their own types, refused when their content is not what their name says, and
replaced by the next import."""

from __future__ import annotations

import re

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.importer import ImportError_, import_file

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
XLSX = b"PK\x03\x04" + b"\x00" * 200
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"\x00" * 40

IMPORT = """commune: 70
disclosures:
  - category: budget
    title: Dự toán ngân sách phường năm 2027
    body: Dự toán thu, chi ngân sách năm 2027 đã được HĐND phường thông qua.
    files: [{files}]
projects:
  - name: Cải tạo vỉa hè, thoát nước phố Hàng Bạc
    progress: 40
    photos: [{photos}]
"""


@pytest.fixture
async def client(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


def _write(folder, files: str, photos: str):
    (folder / "du-toan-2027.pdf").write_bytes(PDF)
    (folder / "chi tiết thu chi.xlsx").write_bytes(XLSX)
    (folder / "hang-bac-1.png").write_bytes(PNG)
    (folder / "hang-bac-2.png").write_bytes(PNG + b"2")
    path = folder / "import.yaml"
    path.write_text(IMPORT.format(files=files, photos=photos), encoding="utf-8")
    return path


async def test_documents_and_photos_are_served_with_their_types(runtime, client, tmp_path):
    path = _write(tmp_path, "du-toan-2027.pdf, chi tiết thu chi.xlsx", "hang-bac-1.png, hang-bac-2.png")
    await import_file(runtime.uows, path, zone=runtime.settings.zone)
    page = await (await client.get("/c/70/disclosures?category=budget")).text()
    links = re.findall(r'href="(/c/phuong-hoan-kiem/files/\d+/[^"]+)"', page)
    assert [link.rsplit("/", 1)[1] for link in links] == ["du-toan-2027.pdf", "chi-tiet-thu-chi.xlsx"]
    assert "Văn bản đính kèm" in page and "(PDF, 1 KB)" in page
    pdf = await client.get(links[0])
    assert pdf.status == 200 and pdf.headers["Content-Type"] == "application/pdf" and await pdf.read() == PDF
    assert pdf.headers["Content-Disposition"].startswith("inline;")
    assert pdf.headers["X-Content-Type-Options"] == "nosniff"
    assert (await client.get(links[0], headers={"If-None-Match": pdf.headers["ETag"]})).status == 304
    sheet = await client.get(links[1])
    assert sheet.headers["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert sheet.headers["Content-Disposition"].startswith("attachment;")
    file_id = links[0].split("/")[4]
    assert (await client.get(f"/c/70/files/{file_id}/other-name.pdf")).status == 404
    assert (await client.get(f"/c/9700/files/{file_id}/du-toan-2027.pdf")).status == 404  # another commune's URL

    projects = await (await client.get("/c/70/projects")).text()
    project_url = re.search(r'href="(/c/phuong-hoan-kiem/projects/\d+)"', projects).group(1)
    detail = await (await client.get(project_url)).text()
    photos = re.findall(r'<img src="(/c/phuong-hoan-kiem/files/\d+/hang-bac-\d\.png)" alt="Ảnh (\d) của dự án', detail)
    assert [n for _, n in photos] == ["1", "2"]
    photo = await client.get(photos[0][0])
    assert photo.headers["Content-Type"] == "image/png" and await photo.read() == PNG

    # The next import lists one photo: the other is gone, from the page and its URL.
    await import_file(runtime.uows, _write(tmp_path, "du-toan-2027.pdf", "hang-bac-2.png"), zone=runtime.settings.zone)
    detail = await (await client.get(project_url)).text()
    assert "hang-bac-1.png" not in detail and "hang-bac-2.png" in detail
    assert (await client.get(photos[0][0])).status == 404
    assert (await client.get(links[0])).status == 200  # unchanged: the same file, the same URL


async def test_a_file_whose_content_is_not_its_type_is_refused_with_its_line(runtime, tmp_path):
    path = _write(tmp_path, "du-toan-2027.pdf", "hang-bac-1.png")
    (tmp_path / "du-toan-2027.pdf").write_bytes(b"MZ\x90\x00 an executable renamed")
    with pytest.raises(ImportError_) as refused:
        await import_file(runtime.uows, path, zone=runtime.settings.zone)
    assert "is not a PDF file" in str(refused.value) and "disclosures.files" in str(refused.value)
    path.write_text(IMPORT.format(files="du-toan-2027.exe", photos=""), encoding="utf-8")
    with pytest.raises(ImportError_):
        await import_file(runtime.uows, path, zone=runtime.settings.zone)
    path.write_text(IMPORT.format(files="", photos="../../etc/passwd.png"), encoding="utf-8")
    with pytest.raises(ImportError_) as missing:
        await import_file(runtime.uows, path, zone=runtime.settings.zone)
    assert "no file" in str(missing.value)
