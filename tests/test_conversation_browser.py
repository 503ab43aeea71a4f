"""Issue 18 in a real headless Chromium, through the web chat page of ``tiepdan serve --demo``: a draft
kept by «Menu» survives a reload and is sent (8, phone 390×844); information added in several
messages until «Xong» (6, desktop); a leader's announcement and an early close go through a preview
with a reason, and the public page shows the real closing day (9, phone)."""

from __future__ import annotations

import asyncio
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import select

from bot.domain.workflow import Action
from bot.officers import create_invite
from bot.petitions import move
from storage.db import create_engine, session_factory
from storage.models import Consultation, Item, Unit
from storage.uow import UnitOfWorkFactory
from tests.test_webchat_browser import _free_port, _log, _type, _wait_sent, _wait_text, chromium, serve_demo

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 3, "mobile": True}
DESCRIPTION = "Ổ gà lớn trước số 12 phố Hàng Bạc, xe máy ngã nhiều lần từ tuần trước."


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    port = _free_port()
    with serve_demo(tmp_path_factory.mktemp("serve"), port) as env:
        yield f"http://127.0.0.1:{port}", env["TIEPDAN_DATABASE_URL"]


def on_database(url: str, work):
    """Run ``work(uows)`` on the server's database, as another process (an officer's console) would."""
    async def run():
        engine = create_engine(url)
        try:
            return await work(UnitOfWorkFactory(session_factory(engine)))
        finally:
            await engine.dispose()
    return asyncio.run(run())


@pytest.fixture
def phone():
    with chromium() as driver:
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
        yield driver


@pytest.fixture
def desktop():
    with chromium("--window-size=1280,900") as driver:
        yield driver


def _start(driver, base: str) -> None:
    driver.get(base + "/")
    _wait_text(driver, "Tiếng Việt")
    _tap(driver, "Tiếng Việt")
    _type(driver, "hoan kiem")
    _wait_text(driver, "Phường Hoàn Kiếm")
    _tap(driver, "Phường Hoàn Kiếm, Thành phố Hà Nội")
    _wait_text(driver, "Bạn muốn làm gì?")


def _tap(driver, words: str) -> None:
    """Taps the newest button whose label has these words (the page may draw a label's emoji apart) and
    waits until the bot has answered."""
    xpath = f"(//main[@id='log']//button[contains(normalize-space(), '{words}')])[last()]"
    before = len(driver.find_elements(By.CSS_SELECTOR, "#log .msg.bot"))
    _wait_sent(driver)
    WebDriverWait(driver, 10).until(EC.element_to_be_clickable((By.XPATH, xpath))).click()
    WebDriverWait(driver, 15).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#log .msg.bot")) > before)


def _bot_texts(driver) -> list[str]:
    return [m.text for m in driver.find_elements(By.CSS_SELECTOR, "#log .msg.bot")]


def _describe(driver) -> None:
    _tap(driver, "Gửi phản ánh, khiếu nại, tố cáo")
    _tap(driver, "Phản ánh, kiến nghị")
    _tap(driver, "Đường sá, hạ tầng")
    _type(driver, DESCRIPTION)
    _wait_text(driver, "Bạn có ảnh chụp hiện trường không?")


def test_menu_keeps_a_draft_that_survives_a_reload_and_is_sent(demo, phone):
    base, _ = demo
    _start(phone, base)
    _describe(phone)
    _type(phone, "/menu")
    _wait_text(phone, "Bạn đang soạn dở (")
    _tap(phone, "Giữ bản nháp, về menu")
    _wait_text(phone, "Đã giữ bản nháp.")
    phone.refresh()  # a reload: the page reads the conversation back from the server
    _wait_text(phone, "Đã giữ bản nháp.")
    _tap(phone, "Tiếp tục bản nháp (")
    WebDriverWait(phone, 15).until(lambda d: _bot_texts(d)[-1].startswith("Bạn có ảnh chụp hiện trường không?"))
    _tap(phone, "Bỏ qua")
    _wait_text(phone, "cạnh ô nhập để gửi vị trí hiện tại")  # the page's own location button, not Telegram's 📎
    _tap(phone, "Bỏ qua")
    _tap(phone, "Gửi ẩn danh")
    assert DESCRIPTION in _bot_texts(phone)[-1]
    _tap(phone, "Gửi")
    _wait_text(phone, "Đã tiếp nhận. Mã hồ sơ của bạn:")
    assert phone.execute_script("return document.documentElement.scrollWidth") <= PHONE["width"]


def test_information_is_added_in_several_messages_until_done(demo, desktop):
    base, database = demo
    _start(desktop, base)
    _describe(desktop)
    _tap(desktop, "Bỏ qua")
    _tap(desktop, "Bỏ qua")
    _tap(desktop, "Gửi ẩn danh")
    _tap(desktop, "Gửi")
    _wait_text(desktop, "Đã tiếp nhận. Mã hồ sơ của bạn:")
    code = _log(desktop).split("Mã hồ sơ của bạn: ", 1)[1].split()[0]

    async def ask(uows):
        async with uows() as uow:
            item = (await uow.session.execute(select(Item).where(Item.tracking_code == code))).scalar_one()
            await move(uow, item, Action.accept, actor_id=None)
            await move(uow, item, Action.request_info, actor_id=None, note="Xin gửi thêm mô tả vị trí.")
            await uow.commit()
    on_database(database, ask)
    _wait_text(desktop, "chờ bạn bổ sung thông tin", timeout=30)
    _tap(desktop, "Xem hồ sơ")
    _tap(desktop, "Bổ sung thông tin")
    _type(desktop, "Ổ gà nằm sát vạch kẻ đường.")
    _wait_text(desktop, "(1 tin đã gửi)")
    _type(desktop, "Cạnh cột điện số 12, đối diện hiệu thuốc.")  # not read as a tracking code
    _wait_text(desktop, "(2 tin đã gửi)")
    assert "không phải là mã hồ sơ" not in _log(desktop) and "Không tìm thấy" not in _log(desktop)
    _tap(desktop, "Xong")
    _wait_text(desktop, "Cán bộ đã nhận 2 tin bổ sung")


def test_a_leader_previews_an_announcement_and_closes_a_consultation_early_with_a_reason(demo, phone):
    base, database = demo

    async def invite(uows):
        async with uows() as uow:
            unit = (await uow.session.execute(select(Unit).where(Unit.name == "Văn phòng HĐND và UBND phường"))).scalar_one()
        return await create_invite(uows, unit.id, "leader")
    code = on_database(database, invite)
    _start(phone, base)
    _type(phone, f"/officer {code}")
    _wait_text(phone, "Bạn đã được ghi nhận là")
    _type(phone, "/inbox")
    _tap(phone, "Đăng tin (lãnh đạo)")
    _tap(phone, "Thông báo tới người đăng ký")
    _type(phone, "Chủ nhật này phường tổng vệ sinh, mời bà con tham gia.")
    _wait_text(phone, "Xem trước — người dân sẽ nhận được:")
    assert "Thông báo của UBND:" in _bot_texts(phone)[-1] and "Chủ nhật này phường tổng vệ sinh" in _bot_texts(phone)[-1]
    _tap(phone, "Gửi ngay")
    _wait_text(phone, "Đã gửi thông báo tới")

    _tap(phone, "Kết thúc lấy ý kiến")
    title = on_database(database, _open_consultation_title)
    _tap(phone, title[:40])
    _wait_text(phone, "Kết thúc sớm hơn cần nêu lý do")
    _type(phone, "UBND phường đã họp và chọn phương án đa số.")
    _wait_text(phone, "Lý do kết thúc sớm: UBND phường đã họp")
    _tap(phone, "Kết thúc và công bố kết quả")
    _wait_text(phone, "Kết thúc sớm lúc")
    phone.get(base + "/c/70/consultations")
    page = phone.find_element(By.TAG_NAME, "body").text
    today = datetime.now(ZoneInfo("Asia/Ho_Chi_Minh")).strftime("%d/%m/%Y")  # the demo's zone
    assert "Kết thúc sớm hơn hạn đã công bố. Lý do: UBND phường đã họp và chọn phương án đa số." in page
    assert f"Đã kết thúc ngày {today}" in page  # the day it really closed, not its published end


async def _open_consultation_title(uows) -> str:
    async with uows() as uow:
        return (await uow.session.execute(select(Consultation.title).where(Consultation.status == "open"))).scalars().first()
