"""The staff console in a real headless Chromium on a phone-sized screen, against ``tiepdan serve --demo``
on a real socket: an officer asks for a login link with /console in their chat, opens it, finds an
item by its code, accepts it and answers it with a photo, and the citizen's web chat receives the
answer and may open the photo; then records a walk-in whose deadlines equal the chat filing's of the
same day."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.test_console import PNG
from tests.test_webchat_browser import PHONE, ROOT, _free_port, chromium, serve_demo

pytestmark = pytest.mark.browser

from selenium.webdriver.common.by import By  # noqa: E402  (after test_webchat_browser's skip)
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

ECONOMY = "Phòng Kinh tế, Hạ tầng và Đô thị"
ANSWER = "Đã thay bóng đèn cả dãy ngõ 45, mời bà kiểm tra."
STREET_LIGHT = "Đèn đường hỏng cả dãy ngõ 45 phố Hàng Bạc từ tuần trước."


def _query(database: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql, args).fetchall()


class Chat:
    """A chat tab driven through the web chat's API over the socket (tests/webchat.py's Browser needs
    only ``post`` and ``get`` of a client that keeps cookies)."""

    def __init__(self, origin: str):
        import aiohttp

        self.session = aiohttp.ClientSession(base_url=origin, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                             headers={"Origin": origin})

    async def __aenter__(self):
        from tests.webchat import Browser

        return Browser(self.session)

    async def __aexit__(self, *exc):
        await self.session.close()


async def _file_and_get_link(origin: str, invite: str) -> tuple[str, str]:
    """The citizen files an item; the officer redeems an invite and asks for a console link."""
    from tests.webchat import file_item, reach_menu

    async with Chat(origin) as citizen, Chat(origin) as officer:
        await reach_menu(citizen)
        await file_item(citizen, "feedback", "infrastructure", STREET_LIGHT)
        await reach_menu(officer)
        await officer.send(f"/officer {invite}")
        messages = await officer.send("/console")
        cookie = citizen.client.cookie_jar.filter_cookies(citizen.client._base_url)["tiepdan_chat"].value
        return re.search(r"https?://\S+/console/login/\S+", messages[-1]["text"]).group(0), cookie


async def _citizen_told(origin: str, cookie: str) -> tuple[dict, bytes, int]:
    """What the citizen's chat shows now, the answer's photo as the citizen fetches it, and the
    status a stranger gets for the same photo."""
    import aiohttp

    async with aiohttp.ClientSession(base_url=origin, cookie_jar=aiohttp.CookieJar(unsafe=True)) as tab, \
            aiohttp.ClientSession(base_url=origin) as stranger:
        tab.cookie_jar.update_cookies({"tiepdan_chat": cookie})
        messages = (await (await tab.get("/api/chat/messages", params={"after": 0, "wait": 0})).json())["messages"]
        [told] = [m for m in messages if ANSWER in m["text"]]
        photo = await (await tab.get(told["photos"][0])).read()
        return told, photo, (await stranger.get(told["photos"][0])).status


def _click(driver, css: str) -> None:
    WebDriverWait(driver, 10).until(EC.element_to_be_clickable((By.CSS_SELECTOR, css))).click()


def test_an_officer_logs_in_with_a_link_finds_an_item_answers_it_with_a_photo_and_the_citizen_is_told(tmp_path):
    port = _free_port()
    workdir = tmp_path / "serve"
    workdir.mkdir()
    photo = tmp_path / "den-da-sua.png"
    photo.write_bytes(PNG)
    with serve_demo(workdir, port) as env:
        database, origin = workdir / "t.db", f"http://127.0.0.1:{port}"
        [(unit,)] = _query(database, "SELECT id FROM units WHERE name = ?", ECONOMY)
        made = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "invite", "--unit", str(unit)], env=env,
                              cwd=ROOT, capture_output=True, text=True, check=True)
        invite = re.search(r"invite code (\S+)", made.stdout).group(1)
        link, citizen_cookie = asyncio.run(_file_and_get_link(origin, invite))
        [(item_id, code)] = _query(database, "SELECT id, tracking_code FROM items")

        with chromium() as driver:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
            driver.get(f"{origin}/console")
            assert driver.current_url.endswith("/console/login") and "/console" in driver.page_source
            driver.get(link)
            _click(driver, "main form button[type=submit]")
            WebDriverWait(driver, 10).until(EC.url_to_be(f"{origin}/console"))
            search = driver.find_element(By.NAME, "q")
            search.send_keys(code.lower().replace("-", " "), Keys.ENTER)  # as a person would type it
            WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.LINK_TEXT, code))).click()
            WebDriverWait(driver, 10).until(EC.url_contains(f"/console/items/{item_id}"))
            assert "Điều" in driver.find_element(By.CSS_SELECTOR, "ul.deadlines").text  # deadlines cite the law
            _click(driver, 'form[data-action="accept"] button[type=submit]')
            WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, 'form[data-action="answer"]')))
            summary = driver.find_element(By.XPATH, "//form[@data-action='answer']/preceding-sibling::summary")
            if not summary.find_element(By.XPATH, "..").get_attribute("open"):
                summary.click()  # the first action's section is open; the others open with a tap
            form = driver.find_element(By.CSS_SELECTOR, 'form[data-action="answer"]')
            form.find_element(By.NAME, "text").send_keys(ANSWER)
            form.find_element(By.NAME, "photos").send_keys(str(photo))
            before = driver.find_element(By.TAG_NAME, "main")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            WebDriverWait(driver, 15).until(EC.staleness_of(before))  # the page after the post, not the one before
            notice = WebDriverWait(driver, 10).until(EC.presence_of_element_located((By.CSS_SELECTOR, "p.notice")))
            assert "người dân" in notice.text
            loaded = "const i = document.querySelector('ol.timeline img.thumb'); return i && i.complete && i.naturalWidth"
            assert WebDriverWait(driver, 10).until(lambda d: d.execute_script(loaded))  # staff see the photo too

            told, fetched, stranger = asyncio.run(_citizen_told(origin, citizen_cookie))
            assert code in told["text"] and fetched == PNG and stranger == 404

            # a walk-in recorded today gets the deadlines the chat filing of today got
            driver.get(f"{origin}/console/register/new")
            visit = driver.find_element(By.ID, "visit")
            visit.find_element(By.CSS_SELECTOR, "select[name=kind] option[value=feedback]").click()
            visit.find_element(By.CSS_SELECTOR, "select[name=category] option[value=infrastructure]").click()
            visit.find_element(By.NAME, "summary").send_keys("Bà Hoa đến trình bày: cống thoát nước ngõ 45 bị tắc.")
            visit.find_element(By.NAME, "person_name").send_keys("Lê Thị Hoa")
            visit.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            WebDriverWait(driver, 10).until(EC.url_contains("/console/register/entries/"))
            shown = [e.text for e in driver.find_elements(By.CSS_SELECTOR, "ul.deadlines .due")]
            [(walk_in,)] = _query(database, "SELECT id FROM items WHERE channel = 'reception'")
            at_filing = ("SELECT phase, due_on, rule_id, citation FROM item_deadlines d JOIN items i ON i.id = d.item_id "
                         "WHERE i.id = ? AND d.created_at = i.received_at ORDER BY phase")
            chat, desk = _query(database, at_filing, item_id), _query(database, at_filing, walk_in)
            assert len(desk) == 4 and desk == chat  # both filed today: the same clocks, the same articles
            assert sorted(datetime.fromisoformat(d).strftime("%d/%m/%Y") for _, d, _, _ in desk) == sorted(shown)
