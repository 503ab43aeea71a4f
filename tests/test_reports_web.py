"""The console's reports and dashboard over HTTP (the real web app, both databases): who may download
what, the file's headers and figures, clear answers to forged or wrong requests, the dashboard's
charts and map, and no person anywhere."""

from __future__ import annotations

import re
from datetime import date

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bot.channels.web import STAFF_COOKIE
from bot.staff_sessions import SessionPolicy, open_session
from bot.texts import t
from storage.models import Unit, User
from tests.test_reports import (
    BA_VI,
    HOAN_KIEM,
    assert_no_person,
    read_pdf,
    read_xlsx,
    seed_reports,
    sql_counts,
)

ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"


async def staff(runtime, role: str, unit_name: str | None = ECONOMY, *, province: bool = False) -> str:
    """A member of staff with a live console session; the session's token (the cookie's value)."""
    async with runtime.uows() as uow:
        from sqlalchemy import select

        query = select(Unit.id).where(Unit.commune_code.is_(None)) if province else select(Unit.id).where(
            Unit.commune_code == HOAN_KIEM, Unit.name == unit_name)
        unit_id = (await uow.session.execute(query.limit(1))).scalar_one() if unit_name or province else None
        user = User(language="vi", commune_code=HOAN_KIEM, role=role, unit_id=unit_id)
        uow.session.add(user)
        await uow.session.flush()
        token = await open_session(uow, user, SessionPolicy(), via="test")
        await uow.commit()
    return token


@pytest.fixture
async def console(runtime):
    async with TestClient(TestServer(runtime.web_app)) as client:
        yield client


async def get(client, path: str, token: str | None, **params):
    cookies = {STAFF_COOKIE: token} if token else {}
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies(cookies)
    return await client.get(path, params=params, allow_redirects=False)


async def test_a_leader_downloads_their_units_report(runtime, console):
    seeded = await seed_reports(runtime)
    leader = await staff(runtime, "leader")
    response = await get(console, "/console/reports/download", leader, period="2026-Q3", format="xlsx")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert response.headers["Cache-Control"] == "private, no-store"
    economy = seeded.units[ECONOMY]
    assert re.match(rf'attachment; filename="bao-cao-don-vi-{economy}-2026-Q3.xlsx"', response.headers["Content-Disposition"])
    expected = await sql_counts(runtime, (HOAN_KIEM,), unit=economy)
    summary = read_xlsx(await response.read())[t("vi", "reports.section.summary")]
    assert summary[t("vi", "reports.total")][:3] == [expected["received"], expected["accepted"], expected["resolved"]]

    response = await get(console, "/console/reports/download", leader, period="2026-Q3", format="pdf")
    assert response.status == 200 and response.headers["Content-Type"] == "application/pdf"
    text = read_pdf(await response.read())
    assert "Phòng Kinh tế, Hạ tầng và Đô thị" in text
    assert_no_person(text)
    page = await get(console, "/console/reports", leader, period="2026-q3")
    assert page.status == 200
    assert 'href="/console/reports/download?period=2026-Q3&amp;format=pdf"' in await page.text()


async def test_the_province_picks_a_commune_and_a_commune_cannot_reach_another(runtime, console):
    await seed_reports(runtime)
    overseer = await staff(runtime, "province_overseer", province=True)
    response = await get(console, "/console/reports/download", overseer, period="2026-Q3", format="csv", commune=str(BA_VI))
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/csv")
    body = (await response.read()).decode("utf-8-sig")
    summary = next(line for line in body.splitlines() if line.startswith("summary,"))
    assert summary.split(",")[2] == str((await sql_counts(runtime, (BA_VI,)))["received"])
    form = await (await get(console, "/console/reports", overseer)).text()
    assert re.search(rf'<option value="{BA_VI}"\s*>', form)  # the province's reader chooses among its communes

    chairman = await staff(runtime, "chairman", "Văn phòng HĐND và UBND phường")
    refused = await get(console, "/console/reports/download", chairman, period="2026-Q3", format="xlsx", commune=str(BA_VI))
    assert refused.status == 403 and t("vi", "reports.bad_commune") in await refused.text()
    officer = await staff(runtime, "officer")
    for path in ("/console/reports/download", "/console/dashboard", "/console/reports"):
        refused = await get(console, path, officer, period="2026-Q3", format="xlsx")
        assert refused.status == 403 and t("vi", "reports.not_allowed") in await refused.text()


async def test_wrong_and_forged_requests_get_a_clear_answer(runtime, console):
    leader = await staff(runtime, "leader")
    anonymous = await get(console, "/console/reports/download", None, period="2026-Q3", format="xlsx")
    assert anonymous.status in (302, 303) and "/console" in anonymous.headers["Location"]
    forged = await get(console, "/console/reports/download", "not-a-session", period="2026-Q3", format="xlsx")
    assert forged.status in (302, 303)
    for params, key in (({"period": "2026-Q9", "format": "xlsx"}, "reports.bad_period"),
                        ({"period": "<script>alert(1)</script>", "format": "pdf"}, None),
                        ({"period": "2026-Q3", "format": "exe"}, "reports.bad_format"),
                        ({"period": f"{date.today().year + 1}-Q1", "format": "csv"}, "reports.future_period"),
                        ({"period": "2026-Q3", "format": "csv", "commune": "70 OR 1=1"}, "reports.bad_commune")):
        response = await get(console, "/console/reports/download", leader, **params)
        page = await response.text()
        assert response.status in (400, 403) and "Traceback" not in page and "<script>alert" not in page
        assert "Content-Disposition" not in response.headers
        if key:
            assert t("vi", key, period=params["period"], format=params["format"]).split("«")[0] in page


async def test_the_dashboard_shows_the_charts_the_map_and_no_person(runtime, console):
    await seed_reports(runtime)
    chairman = await staff(runtime, "chairman", "Văn phòng HĐND và UBND phường")
    response = await get(console, "/console/dashboard", chairman, period="2026-Q3")
    page = await response.text()
    assert response.status == 200 and response.headers["Cache-Control"] == "private, no-store"
    assert page.count('src="data:image/svg+xml;base64,') == 4
    expected = await sql_counts(runtime, (HOAN_KIEM,))
    received = re.search(r'data-kpi="received"><span class="kpi-value">([\d.]+)<', page).group(1)
    assert int(received.replace(".", "")) == expected["received"]
    assert 'class="hotspots"' in page and "tile-map" not in page and "leaflet" not in page
    assert_no_person(page)
    assert "21.02" not in page and "105.85" not in page  # no item's own place, only cells
    assert 'href="/console/reports/download?period=2026-Q3&amp;format=pdf"' in page


async def test_a_tile_server_adds_the_interactive_map_and_only_its_origin(settings):
    from bot.app import Runtime
    from storage.demo import seed_demo

    settings = settings.model_copy(update={"map_tiles_url": "https://tiles.example.vn/{z}/{x}/{y}.png"})
    runtime = Runtime(settings, run_scheduler=False)
    await runtime.start(migrate=False)
    try:
        await seed_demo(runtime.uows, settings)
        await seed_reports(runtime)
        chairman = await staff(runtime, "chairman", "Văn phòng HĐND và UBND phường")
        async with TestClient(TestServer(runtime.web_app)) as client:
            response = await get(client, "/console/dashboard", chairman, period="2026-Q3")
            page = await response.text()
            assert 'id="tile-map"' in page and 'data-tiles="https://tiles.example.vn/{z}/{x}/{y}.png"' in page
            policy = response.headers["Content-Security-Policy"]
            assert "img-src 'self' https://tiles.example.vn data:" in policy and "script-src 'self';" in policy
            script = await client.get("/console/reports/static/leaflet/leaflet.js")
            assert script.status == 200
            other = await get(client, "/console/reports", chairman)
            assert "tiles.example.vn" not in other.headers["Content-Security-Policy"]
    finally:
        await runtime.stop()
