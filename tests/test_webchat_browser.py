"""The web chat page in a real headless Chromium on a phone-sized screen, against ``tiepdan serve --demo``
started the way a newcomer starts it. Needs Debian's chromium and chromium-driver and the selenium package
(installed by .ci/run); without them the module is skipped, or fails under CI=true."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parents[1]
CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOT = "/tmp/tiepdan-webchat.png"
PHONE = {"width": 360, "height": 740, "deviceScaleFactor": 2, "mobile": True}


def _unavailable(message: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message, allow_module_level=True)


if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    _unavailable("headless Chromium needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)")
try:
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as EC
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError:
    _unavailable("the browser tests need selenium (pip install selenium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_demo(workdir: Path, port: int):
    """``tiepdan serve --demo`` on SQLite in ``workdir``, started the way a newcomer starts it; yields the
    environment it runs with (its database is ``workdir / "t.db"``)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}  # no Telegram token
    env.update(TIEPDAN_DATABASE_URL=f"sqlite+aiosqlite:///{workdir / 't.db'}", TIEPDAN_WEB_PORT=str(port))
    output = open(workdir / "serve.log", "wb")  # a file, not a pipe: a full pipe would stall the server
    process = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--demo"], env=env, cwd=ROOT,
                               stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    try:
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("tiepdan serve --demo did not start:\n" + (workdir / "serve.log").read_text())
                time.sleep(0.2)
        yield env
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.close()


@contextmanager
def chromium(*flags: str, log_console: bool = False):
    """A headless Chromium of its own (a fresh profile), with ``flags`` added."""
    profile = tempfile.mkdtemp(prefix="tiepdan-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-quic",
                 "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=390,844", f"--user-data-dir={profile}", *flags):
        options.add_argument(flag)
    if log_console:
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    with serve_demo(tmp_path_factory.mktemp("serve"), port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def browser():
    with chromium() as driver:
        # Headless windows are at least 500 px wide; emulate a small phone to really test that layout.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        yield driver


def _log(driver) -> str:
    return driver.find_element(By.ID, "log").text


def _wait_text(driver, text: str, timeout: float = 15) -> None:
    WebDriverWait(driver, timeout).until(EC.text_to_be_present_in_element((By.ID, "log"), text))


def _wait_sent(driver) -> None:
    """Until the message typed last has gone: while one is being sent the page ignores taps, and its
    answer may bring a newer menu (a tap right after typing was lost under load in CI)."""
    WebDriverWait(driver, 15).until(lambda d: d.execute_script(
        "return !document.getElementById('text').disabled && !document.querySelector('#log .msg.me.pending')"))


def _tap(driver, label: str) -> None:
    """Taps the newest button with this label and waits until the bot has answered."""
    xpath = f"(//main[@id='log']//button[normalize-space()='{label}'])[last()]"
    before = len(driver.find_elements(By.CSS_SELECTOR, "#log .msg.bot"))
    _wait_sent(driver)
    WebDriverWait(driver, 10).until(EC.element_to_be_clickable((By.XPATH, xpath))).click()
    WebDriverWait(driver, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log .msg.bot")) > before)


def _type(driver, text: str, *, enter: bool = False) -> None:
    box = WebDriverWait(driver, 10).until(EC.element_to_be_clickable((By.ID, "text")))
    box.send_keys(text)
    if enter:
        box.send_keys(Keys.ENTER)
    else:
        driver.find_element(By.ID, "send").click()


def _my_messages(driver) -> list[str]:
    """The citizen's lines as written (an emoji the phone cannot draw is hidden, not dropped)."""
    return driver.execute_script("return [...document.querySelectorAll('#log .msg.me')].map(m => m.textContent)")


def _assert_fits_a_phone(driver) -> None:
    width = driver.execute_script("return window.innerWidth")
    assert width == PHONE["width"]
    assert driver.execute_script("return document.documentElement.scrollWidth") <= width, "page scrolls sideways"
    small = driver.execute_script("""
        return [...document.querySelectorAll('button, textarea')]
          .filter(e => e.offsetParent && e.getBoundingClientRect().height < 44)
          .map(e => e.textContent || e.id);""")
    assert small == [], f"tap targets under 44 px: {small}"
    assert driver.execute_script(
        "return parseFloat(getComputedStyle(document.querySelector('#log .msg')).fontSize)") >= 16


def test_a_citizen_starts_chooses_a_ward_and_reads_the_schedule(server, browser):
    browser.get(server)
    _wait_text(browser, "Xin chào")
    assert browser.title == "tiepdan — Phản ánh, kiến nghị"
    assert browser.find_element(By.TAG_NAME, "h1").text == "Tiếp nhận phản ánh, kiến nghị"
    assert browser.find_element(By.ID, "text").get_attribute("placeholder") == "Nhập tin nhắn…"
    assert _my_messages(browser) == []  # the automatic /start is not shown as if the citizen typed it

    _tap(browser, "🇻🇳 Tiếng Việt")
    _wait_text(browser, "Bạn sống ở xã, phường nào?")
    assert _my_messages(browser) == ["🇻🇳 Tiếng Việt"]
    _type(browser, "hoan kiem", enter=True)
    _tap(browser, "Phường Hoàn Kiếm, Thành phố Hà Nội")
    _wait_text(browser, "Bạn muốn làm gì?")
    _tap(browser, "📅 Lịch tiếp công dân")
    _wait_text(browser, "Chủ tịch UBND phường Hoàn Kiếm")
    assert _my_messages(browser) == ["🇻🇳 Tiếng Việt", "hoan kiem", "Phường Hoàn Kiếm, Thành phố Hà Nội",
                                     "📅 Lịch tiếp công dân"]
    assert browser.find_element(By.ID, "text").get_attribute("value") == ""
    _assert_fits_a_phone(browser)
    browser.save_screenshot(SCREENSHOT)

    browser.refresh()  # same cookie: the conversation is still there and goes on
    _wait_text(browser, "Chủ tịch UBND phường Hoàn Kiếm")
    assert "Xin chào" in _log(browser)
    menus = _log(browser).count("Bạn muốn làm gì?")
    _tap(browser, "⬅️ Về menu chính")
    WebDriverWait(browser, 10).until(lambda d: _log(d).count("Bạn muốn làm gì?") > menus)


def test_typed_markup_is_shown_literally(server, browser):
    typed = "Xem ảnh <img src=x onerror=alert(1)> <b>đậm</b>"
    browser.get(server)
    _wait_text(browser, "Xin chào")
    _type(browser, typed)
    WebDriverWait(browser, 10).until(lambda d: _my_messages(d) == [typed])
    assert browser.find_elements(By.CSS_SELECTOR, "#log img, #log b") == []
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert.text


def test_a_message_that_could_not_be_sent_is_kept_and_sent_again(server, browser):
    browser.get(server)
    _wait_text(browser, "Xin chào")
    _tap(browser, "🇻🇳 Tiếng Việt")
    _wait_text(browser, "Bạn sống ở xã, phường nào?")

    browser.execute_cdp_cmd("Network.enable", {})
    browser.execute_cdp_cmd("Network.emulateNetworkConditions",
                            {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    _type(browser, "hoan kiem")
    retry = WebDriverWait(browser, 10).until(
        EC.element_to_be_clickable((By.XPATH, "//p[@id='status']//button[normalize-space()='Thử lại']")))
    assert "chưa được gửi" in browser.find_element(By.ID, "status").text
    assert browser.find_element(By.ID, "text").get_attribute("value") == "hoan kiem"  # nothing to retype
    assert "hoan kiem" not in _my_messages(browser)

    browser.execute_cdp_cmd("Network.emulateNetworkConditions",
                            {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    retry.click()
    _wait_text(browser, "Phường Hoàn Kiếm, Thành phố Hà Nội")
    assert _my_messages(browser) == ["🇻🇳 Tiếng Việt", "hoan kiem"]
    assert browser.find_element(By.ID, "status").is_displayed() is False
    assert browser.find_element(By.ID, "text").get_attribute("value") == ""


def test_a_photo_and_the_current_location_are_sent_from_the_page(server, browser, tmp_path):
    from tests.test_webchat_media import png

    photo = tmp_path / "o-ga.png"
    photo.write_bytes(png(40, 30))
    browser.execute_cdp_cmd("Browser.grantPermissions", {"permissions": ["geolocation"], "origin": server})
    browser.execute_cdp_cmd("Emulation.setGeolocationOverride",
                            {"latitude": 21.0340, "longitude": 105.8500, "accuracy": 10})
    browser.get(server)
    _wait_text(browser, "Xin chào")
    _tap(browser, "🇻🇳 Tiếng Việt")
    _type(browser, "hoan kiem")
    _tap(browser, "Phường Hoàn Kiếm, Thành phố Hà Nội")
    _tap(browser, "📝 Gửi phản ánh, khiếu nại, tố cáo")
    _tap(browser, "💬 Phản ánh, kiến nghị")
    _tap(browser, "🛣️ Đường sá, hạ tầng")
    _type(browser, "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần.")
    _wait_text(browser, "Bạn có ảnh chụp hiện trường không?")
    browser.find_element(By.ID, "photo").send_keys(str(photo))
    _wait_text(browser, "Đã nhận ảnh 1/5.")
    shown = browser.find_elements(By.CSS_SELECTOR, "#log .msg.me img")
    assert shown and browser.execute_script("return arguments[0].naturalWidth", shown[-1]) == 40
    _tap(browser, "✅ Xong")
    _wait_text(browser, "Sự việc ở đâu?")
    browser.find_element(By.ID, "where").click()
    _wait_text(browser, "Đã ghi nhận vị trí.")
    assert "📍 Vị trí của tôi" in _my_messages(browser)
