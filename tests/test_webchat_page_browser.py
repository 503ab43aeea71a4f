"""The web chat page as a messenger, in real headless Chromium against ``tiepdan serve --demo``: history
after a reload (both sides, opened at the newest, older on scroll-up, a "new messages" pill), old menus
greyed and inert, safe links and photos, the page's own texts in English, a draft kept over a reload.
Phone (390×844) and desktop viewports."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from tests.test_webchat_browser import (By, EC, Keys, WebDriverWait, _free_port, _log, _my_messages, _tap, _type,
                                        _wait_text, chromium, serve_demo)

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}
DESKTOP = {"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": False}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("serve")
    port = _free_port()
    with serve_demo(workdir, port):
        yield f"http://127.0.0.1:{port}", f"sqlite+aiosqlite:///{workdir / 't.db'}"


@pytest.fixture(params=["phone", "desktop"])
def browser(request):
    with chromium() as driver:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE if request.param == "phone" else DESKTOP)
        yield driver


@pytest.fixture
def phone():
    with chromium() as driver:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        yield driver


def chat_of(driver) -> str:
    return driver.get_cookie("tiepdan_chat")["value"].rpartition(".")[0]


def notify(database: str, chat: str, texts: list[str], *, photos: tuple[str, ...] = ()) -> None:
    """Messages to the chat as an officer's notices reach it: outbox rows the server's dispatcher delivers."""
    from bot.domain.dialog import Reply
    from storage.db import create_engine, session_factory
    from storage.uow import UnitOfWorkFactory

    async def enqueue():
        engine = create_engine(database)
        try:
            async with UnitOfWorkFactory(session_factory(engine))() as uow:
                stamp = time.monotonic_ns()
                await uow.outbox.enqueue_many([("web", chat, Reply(text, photos=photos), f"test:{chat}:{stamp}:{n}")
                                               for n, text in enumerate(texts)])
                await uow.commit()
        finally:
            await engine.dispose()

    asyncio.run(enqueue())


def to_menu(driver, server: str) -> None:
    driver.get(server)
    _wait_text(driver, "Xin chào")
    _tap(driver, "🇻🇳 Tiếng Việt")
    _type(driver, "hoan kiem")
    _tap(driver, "Phường Hoàn Kiếm, Thành phố Hà Nội")
    _wait_text(driver, "Bạn muốn làm gì?")


def messages(driver) -> list[str]:
    return [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#log .msg")]


def live_buttons(driver) -> list[str]:
    """The labels of the buttons that can still be pressed (as written: emoji included, drawn or not)."""
    return driver.execute_script("return [...document.querySelectorAll('#log .msg.bot button')]"
                                 ".filter(b => !b.disabled).map(b => b.textContent)")


def in_view(driver, element) -> bool:
    return driver.execute_script("""
        const r = arguments[0].getBoundingClientRect(), log = document.getElementById('log').getBoundingClientRect();
        return r.bottom > log.top && r.top < log.bottom;""", element)


def at_end(driver) -> bool:
    return driver.execute_script("const l = document.getElementById('log');"
                                 "return l.scrollHeight - l.scrollTop - l.clientHeight < 80;")


def test_a_reload_keeps_both_sides_and_greys_the_answered_menus(demo, browser):
    server, _ = demo
    to_menu(browser, server)
    before = messages(browser)
    browser.refresh()
    _wait_text(browser, "Bạn muốn làm gì?")
    WebDriverWait(browser, 10).until(lambda d: messages(d) == before)  # the same conversation, both sides
    assert _my_messages(browser) == ["🇻🇳 Tiếng Việt", "hoan kiem", "Phường Hoàn Kiếm, Thành phố Hà Nội"]
    answered = browser.find_element(By.XPATH, "//main[@id='log']//button[normalize-space()='🇬🇧 English']")
    assert not answered.is_enabled() and answered.get_attribute("aria-disabled") == "true"
    assert browser.execute_script("return getComputedStyle(arguments[0]).borderStyle", answered) == "dashed"
    assert "📅 Lịch tiếp công dân" in live_buttons(browser) and "🇬🇧 English" not in live_buttons(browser)
    browser.execute_script("arguments[0].click()", answered)  # even forced, a greyed button sends nothing
    time.sleep(1)
    assert messages(browser) == before
    _tap(browser, "📅 Lịch tiếp công dân")
    _wait_text(browser, "Chủ tịch UBND phường Hoàn Kiếm")
    # The menu just answered is greyed at once, without a reload.
    assert "💬 Phản ánh, kiến nghị" not in live_buttons(browser)
    assert "📅 Lịch tiếp công dân" not in live_buttons(browser)[:1]


def test_a_long_chat_opens_at_the_newest_loads_older_on_scroll_and_follows_new_ones(demo, browser):
    server, database = demo
    browser.get(server)
    _wait_text(browser, "Xin chào")
    notify(database, chat_of(browser), [f"Thông báo số {n}" for n in range(1, 151)])
    _wait_text(browser, "Thông báo số 150")
    browser.refresh()
    _wait_text(browser, "Thông báo số 150")
    newest = browser.find_element(By.XPATH, "//div[contains(@class,'bot')][contains(., 'Thông báo số 150')]")
    assert in_view(browser, newest) and at_end(browser)
    assert len(browser.find_elements(By.CSS_SELECTOR, "#log .msg.bot")) < 151  # not everything at once

    # Scrolling up brings the older messages in above, without jumping away from what is read.
    for _ in range(20):
        top = browser.find_elements(By.CSS_SELECTOR, "#log .msg")[0]
        browser.execute_script("document.getElementById('log').scrollTop = 0")
        time.sleep(0.4)
        if "Xin chào" in _log(browser):
            break
        assert in_view(browser, top)
    bots = [m.text for m in browser.find_elements(By.CSS_SELECTOR, "#log .msg.bot")]
    assert "Xin chào" in bots[0]
    assert [b for b in bots if b.startswith("Thông báo")] == [f"Thông báo số {n}" for n in range(1, 151)]
    WebDriverWait(browser, 5).until(lambda d: d.find_element(By.ID, "older").text == "Đầu cuộc trò chuyện")

    # Reading old messages: a new one does not pull the reader down; a pill offers it.
    pill = browser.find_element(By.ID, "fresh")
    notify(database, chat_of(browser), ["Cán bộ đã trả lời phản ánh của bạn."])
    _wait_text(browser, "Cán bộ đã trả lời")
    WebDriverWait(browser, 5).until(lambda d: pill.is_displayed())
    assert pill.text == "Tin nhắn mới ↓" and not at_end(browser)
    pill.click()
    WebDriverWait(browser, 5).until(lambda d: at_end(d) and not pill.is_displayed())
    # At the end, the next one is simply followed.
    notify(database, chat_of(browser), ["Phản ánh đã được giải quyết."])
    _wait_text(browser, "Phản ánh đã được giải quyết.")
    WebDriverWait(browser, 5).until(at_end)
    assert not pill.is_displayed()



ZOOMED = dict(PHONE, width=195, height=422)  # a 390 px phone at 200% browser zoom


def test_a_message_after_the_answer_is_followed_unless_the_reader_scrolled_up(demo, phone):
    """Seen in CI at 200% zoom: the answer to a tap shows the citizen's question at the top, the view is
    then not at the very end, and a message arriving a moment later put up the "new messages" pill over
    the menu's buttons instead of being shown. Only the reader's own scrolling up stops the following,
    and the pill never covers a message."""
    server, database = demo
    phone.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", ZOOMED)
    to_menu(phone, server)
    pill = phone.find_element(By.ID, "fresh")
    notify(database, chat_of(phone), ["Lịch tiếp công dân tuần sau đã được cập nhật."])
    _wait_text(phone, "Lịch tiếp công dân tuần sau đã được cập nhật.")
    newest = phone.find_elements(By.CSS_SELECTOR, "#log .msg.bot")[-1]
    WebDriverWait(phone, 5).until(lambda d: in_view(d, newest))
    assert not pill.is_displayed()

    phone.execute_script("document.getElementById('log').scrollTop = 0")  # the reader goes back up
    time.sleep(0.5)
    top = phone.find_elements(By.CSS_SELECTOR, "#log .msg")[0]
    notify(database, chat_of(phone), ["Phản ánh của bạn đã được tiếp nhận."])
    WebDriverWait(phone, 10).until(lambda d: pill.is_displayed())
    assert in_view(phone, top) and not at_end(phone)
    assert phone.execute_script("""
        const p = arguments[0].getBoundingClientRect(), l = document.getElementById('log').getBoundingClientRect();
        return p.top >= l.bottom - 0.5;""", pill), "the pill covers the log"


def test_a_reader_at_the_end_stays_there_when_the_screen_shrinks(demo, phone):
    """Zoom, a turned phone or the on-screen keyboard opening make the log shorter and its text taller."""
    server, _ = demo
    to_menu(phone, server)
    phone.execute_script("const l = document.getElementById('log'); l.scrollTop = l.scrollHeight")
    WebDriverWait(phone, 5).until(at_end)
    phone.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", ZOOMED)
    WebDriverWait(phone, 5).until(at_end)
    # Scrolled up on purpose, the reader is left where they are.
    phone.execute_script("document.getElementById('log').scrollTop = 0")
    time.sleep(0.3)
    phone.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
    time.sleep(0.5)
    assert phone.execute_script("return document.getElementById('log').scrollTop") == 0


HOLD_SEND = """
    const real = window.fetch;
    window.fetch = function (url, options) {
      if (String(url).includes('/api/chat/send') && !window.heldSend) {
        window.heldSend = true;
        return new Promise((go) => { window.releaseSend = go; }).then(() => real(url, options));
      }
      return real(url, options);
    };"""


def test_while_a_message_is_on_its_way_the_page_shows_nothing_else_can_be_sent(demo, phone):
    """A tap while a message is being sent is not taken (the answer brings a newer menu); the page says
    so: the live menu is dimmed and the log busy, the composer's buttons and the header's menu disabled.
    The send is held in the page (fetch wrapped) as a slow network would hold it."""
    server, _ = demo
    to_menu(phone, server)
    live = "#log .msg.bot .buttons:not(.inert) button"
    assert float(phone.find_element(By.CSS_SELECTOR, live).value_of_css_property("opacity")) == 1
    phone.execute_script(HOLD_SEND)
    _type(phone, "/menu")
    WebDriverWait(phone, 5).until(lambda d: d.execute_script("return typeof window.releaseSend === 'function'"))
    assert phone.find_element(By.ID, "log").get_attribute("aria-busy") == "true"
    assert all(not phone.find_element(By.ID, name).is_enabled() for name in ("menu", "attach", "send", "text"))
    button = phone.find_element(By.CSS_SELECTOR, live)
    assert float(button.value_of_css_property("opacity")) < 1
    assert button.value_of_css_property("cursor") == "progress"
    before = len(_my_messages(phone))
    button.click()  # not taken: nothing more is sent or shown
    time.sleep(0.3)
    assert len(_my_messages(phone)) == before

    answers = len(phone.find_elements(By.CSS_SELECTOR, "#log .msg.bot"))
    phone.execute_script("window.releaseSend()")
    WebDriverWait(phone, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log .msg.bot")) > answers)
    WebDriverWait(phone, 5).until(lambda d: d.find_element(By.ID, "log").get_attribute("aria-busy") == "false")
    assert all(phone.find_element(By.ID, name).is_enabled() for name in ("menu", "attach", "send", "text"))
    assert float(phone.find_element(By.CSS_SELECTOR, live).value_of_css_property("opacity")) == 1


def test_links_open_safely_and_photos_show_as_images(demo, phone, tmp_path):
    from tests.test_webchat_media import png

    server, database = demo
    to_menu(phone, server)
    _tap(phone, "📝 Gửi phản ánh, khiếu nại, tố cáo")
    _tap(phone, "💬 Phản ánh, kiến nghị")
    _tap(phone, "🛣️ Đường sá, hạ tầng")
    _type(phone, "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần.")
    _wait_text(phone, "Bạn có ảnh chụp hiện trường không?")
    photo = tmp_path / "o-ga.png"
    photo.write_bytes(png(40, 30))
    phone.find_element(By.ID, "photo").send_keys(str(photo))
    _wait_text(phone, "Đã nhận ảnh 1/5.")
    key = phone.execute_async_script("""
        const done = arguments[arguments.length - 1];
        fetch('/api/chat/history').then(r => r.json())
          .then(page => done(page.messages.filter(m => m.photos && m.photos.length).pop().photos[0]));""")
    notify(database, chat_of(phone), [
        f"Công khai tại https://hoankiem.hanoi.gov.vn/cong-khai?nam=2026. Ảnh: {key} "
        "javascript:alert(1) <b>đậm</b> ftp://example.org/x"])
    _wait_text(phone, "Công khai tại")
    message = phone.find_element(By.XPATH, "//div[contains(@class,'bot')][contains(., 'Công khai tại')]")
    links = message.find_elements(By.TAG_NAME, "a")
    assert [a.get_attribute("href") for a in links] == [
        "https://hoankiem.hanoi.gov.vn/cong-khai?nam=2026", f"{server}{key}"]  # the full stop is not the link's
    assert all("noopener" in a.get_attribute("rel") and a.get_attribute("target") == "_blank" for a in links)
    image = links[1].find_element(By.TAG_NAME, "img")
    WebDriverWait(phone, 5).until(lambda d: d.execute_script("return arguments[0].naturalWidth", image) == 40)
    assert image.get_attribute("alt") == "Ảnh đính kèm"
    assert message.find_elements(By.TAG_NAME, "b") == [] and "javascript:alert(1) <b>đậm</b>" in message.text
    # After a reload the citizen's own photo is still on their side, as an image.
    phone.refresh()
    _wait_text(phone, "Công khai tại")
    again = phone.find_elements(By.CSS_SELECTOR, "#log .msg.me img")
    assert again and phone.execute_script("return arguments[0].naturalWidth", again[-1]) == 40


def test_the_page_itself_speaks_english_once_english_is_chosen(demo, phone):
    server, _ = demo
    phone.get(server)
    _wait_text(phone, "Xin chào")
    assert phone.find_element(By.TAG_NAME, "html").get_attribute("lang") == "vi"
    _tap(phone, "🇬🇧 English")
    _wait_text(phone, "Which commune or ward do you live in?")
    chrome = {"lang": phone.find_element(By.TAG_NAME, "html").get_attribute("lang"), "title": phone.title,
              "heading": phone.find_element(By.TAG_NAME, "h1").text,
              "placeholder": phone.find_element(By.ID, "text").get_attribute("placeholder"),
              "send": phone.find_element(By.ID, "send").text,
              "photo": phone.find_element(By.ID, "attach").get_attribute("aria-label"),
              "menu": phone.find_element(By.ID, "menu").get_attribute("aria-label")}
    assert chrome == {"lang": "en", "title": "tiepdan — Feedback and petitions",
                      "heading": "Citizens' feedback and petitions", "placeholder": "Type a message…",
                      "send": "Send", "photo": "Send a photo", "menu": "Open the main menu"}
    phone.execute_cdp_cmd("Network.enable", {})
    phone.execute_cdp_cmd("Network.emulateNetworkConditions",
                          {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    _type(phone, "hoan kiem")
    WebDriverWait(phone, 10).until(EC.element_to_be_clickable(
        (By.XPATH, "//p[@id='status']//button[normalize-space()='Try again']")))
    assert "Connection lost" in phone.find_element(By.ID, "status").text
    phone.execute_cdp_cmd("Network.emulateNetworkConditions",
                          {"offline": False, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1})
    phone.refresh()  # and it opens in English from then on
    _wait_text(phone, "Which commune or ward do you live in?")
    assert phone.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en"
    assert phone.find_element(By.ID, "send").text == "Send"


def test_a_draft_and_a_half_written_submission_survive_a_reload(demo, browser):
    server, _ = demo
    to_menu(browser, server)
    _tap(browser, "📝 Gửi phản ánh, khiếu nại, tố cáo")
    _tap(browser, "💬 Phản ánh, kiến nghị")
    _tap(browser, "🛣️ Đường sá, hạ tầng")
    _wait_text(browser, "Hãy mô tả")
    box = browser.find_element(By.ID, "text")
    box.send_keys("Ổ gà lớn trước số 12 phố Hàng Bạc,")
    browser.refresh()
    _wait_text(browser, "Hãy mô tả")
    box = WebDriverWait(browser, 10).until(EC.element_to_be_clickable((By.ID, "text")))
    assert box.get_attribute("value") == "Ổ gà lớn trước số 12 phố Hàng Bạc,"
    # The submission goes on where it was: the description step takes the finished text.
    box.send_keys(" xe máy ngã nhiều lần.", Keys.ENTER)
    _wait_text(browser, "Bạn có ảnh chụp hiện trường không?")
    assert _my_messages(browser)[-1] == "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần."
    browser.refresh()
    _wait_text(browser, "Bạn có ảnh chụp hiện trường không?")
    assert browser.find_element(By.ID, "text").get_attribute("value") == ""  # sent: no draft left
    assert "⏭️ Bỏ qua" in live_buttons(browser)
    _tap(browser, "⏭️ Bỏ qua")
    _wait_text(browser, "Sự việc ở đâu?")


@pytest.mark.parametrize("language, choice", [("vi", "🇻🇳 Tiếng Việt"), ("en", "🇬🇧 English")])
def test_every_text_key_reads_in_its_own_language_on_the_page(demo, phone, language, choice):
    """Each text of the catalogue (placeholders filled) sent to the chat, read back from the page after
    a reload (page by page, scrolling up), exactly as written and in the chat's language; and the
    page's own texts in that language too (detector: tests/test_webchat_page.py)."""
    from tests.test_webchat_page import BILINGUAL, chat_texts, filled, wrong_language

    server, database = demo
    phone.get(server)
    _wait_text(phone, "Xin chào")
    _tap(phone, choice)
    catalogue = chat_texts(language)
    keys = sorted(catalogue)
    texts = [filled(catalogue[key]) for key in keys]
    notify(database, chat_of(phone), texts)
    phone.refresh()
    WebDriverWait(phone, 20).until(lambda d: d.execute_script(
        "const m = document.querySelectorAll('#log .msg.bot'); return m.length && m[m.length - 1].textContent")
        == texts[-1])
    for _ in range(60):  # up to the greeting, the chat's first message
        if "Xin chào" in phone.execute_script("return document.querySelector('#log .msg.bot').textContent"):
            break
        phone.execute_script("document.getElementById('log').scrollTop = 0")
        time.sleep(0.3)
    shown = phone.execute_script("return [...document.querySelectorAll('#log .msg.bot')].map(m => m.textContent)")
    shown = shown[-len(texts):]
    assert shown == texts  # every one, in order, exactly as sent: nothing lost to the rendering
    wrong = {key: why for key, text in zip(keys, shown)
             if key not in BILINGUAL[language] and (why := wrong_language(language, text))}
    assert wrong == {}
    chrome = phone.execute_script("""
        const texts = [document.title, document.querySelector('h1').textContent, document.getElementById('text').placeholder,
                       document.getElementById('older').textContent];
        for (const e of document.querySelectorAll('[aria-label]')) texts.push(e.getAttribute('aria-label'));
        for (const e of document.querySelectorAll('button')) if (!e.closest('#log')) texts.push(e.textContent.trim());
        return texts.filter(t => t && !/^[\\p{Emoji}\\s]+$/u.test(t));""")
    assert phone.find_element(By.TAG_NAME, "html").get_attribute("lang") == language
    assert {text: why for text in chrome if (why := wrong_language(language, text))} == {}


def test_an_officer_sees_the_citizens_photo_as_an_image_not_a_path(demo, tmp_path):
    """A citizen files a pothole with a photo; an officer of the unit, logged in on the web chat with
    an invite, opens the item from its notice and sees the photo itself."""
    import sqlite3
    import subprocess
    import sys

    from tests.test_webchat_browser import ROOT
    from tests.test_webchat_media import png

    server, database = demo
    path = database.removeprefix("sqlite+aiosqlite:///")
    with sqlite3.connect(path) as connection:
        [(unit,)] = connection.execute("SELECT id FROM units WHERE name = 'Phòng Kinh tế, Hạ tầng và Đô thị'")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}
    env["TIEPDAN_DATABASE_URL"] = database
    invite = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "invite", "--unit", str(unit), "--role",
                             "officer"], env=env, cwd=ROOT, capture_output=True, text=True, check=True)
    code = invite.stdout.split("invite code ", 1)[1].split()[0]
    with chromium() as officer:
        officer.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", DESKTOP)
        officer.get(server)
        _wait_text(officer, "Xin chào")
        _tap(officer, "🇻🇳 Tiếng Việt")
        _type(officer, f"/officer {code}")
        _wait_text(officer, "Bạn đã được ghi nhận là")
        with chromium() as citizen:
            citizen.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
            to_menu(citizen, server)
            _tap(citizen, "📝 Gửi phản ánh, khiếu nại, tố cáo")
            _tap(citizen, "💬 Phản ánh, kiến nghị")
            _tap(citizen, "🛣️ Đường sá, hạ tầng")
            _type(citizen, "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần.")
            _wait_text(citizen, "Bạn có ảnh chụp hiện trường không?")
            photo = tmp_path / "o-ga.png"
            photo.write_bytes(png(48, 36))
            citizen.find_element(By.ID, "photo").send_keys(str(photo))
            _wait_text(citizen, "Đã nhận ảnh 1/5.")
            _tap(citizen, "✅ Xong")
            _tap(citizen, "⏭️ Bỏ qua")
            _tap(citizen, "🙈 Gửi ẩn danh")
            _tap(citizen, "📨 Gửi")
            _wait_text(citizen, "Mã hồ sơ của bạn")
        _wait_text(officer, "Hồ sơ mới", timeout=30)  # the new-item notice, through the long-poll
        _tap(officer, "📂 Mở hồ sơ")
        _wait_text(officer, "Ảnh: 1")
        item = officer.find_elements(By.XPATH, "//div[contains(@class,'bot')][contains(., 'Ảnh: 1')]")[-1]
        image = item.find_element(By.CSS_SELECTOR, "img")
        WebDriverWait(officer, 10).until(lambda d: d.execute_script("return arguments[0].naturalWidth", image) == 48)
        assert "/media/" not in item.text  # the photo itself, and a link to open it, not its path
        assert len(item.find_elements(By.CSS_SELECTOR, "img")) == 1
        assert item.find_element(By.XPATH, ".//a[normalize-space()='Mở ảnh cỡ lớn']").get_attribute("href") == \
            image.get_attribute("src")
