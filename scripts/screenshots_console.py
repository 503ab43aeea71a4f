"""Screenshots of the staff console for the README: ``python scripts/screenshots_console.py``.

Starts ``tiepdan serve --demo`` on a throw-away SQLite database, files a few items through the web chat
as citizens would, makes a chairman of the demo ward with an invite (``tiepdan admin invite``), asks for
a login link with /console as they would, logs in with it in headless Chromium, records a walk-in and a
reception session, and writes docs/screenshots/console-<page>.png (the inbox, an item, the register,
a walk-in form, the leader's dashboard; the inbox and an item on a phone too)."""

from __future__ import annotations

import asyncio
import os
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860, "deviceScaleFactor": 1, "mobile": False}
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}
ITEMS = [("feedback", "infrastructure", "Đèn đường hỏng cả dãy ngõ 45 phố Hàng Bạc từ tuần trước, tối om."),
         ("feedback", "environment", "Rác ùn ứ đầu ngõ 5 Hàng Bè ba ngày chưa thu gom, bốc mùi."),
         ("feedback", "public_order", "Quán karaoke ngõ Tạm Thương hát đến 1 giờ sáng mỗi đêm."),
         ("feedback", "infrastructure", "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần."),
         ("complaint_first", "land", "Tôi khiếu nại quyết định xử phạt số 15/QĐ-XPHC vì sai đối tượng.")]
CONTACT = ("Nguyễn Thị Lan", "Số 3 Hàng Bạc, tổ 5", "0912345678")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def _chat(origin: str, invite: str) -> str:
    """Citizens file the items; the chairman redeems the invite and asks for a login link."""
    import aiohttp

    from tests.webchat import Browser, file_item, reach_menu

    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=origin, headers={"Origin": origin}, cookie_jar=jar) as session:
        citizen = Browser(session)
        await reach_menu(citizen)
        for kind, category, text in ITEMS:
            await file_item(citizen, kind, category, text, CONTACT if kind != "feedback" else None)
    async with aiohttp.ClientSession(base_url=origin, headers={"Origin": origin},
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        chairman = Browser(session)
        await reach_menu(chairman)
        await chairman.send(f"/officer {invite}")
        reply = await chairman.send("/console")
        return re.search(r"https?://\S+/console/login/\S+", reply[-1]["text"]).group(0)


def shoot(driver, name: str, *, device: dict = DESKTOP, whole: bool = False) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", device)
    if whole:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**device, "height": min(height, 2400)})
    time.sleep(0.3)
    driver.save_screenshot(str(OUT / f"console-{name}.png"))
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", device)


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="tiepdan-console-shots-"))
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}
    env.update(TIEPDAN_DATABASE_URL=f"sqlite+aiosqlite:///{work / 'demo.db'}", TIEPDAN_WEB_PORT=str(port),
               TIEPDAN_METRICS_PORT="0", TIEPDAN_FLOOD_BURST="100000", TIEPDAN_FLOOD_RATE="10000",
               TIEPDAN_FLOOD_ADDRESS_BURST="1000000", TIEPDAN_FLOOD_ADDRESS_RATE="100000")  # a script types fast
    log = open(work / "serve.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--demo"], env=env, cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"{origin}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        with sqlite3.connect(work / "demo.db") as db:
            [(office,)] = db.execute("SELECT id FROM units WHERE name = 'Văn phòng HĐND và UBND phường'").fetchall()
        made = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "invite", "--unit", str(office), "--role",
                               "chairman"], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
        link = asyncio.run(_chat(origin, re.search(r"invite code (\S+)", made.stdout).group(1)))
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1280,860", "--hide-scrollbars"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        OUT.mkdir(parents=True, exist_ok=True)
        try:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)
            driver.get(f"{origin}/console")
            shoot(driver, "login")
            driver.get(link)
            driver.find_element(By.CSS_SELECTOR, "main form button[type=submit]").click()
            time.sleep(0.5)
            # a walk-in and a reception session, recorded as the desk would
            driver.get(f"{origin}/console/register/meetings/new")
            form = driver.find_element(By.CSS_SELECTOR, "main form")
            form.find_element(By.NAME, "title").send_keys("Đối thoại doanh nghiệp thứ Bảy đầu tháng")
            form.find_element(By.NAME, "chaired_by").send_keys("Chủ tịch UBND phường")
            form.find_element(By.NAME, "attendance").send_keys("Đỗ Minh Tâm - Công ty TNHH Minh Phát\nVũ Thị Lan - Hộ kinh doanh")
            form.find_element(By.NAME, "minutes").send_keys("Doanh nghiệp đề nghị mở rộng giờ bốc dỡ hàng trên phố Hàng Bạc.")
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            time.sleep(0.5)
            driver.get(f"{origin}/console/register/new")
            form = driver.find_element(By.ID, "visit")
            form.find_element(By.CSS_SELECTOR, "select[name=category] option[value=public_order]").click()
            form.find_element(By.NAME, "summary").send_keys("Bà Hoa đến trình bày: xe tải bốc dỡ hàng chắn lối vào ngõ 45 mỗi sáng.")
            form.find_element(By.NAME, "person_name").send_keys("Lê Thị Hoa")
            form.find_element(By.NAME, "person_address").send_keys("Số 8 ngõ Tạm Thương")
            shoot(driver, "register-new", whole=True)
            form.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
            time.sleep(0.5)
            shoot(driver, "register-receipt")
            driver.get(f"{origin}/console/register")
            shoot(driver, "register", whole=True)
            driver.get(f"{origin}/console")
            shoot(driver, "inbox", whole=True)
            shoot(driver, "inbox-phone", device=PHONE)
            driver.get(f"{origin}/console/items/1")
            shoot(driver, "item", whole=True)
            shoot(driver, "item-phone", device=PHONE)
            driver.get(f"{origin}/console/dashboard")
            time.sleep(1.0)
            shoot(driver, "dashboard", whole=True)
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait(10)
        log.close()
    print(f"screenshots in {OUT}")


if __name__ == "__main__":
    main()
