"""Cross-site attacks in a real headless Chromium, against ``tiepdan serve --demo``, with the attacker's
pages on a second origin: a sibling subdomain (same site, so SameSite cookies go along) and another
site. Host names are mapped to 127.0.0.1 inside Chromium, so nothing leaves this machine:

    http://chat.xa.test:P      the commune's web chat (tiepdan)
    http://evil.xa.test:Q      a page on a sibling subdomain
    http://attacker.example:Q  a page on another site
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.test_webchat_browser import ROOT, _free_port, _tap, _type, _wait_text, chromium, serve_demo

pytestmark = pytest.mark.browser
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402  (after test_webchat_browser's skip)

OFFICE = "Văn phòng HĐND và UBND phường"

SIBLING_PAGE = """<!doctype html><meta charset="utf-8"><title>sibling</title>
<iframe name="sink" style="display:none"></iframe>
<form id="f" method="POST" action="{chat}/api/chat/send" enctype="text/plain" target="sink">
<input name='{{"id": "evil-form", "text": "/menu", "x": "' value='"}}'></form>
<script>
(async () => {{
  const send = (id, type, mode) => fetch("{chat}/api/chat/send", {{method: "POST", mode: mode,
      credentials: "include", headers: {{"Content-Type": type}},
      body: JSON.stringify({{id: id, button: "opub:announce"}})}}).catch(() => null);
  await send("evil-plain", "text/plain", "no-cors");
  await send("evil-json", "application/json", "cors");
  document.getElementById("f").submit();
  setTimeout(() => {{ document.title = "done"; }}, 1500);
}})();
</script>"""

OTHER_SITE_PAGE = """<!doctype html><meta charset="utf-8"><title>other</title>
<form id="f" method="POST" action="{chat}/api/chat/send" enctype="text/plain">
<input name='{{"id": "evil-top", "text": "/start", "x": "' value='"}}'></form>
<script>document.getElementById("f").submit();</script>"""


@pytest.fixture(scope="module")
def sites(tmp_path_factory):
    """tiepdan on one port, the attacker's static pages on another."""
    workdir = tmp_path_factory.mktemp("serve")
    port, attacker_port = _free_port(), _free_port()
    pages = workdir / "pages"
    pages.mkdir()
    chat = f"http://chat.xa.test:{port}"
    (pages / "sibling.html").write_text(SIBLING_PAGE.format(chat=chat), encoding="utf-8")
    (pages / "other.html").write_text(OTHER_SITE_PAGE.format(chat=chat), encoding="utf-8")
    handler = partial(SimpleHTTPRequestHandler, directory=str(pages))
    handler.log_message = lambda *args: None
    attacker = ThreadingHTTPServer(("127.0.0.1", attacker_port), handler)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        with serve_demo(workdir, port) as env:
            yield {"chat": chat, "sibling": f"http://evil.xa.test:{attacker_port}/sibling.html",
                   "other": f"http://attacker.example:{attacker_port}/other.html", "database": workdir / "t.db",
                   "env": env}
    finally:
        attacker.shutdown()


@pytest.fixture
def browser():
    with chromium("--host-resolver-rules=MAP chat.xa.test 127.0.0.1, MAP evil.xa.test 127.0.0.1, "
                  "MAP attacker.example 127.0.0.1", log_console=True) as driver:
        yield driver


def _query(database: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(sql, args).fetchall()


def _chat_cookie(driver) -> str | None:
    return next((c["value"] for c in driver.get_cookies() if c["name"] == "tiepdan_chat"), None)


def test_a_sibling_subdomain_cannot_make_a_logged_in_leader_act(sites, browser):
    [(unit,)] = _query(sites["database"], "SELECT id FROM units WHERE name = ?", OFFICE)
    invite = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "invite", "--unit", str(unit), "--role",
                             "leader"], env=sites["env"], cwd=ROOT, capture_output=True, text=True, check=True)
    code = invite.stdout.split("invite code ", 1)[1].split()[0]
    browser.get(sites["chat"])
    _wait_text(browser, "Xin chào")
    _tap(browser, "🇻🇳 Tiếng Việt")
    _type(browser, f"/officer {code}")
    _wait_text(browser, "lãnh đạo của " + OFFICE)
    assert {c["name"] for c in browser.get_cookies()} >= {"tiepdan_chat", "tiepdan_staff"}
    csp = [entry["message"] for entry in browser.get_log("browser") if "Content Security Policy" in entry["message"]]
    assert csp == []  # the page runs under its own CSP without a violation
    handled = _query(sites["database"], "SELECT update_key FROM processed_updates")

    browser.get(sites["sibling"])
    WebDriverWait(browser, 15).until(lambda d: d.title == "done")
    new = set(_query(sites["database"], "SELECT update_key FROM processed_updates")) - set(handled)
    assert not [key for (key,) in new if "evil" in key], new
    # The leader's own page still works, with the staff session intact.
    browser.get(sites["chat"])
    _wait_text(browser, "lãnh đạo của " + OFFICE)


def test_another_site_cannot_replace_a_citizens_chat(sites, browser):
    browser.get(sites["chat"])
    _wait_text(browser, "Xin chào")
    _tap(browser, "🇻🇳 Tiếng Việt")
    _wait_text(browser, "Bạn sống ở xã, phường nào?")
    cookie = _chat_cookie(browser)

    browser.get(sites["other"])  # submits a cross-site POST as a top-level navigation
    WebDriverWait(browser, 15).until(lambda d: d.current_url.startswith(sites["chat"]))
    time.sleep(0.5)
    assert _query(sites["database"], "SELECT count(*) FROM processed_updates WHERE update_key LIKE '%evil-top'") \
        == [(0,)]
    browser.get(sites["chat"])
    assert _chat_cookie(browser) == cookie
    _wait_text(browser, "Bạn sống ở xã, phường nào?")  # the conversation so far is still there
