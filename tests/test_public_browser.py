"""The public pages in a real headless Chromium on a phone-sized screen (390×844), from
``tiepdan serve --demo``: every page renders without a console error or a horizontal scroll bar,
with JavaScript off too, and a keyboard user reaches the content by the skip link first."""

from __future__ import annotations

import pytest

from tests.test_webchat_browser import PHONE, _free_port, chromium, serve_demo

from selenium.webdriver.common.by import By  # noqa: E402  (after the import that skips without selenium)
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

PAGES = ("", "/schedule", "/disclosures", "/projects", "/consultations", "/announcements", "/figures")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    with serve_demo(tmp_path_factory.mktemp("public"), port):
        yield f"http://127.0.0.1:{port}"


def _phone(driver) -> None:
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)


def _follow(driver, by: str, value: str) -> None:
    """Clicks a link and waits for the page it leads to: a click only starts the navigation, and what
    is looked up right after could still be the old page (or none)."""
    before = driver.find_element(By.TAG_NAME, "html")
    WebDriverWait(driver, 10).until(EC.element_to_be_clickable((by, value))).click()
    WebDriverWait(driver, 15).until(EC.staleness_of(before))
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")


def test_every_page_on_a_phone_without_console_errors(server):
    with chromium(log_console=True) as driver:
        _phone(driver)
        for path in PAGES:
            for query in ("", "?lang=en"):
                driver.get(f"{server}/c/phuong-hoan-kiem{path}{query}")
                assert driver.find_element(By.TAG_NAME, "h1").text, path
                assert driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth"), path
                # The stylesheet applied (the header's colour), no inline style needed by the strict CSP.
                colour = driver.execute_script(
                    "return getComputedStyle(document.querySelector('header')).backgroundColor")
                assert colour == "rgb(138, 28, 28)", (path, colour)
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []


def test_keyboard_and_no_javascript(server):
    with chromium("--blink-settings=scriptEnabled=false") as driver:
        _phone(driver)
        driver.get(f"{server}/c/phuong-hoan-kiem/schedule")
        assert "Chủ tịch UBND phường Hoàn Kiếm" in driver.find_element(By.ID, "main").text
        driver.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        focused = driver.switch_to.active_element
        assert focused.get_attribute("class") == "skip" and focused.is_displayed()
        focused.send_keys(Keys.ENTER)
        assert driver.current_url.endswith("#main")
        _follow(driver, By.LINK_TEXT, "English")
        assert driver.find_element(By.TAG_NAME, "h1").text == "Citizen reception schedule"
        links = driver.find_elements(By.CSS_SELECTOR, "a[href$='schedule.ics?lang=en']")
        assert links and links[0].is_displayed()


def test_chat_about_a_project_opens_the_web_chat_at_the_project(server):
    """A visitor reading a project on their phone taps «Trò chuyện về mục này»: the web chat asks the
    language once, then shows that project (with its follow button), and the address forgets the link so
    a reload does not open it again."""
    from tests.test_webchat_browser import _tap, _wait_text

    with chromium(log_console=True) as driver:
        _phone(driver)
        driver.get(f"{server}/c/phuong-hoan-kiem/projects")
        _follow(driver, By.PARTIAL_LINK_TEXT, "Cải tạo vỉa hè")
        _follow(driver, By.LINK_TEXT, "Trò chuyện về mục này")
        _wait_text(driver, "Vui lòng chọn ngôn ngữ")
        _tap(driver, "🇻🇳 Tiếng Việt")
        _wait_text(driver, "tiến độ 40%")
        assert "?start=" not in driver.current_url
        bots = [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#log .msg.bot")]
        assert "Cải tạo vỉa hè, thoát nước phố Hàng Bạc" in bots[-1]
        driver.refresh()
        _wait_text(driver, "tiến độ 40%")
        assert len(driver.find_elements(By.CSS_SELECTOR, "#log .msg.bot")) == len(bots)  # nothing opened twice
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert errors == []
