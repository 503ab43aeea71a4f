"""Screenshots of a citizen's whole journey in the web chat on a phone (390×844), from the demo data.

    .venv/bin/python scripts/screenshots_webchat.py [--out docs/screenshots]

Starts ``tiepdan serve --demo`` on a throw-away SQLite database, drives headless Chromium (Debian's
chromium and chromium-driver, and selenium) through the journey — greeting, ward, menu, a report of a
pothole with a photo and the phone's location, the receipt, the item tracked after a reload, the page
in English — and writes docs/screenshots/webchat-*.png. The README shows them.
"""

from __future__ import annotations

import argparse
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

ROOT = Path(__file__).resolve().parents[1]
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
HOAN_KIEM = {"latitude": 21.0288, "longitude": 105.8525, "accuracy": 10}


def pothole_photo(width: int = 320, height: int = 200) -> bytes:
    """A PNG of grey asphalt with a dark pothole, drawn here so the script needs no image files."""
    rows = []
    for y in range(height):
        row = bytearray(b"\x00")
        for x in range(width):
            inside = ((x - width * 0.55) / (width * 0.22)) ** 2 + ((y - height * 0.6) / (height * 0.18)) ** 2
            shade = 40 + int(25 * inside) if inside < 1 else 120 + (x * 7 + y * 13) % 23
            row += bytes((shade, shade, min(255, shade + 6)))
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows))) + chunk(b"IEND", b""))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(workdir: Path, port: int) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}
    env.update(TIEPDAN_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 'demo.db'}", TIEPDAN_WEB_PORT=str(port))
    log = open(workdir / "serve.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--demo"], env=env, cwd=ROOT,
                               stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
            return process
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                sys.exit("tiepdan serve --demo did not start:\n" + (workdir / "serve.log").read_text())
            time.sleep(0.2)


def phone_browser(profile: str) -> webdriver.Chrome:
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                 "--window-size=390,844", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    return driver


class Journey:
    def __init__(self, driver, out: Path):
        self.driver, self.out = driver, out

    def wait_for(self, text: str) -> None:
        WebDriverWait(self.driver, 20).until(EC.text_to_be_present_in_element((By.ID, "log"), text))

    def tap(self, label: str) -> None:
        xpath = f"(//main[@id='log']//button[normalize-space()='{label}'])[last()]"
        WebDriverWait(self.driver, 10).until(EC.element_to_be_clickable((By.XPATH, xpath))).click()

    def type(self, text: str) -> None:
        box = WebDriverWait(self.driver, 10).until(EC.element_to_be_clickable((By.ID, "text")))
        box.send_keys(text, Keys.ENTER)

    def shot(self, name: str, *, top_of: str | None = None) -> None:
        """Settles, optionally scrolls the message containing ``top_of`` to the top, and saves the screen."""
        time.sleep(0.6)
        if top_of is not None:
            self.driver.execute_script("""
                const m = [...document.querySelectorAll('#log .msg')].filter(e => e.textContent.includes(arguments[0])).pop();
                if (m) m.scrollIntoView({block: 'start'});""", top_of)
            time.sleep(0.3)
        path = self.out / f"webchat-{name}.png"
        self.driver.save_screenshot(str(path))
        print(path.relative_to(ROOT))


def run(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="tiepdan-shots-"))
    photo = workdir / "o-ga.png"
    photo.write_bytes(pothole_photo())
    port = free_port()
    server = serve(workdir, port)
    url = f"http://127.0.0.1:{port}"
    try:
        driver = phone_browser(str(workdir / "profile"))
        try:
            driver.execute_cdp_cmd("Browser.grantPermissions", {"permissions": ["geolocation"], "origin": url})
            driver.execute_cdp_cmd("Emulation.setGeolocationOverride", HOAN_KIEM)
            j = Journey(driver, out)
            driver.get(url)
            j.wait_for("Xin chào")
            j.shot("1-welcome")
            j.tap("🇻🇳 Tiếng Việt")
            j.wait_for("Bạn sống ở xã, phường nào?")
            j.type("hoan kiem")
            j.tap("Phường Hoàn Kiếm, Thành phố Hà Nội")
            j.wait_for("Bạn muốn làm gì?")
            j.shot("2-menu", top_of="Bạn sống ở xã, phường nào?")
            j.tap("📝 Gửi phản ánh, khiếu nại, tố cáo")
            j.tap("💬 Phản ánh, kiến nghị")
            j.tap("🛣️ Đường sá, hạ tầng")
            j.wait_for("Hãy mô tả sự việc")
            j.type("Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần từ tuần trước.")
            j.wait_for("Bạn có ảnh chụp hiện trường không?")
            driver.find_element(By.ID, "photo").send_keys(str(photo))
            j.wait_for("Đã nhận ảnh 1/5.")
            j.shot("3-describe-and-photo", top_of="Hãy mô tả sự việc")
            j.tap("✅ Xong")
            j.wait_for("Sự việc ở đâu?")
            driver.find_element(By.ID, "where").click()
            j.wait_for("Đã ghi nhận vị trí.")
            j.tap("🙈 Gửi ẩn danh")
            j.wait_for("Kiểm tra lại trước khi gửi")
            j.shot("4-summary", top_of="Kiểm tra lại trước khi gửi")
            j.tap("📨 Gửi")
            j.wait_for("Mã hồ sơ của bạn")
            j.shot("5-receipt", top_of="Đã tiếp nhận")
            driver.refresh()  # the next day: the chat is still there, both sides, old menus greyed
            j.wait_for("Mã hồ sơ của bạn")
            driver.find_element(By.ID, "text").send_keys("Cho tôi hỏi khi nào")  # a draft, kept over reloads
            driver.refresh()
            j.wait_for("Mã hồ sơ của bạn")
            j.shot("6-after-reload", top_of="Kiểm tra lại trước khi gửi")
        finally:
            driver.quit()
        driver = phone_browser(str(workdir / "profile-en"))
        try:
            j = Journey(driver, out)
            driver.get(url)
            j.wait_for("Xin chào")
            j.tap("🇬🇧 English")
            j.wait_for("Which commune or ward do you live in?")
            j.type("hoan kiem")
            j.tap("Phường Hoàn Kiếm, Thành phố Hà Nội")
            j.wait_for("What would you like to do?")
            j.shot("7-english", top_of="Which commune or ward")
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    run(parser.parse_args().out.resolve())


if __name__ == "__main__":
    main()
