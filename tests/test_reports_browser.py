"""A leader in a real headless Chromium, against ``tiepdan serve --demo``: opens the console's reports
page, downloads the XLSX and the PDF with the form, and the files read back (openpyxl, pypdf) hold the
database's figures for their unit and no person; the dashboard shows its charts and map under the
page's security policy. Needs Debian's chromium and chromium-driver and selenium, as
tests/test_webchat_browser.py (whose server and browser helpers this reuses)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.test_reports import HOAN_KIEM, assert_no_person, read_pdf, read_xlsx, seed_reports, sql_counts
from tests.test_reports_web import staff
from tests.test_webchat_browser import _free_port, chromium, serve_demo

pytestmark = pytest.mark.browser

from selenium.webdriver.common.by import By  # noqa: E402  (after the skip in test_webchat_browser)
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from bot.texts import t  # noqa: E402

ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"
SCREENSHOT = "/tmp/tiepdan-dashboard.png"  # to look at after a run


async def _prepare(database: Path) -> tuple[str, int, dict[str, int]]:
    """Seeds the served database; a leader of the economy unit with a console session: (token, unit,
    the unit's figures by direct SQL)."""
    from sqlalchemy import select

    from bot.staff_sessions import SessionPolicy, open_session
    from storage.db import create_engine, session_factory
    from storage.models import Unit, User
    from storage.uow import UnitOfWorkFactory

    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    try:
        served = SimpleNamespace(uows=UnitOfWorkFactory(session_factory(engine)))
        seeded = await seed_reports(served)
        unit = seeded.units[ECONOMY]
        async with served.uows() as uow:
            assert (await uow.session.execute(select(Unit.name).where(Unit.id == unit))).scalar_one() == ECONOMY
            leader = User(language="vi", commune_code=HOAN_KIEM, role="leader", unit_id=unit)
            uow.session.add(leader)
            await uow.session.flush()
            token = await open_session(uow, leader, SessionPolicy(), via="test")
            await uow.commit()
        return token, unit, await sql_counts(served, (HOAN_KIEM,), unit=unit)
    finally:
        await engine.dispose()


def _downloaded(folder: Path, suffix: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in folder.iterdir() if p.suffix == suffix]
        if done and not list(folder.glob("*.crdownload")):
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} downloaded: {list(folder.iterdir())}")


def test_a_leader_downloads_the_reports_and_reads_the_dashboard(tmp_path):
    port = _free_port()
    workdir = tmp_path / "serve"
    workdir.mkdir()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    with serve_demo(workdir, port):
        token, unit, expected = asyncio.run(_prepare(workdir / "t.db"))
        origin = f"http://127.0.0.1:{port}"
        with chromium("--window-size=1280,900", log_console=True) as driver:
            driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
            driver.get(f"{origin}/healthz")
            driver.add_cookie({"name": "tiepdan_staff", "value": token, "path": "/", "httpOnly": True})
            driver.get(f"{origin}/console/reports")
            period = driver.find_element(By.ID, "period")
            period.clear()
            period.send_keys("2026-q3")
            driver.find_element(By.ID, "show").click()
            # the click starts a navigation; the links are the new page's only once it has the period
            WebDriverWait(driver, 15).until(EC.url_contains("period=2026-q3"))
            WebDriverWait(driver, 15).until(EC.element_to_be_clickable((By.ID, "download-xlsx"))).click()
            xlsx = _downloaded(downloads, ".xlsx")
            assert xlsx.name == f"bao-cao-don-vi-{unit}-2026-Q3.xlsx"
            driver.find_element(By.ID, "download-pdf").click()  # a second file from the same page
            pdf = _downloaded(downloads, ".pdf")

            sheets = read_xlsx(xlsx.read_bytes())
            summary = sheets[t("vi", "reports.section.summary")]
            total = summary[t("vi", "reports.total")]
            assert total[:3] == [expected["received"], expected["accepted"], expected["resolved"]]
            assert expected["received"] > 0
            text = read_pdf(pdf.read_bytes())
            line = next(row for row in text.splitlines() if row.startswith(t("vi", "reports.total")))
            assert line.split()[2:5] == [str(expected["received"]), str(expected["accepted"]), str(expected["resolved"])]
            assert ECONOMY in text and "Đúng hạn" in text
            for blob in (text, "\n".join(str(v) for rows in sheets.values() for row in rows.values() for v in row)):
                assert_no_person(blob)

            driver.get(f"{origin}/console/dashboard?period=2026-Q3")
            charts = driver.find_elements(By.CSS_SELECTOR, "figure.chart img")
            assert len(charts) == 4
            assert all(driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", img)
                       for img in charts)
            received = driver.find_element(By.CSS_SELECTOR, '[data-kpi="received"] .kpi-value').text
            assert int(received.replace(".", "")) == expected["received"]
            assert driver.find_elements(By.CSS_SELECTOR, "#hotspots svg rect")
            assert_no_person(driver.page_source)
            refused = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
            assert not refused, refused
            driver.save_screenshot(SCREENSHOT)


async def test_with_a_tile_server_the_dashboard_draws_the_hot_spots_over_the_tiles(settings, tmp_path):
    """Leaflet (vendored) over a tile server of another origin — a small server of the test's own,
    answering every tile with a PNG — under the page's security policy, which names that server."""
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    from bot.app import Runtime
    from storage.demo import seed_demo

    if not settings.database_url.startswith("sqlite"):
        pytest.skip("the page, not the database, is under test")
    port, tile_port = _free_port(), _free_port()
    png = (Path(__file__).resolve().parents[1] / "bot/reports/static/leaflet/images/layers.png").read_bytes()
    tile_app = web.Application()
    async def tile(request: web.Request) -> web.Response:
        return web.Response(body=png, content_type="image/png")

    tile_app.router.add_get("/{z}/{x}/{y}.png", tile)
    tile_server = TestServer(tile_app, host="127.0.0.1", port=tile_port)
    await tile_server.start_server()
    tiles = f"http://127.0.0.1:{tile_port}/{{z}}/{{x}}/{{y}}.png"
    settings = settings.model_copy(update={"map_tiles_url": tiles, "map_tiles_attribution": "Bản đồ thử"})
    runtime = Runtime(settings, run_scheduler=False)
    await runtime.start(migrate=False)
    server = TestServer(runtime.web_app, host="127.0.0.1", port=port)
    await server.start_server()
    try:
        await seed_demo(runtime.uows, settings)
        await seed_reports(runtime)
        token = await staff(runtime, "chairman", "Văn phòng HĐND và UBND phường")

        def look() -> tuple[int, int, list[str]]:
            with chromium("--window-size=1280,1600", log_console=True) as driver:
                driver.get(f"http://127.0.0.1:{port}/healthz")
                driver.add_cookie({"name": "tiepdan_staff", "value": token, "path": "/"})
                driver.get(f"http://127.0.0.1:{port}/console/dashboard?period=2026-Q3")
                deadline = time.monotonic() + 15
                while time.monotonic() < deadline and not driver.find_elements(By.CSS_SELECTOR, "#tile-map img.leaflet-tile-loaded"):
                    time.sleep(0.2)
                cells = len(driver.find_elements(By.CSS_SELECTOR, "#tile-map path.leaflet-interactive"))
                loaded = len(driver.find_elements(By.CSS_SELECTOR, "#tile-map img.leaflet-tile-loaded"))
                refused = [e["message"] for e in driver.get_log("browser") if "Content Security Policy" in e["message"]]
                return cells, loaded, refused

        cells, loaded, refused = await asyncio.to_thread(look)
        assert cells >= 10 and loaded > 0 and not refused, (cells, loaded, refused)
    finally:
        await server.close()
        await tile_server.close()
        await runtime.stop()
