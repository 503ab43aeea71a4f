"""The web chat page in a real headless Chromium, against ``tiepdan serve --demo`` started the way the
README starts it. Needs Debian's chromium and chromium-driver (installed by .ci/run)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    message = "headless Chromium needs Debian's chromium and chromium-driver"
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}
    env.update(TIEPDAN_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('srv') / 't.db'}",
               TIEPDAN_WEB_PORT=str(port), PYTHONPATH=str(ROOT))
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--demo"], env=env, cwd=ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/healthz", timeout=1)
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("tiepdan serve --demo did not start:\n" + process.stdout.read().decode())
            time.sleep(0.2)
    yield url
    process.terminate()
    process.wait(10)


@pytest.fixture
def browser():
    profile = tempfile.mkdtemp(prefix="tiepdan-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=390,844", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _wait_text(driver, text: str, timeout: float = 10) -> None:
    WebDriverWait(driver, timeout).until(EC.text_to_be_present_in_element((By.ID, "log"), text))


def _tap(driver, label: str) -> None:
    """Tap the newest button with this label, as a thumb would."""
    def newest(d):
        found = [b for b in d.find_elements(By.CSS_SELECTOR, "#log button") if b.text.strip() == label]
        return found[-1] if found and found[-1].is_enabled() else False
    WebDriverWait(driver, 10).until(newest).click()


def _type(driver, text: str) -> None:
    box = WebDriverWait(driver, 10).until(EC.element_to_be_clickable((By.ID, "text")))
    box.send_keys(text)
    driver.find_element(By.ID, "send").click()


def test_a_citizen_starts_chooses_a_ward_and_reads_the_schedule(server, browser):
    browser.get(server)
    _wait_text(browser, "Xin chào")
    assert browser.title == "tiepdan — Phản ánh, kiến nghị"
    _tap(browser, "🇻🇳 Tiếng Việt")
    _wait_text(browser, "Bạn sống ở xã, phường nào?")
    _type(browser, "hoan kiem")
    _tap(browser, "Phường Hoàn Kiếm, Thành phố Hà Nội")
    _wait_text(browser, "Bạn muốn làm gì?")
    _tap(browser, "📅 Lịch tiếp công dân")
    _wait_text(browser, "Chủ tịch UBND phường Hoàn Kiếm")
    browser.save_screenshot("/tmp/tiepdan-webchat.png")

    browser.refresh()  # same cookie: the conversation is still there and goes on
    _wait_text(browser, "Chủ tịch UBND phường Hoàn Kiếm")
    assert "Xin chào" in browser.find_element(By.ID, "log").text
    _tap(browser, "⬅️ Về menu chính")
    WebDriverWait(browser, 10).until(
        lambda d: d.find_element(By.ID, "log").text.count("Bạn muốn làm gì?") >= 2)


def test_typed_markup_is_shown_literally(server, browser):
    browser.get(server)
    _wait_text(browser, "Xin chào")
    _type(browser, '<img src=x onerror="document.title=\'pwned\'">')
    _wait_text(browser, "<img src=x")
    assert browser.find_elements(By.CSS_SELECTOR, "#log img") == []
    assert browser.title != "pwned"
