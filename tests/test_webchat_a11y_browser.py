"""Accessibility of the web chat page in real headless Chromium, phone (390×844) and desktop: axe-core's
WCAG 2.1 A/AA rules, every control reachable by keyboard with a visible focus ring (the 📷 button
included), names for screen readers, AA contrast computed in the browser, text at 200% without
sideways scrolling, and words where emoji cannot be drawn.

axe-core comes from npm (``npm install axe-core``, cached in /tmp/tiepdan-axe; or point
TIEPDAN_AXE_CORE at an axe.min.js); without npm only that one test is skipped."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.test_webchat_browser import By, Keys, WebDriverWait, _free_port, _tap, _wait_text, chromium, serve_demo
from tests.test_webchat_page_browser import DESKTOP, PHONE, live_buttons, to_menu

pytestmark = pytest.mark.browser
AXE_CACHE = Path("/tmp/tiepdan-axe")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    with serve_demo(tmp_path_factory.mktemp("serve"), port):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture(params=["phone", "desktop"])
def browser(request):
    with chromium() as driver:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE if request.param == "phone" else DESKTOP)
        yield driver


def axe_source() -> str | None:
    configured = os.environ.get("TIEPDAN_AXE_CORE")
    script = Path(configured) if configured else AXE_CACHE / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists() and not configured:
        try:
            subprocess.run(["npm", "install", "--prefix", str(AXE_CACHE), "--no-audit", "--no-fund", "axe-core@4"],
                           check=True, capture_output=True, timeout=180)
        except (OSError, subprocess.SubprocessError):
            return None
    return script.read_text() if script.exists() else None


def test_axe_finds_no_wcag_a_or_aa_violation(server, browser):
    source = axe_source()
    if source is None:
        pytest.skip("axe-core is not available (npm install axe-core, or set TIEPDAN_AXE_CORE)")
    to_menu(browser, server)  # answered menus greyed, the newest live, both sides shown
    browser.execute_script(source)
    result = browser.execute_async_script("""
        const done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
           .then(r => done(r.violations.map(v => [v.id, v.impact, v.nodes.map(n => n.target.join(' ')).slice(0, 5)])))
           .catch(e => done([['axe failed', String(e), []]]));""")
    assert result == []


def _focus_ring(driver) -> dict:
    return driver.execute_script("""
        const e = document.activeElement, s = getComputedStyle(e);
        return {id: e.id, text: (e.getAttribute('aria-label') || e.textContent).trim(), tag: e.tagName,
                outline: s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2};""")


def test_every_control_is_reached_by_keyboard_with_a_visible_focus(server, browser):
    to_menu(browser, server)
    reached = []
    for _ in range(60):  # round the page once, whatever had focus last (past its end Tab comes back to the top)
        browser.switch_to.active_element.send_keys(Keys.TAB)
        ring = _focus_ring(browser)
        if reached and ring == reached[0]:
            break
        if ring["tag"] != "BODY":
            reached.append(ring)
    ids = [r["id"] for r in reached]
    assert "menu" in ids
    reached = reached[ids.index("menu"):] + reached[:ids.index("menu")]  # from the top of the page
    names = [r["id"] or r["text"] for r in reached]
    assert [r for r in reached if not r["outline"]] == [], "focus not visible"
    for control in ("menu", "attach", "where", "text", "send"):
        assert control in names
    assert set(live_buttons(browser)) <= set(names)  # each option of the live menu
    assert "🇬🇧 English" not in names  # an answered menu is out of the tab order
    assert names.index("menu") < names.index("📅 Lịch tiếp công dân") < names.index("attach") < names.index("send")

    # The 📷 button opens the photo picker from the keyboard.
    browser.execute_script("""document.getElementById('photo').addEventListener('click', e => {
        window.picked = true; e.preventDefault(); });""")
    browser.find_element(By.ID, "attach").send_keys(Keys.ENTER)
    assert browser.execute_script("return window.picked === true")
    # An option is chosen with the keyboard as with a tap.
    option = browser.find_element(By.XPATH, "//main[@id='log']//button[normalize-space()='📅 Lịch tiếp công dân']")
    option.send_keys(Keys.ENTER)
    _wait_text(browser, "Chủ tịch UBND phường Hoàn Kiếm")


def test_controls_have_names_and_text_meets_aa_contrast(server, browser):
    to_menu(browser, server)
    unnamed = browser.execute_script("""
        return [...document.querySelectorAll('button, textarea, input:not([hidden]), a')].filter(e => {
          const label = e.getAttribute('aria-label') || e.textContent.trim() || (e.labels && e.labels.length);
          return !label;
        }).map(e => e.outerHTML.slice(0, 80));""")
    assert unnamed == []
    ratios = browser.execute_script("""
        const channel = c => { c /= 255; return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4; };
        const luminance = rgb => 0.2126 * channel(rgb[0]) + 0.7152 * channel(rgb[1]) + 0.0722 * channel(rgb[2]);
        const parse = c => c.match(/[\\d.]+/g).map(Number);
        const background = e => {
          for (; e; e = e.parentElement) {
            const c = parse(getComputedStyle(e).backgroundColor);
            if (c.length < 4 || c[3] > 0) return c;
          }
          return [255, 255, 255];
        };
        const ratio = (fg, bg) => { const a = luminance(fg) + 0.05, b = luminance(bg) + 0.05; return Math.max(a, b) / Math.min(a, b); };
        const out = {};
        const check = (name, e, pseudo) => {
          if (e) out[name] = Math.round(ratio(parse(getComputedStyle(e, pseudo).color), background(e)) * 100) / 100;
        };
        check('heading', document.querySelector('h1'));
        check('menu', document.getElementById('menu'));
        check('bot message', document.querySelector('#log .msg.bot'));
        check('own message', document.querySelector('#log .msg.me'));
        check('live option', document.querySelector('#log .buttons:not(.inert) button'));
        check('answered option', document.querySelector('#log .buttons.inert button'));
        check('send', document.getElementById('send'));
        check('placeholder', document.getElementById('text'), '::placeholder');
        check('older', document.getElementById('older'));
        return out;""")
    assert len(ratios) == 9
    assert {name: value for name, value in ratios.items() if value < 4.5} == {}


@pytest.mark.parametrize("how", ["text size 200%", "zoom 200%"])
def test_text_at_200_percent_fits_a_phone_without_scrolling_sideways(server, how):
    with chromium() as phone:
        phone.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        to_menu(phone, server)
        base = phone.execute_script("return parseFloat(getComputedStyle(document.querySelector('#log .msg')).fontSize)")
        if how == "text size 200%":  # the reader's larger text setting
            phone.execute_script("document.documentElement.style.fontSize = '200%'")
        else:  # browser zoom: a 390 px phone at 200% lays the page out in 195 CSS pixels
            phone.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", dict(PHONE, width=195, height=422))
        size = phone.execute_script("return parseFloat(getComputedStyle(document.querySelector('#log .msg')).fontSize)")
        width = phone.execute_script("return window.innerWidth")
        assert phone.execute_script("return document.documentElement.scrollWidth") <= width
        outside = phone.execute_script("""
            return [...document.querySelectorAll('header button, #composer button, #composer textarea, #log .msg')]
              .filter(e => { const r = e.getBoundingClientRect(); return r.left < 0 || r.right > window.innerWidth + 0.5; })
              .map(e => e.id || e.textContent.slice(0, 30));""")
        assert outside == []
        if how == "text size 200%":
            assert size == 2 * base
        _tap(phone, "📅 Lịch tiếp công dân")  # and it still works
        _wait_text(phone, "Chủ tịch UBND phường Hoàn Kiếm")


def test_emoji_controls_have_words_for_screen_readers_and_for_phones_without_emoji(server, browser):
    browser.get(server)
    _wait_text(browser, "Xin chào")
    attach, where = browser.find_element(By.ID, "attach"), browser.find_element(By.ID, "where")
    assert (attach.get_attribute("aria-label"), where.get_attribute("aria-label")) == ("Gửi ảnh", "Gửi vị trí hiện tại")
    assert browser.execute_script("return [...document.querySelectorAll('#composer .emoji')]"
                                  ".every(e => e.getAttribute('aria-hidden') === 'true')")
    # Where emoji are drawn as empty boxes the page shows words (chat.js detects it; forced here).
    browser.execute_script("document.documentElement.classList.add('no-emoji')")
    assert (attach.text, where.text) == ("Ảnh", "Vị trí")
    WebDriverWait(browser, 2).until(lambda d: attach.size["height"] >= 44)
    # The options' emoji go too (not as empty boxes), their words stay; screen readers skip the emoji.
    english = browser.find_element(By.XPATH, "//main[@id='log']//button[normalize-space()='🇬🇧 English']")
    assert english.text == "English"
    assert english.find_element(By.CLASS_NAME, "emoji").get_attribute("aria-hidden") == "true"
    browser.execute_script("document.documentElement.classList.remove('no-emoji')")
    assert english.text == "🇬🇧 English"
