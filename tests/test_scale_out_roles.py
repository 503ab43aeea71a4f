"""What several processes need besides the chat lock: roles, the outbox wake-up across processes, and
X-Forwarded-* believed only from the listed proxies."""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess

import pytest
from aiohttp.test_utils import TestClient, TestServer, make_mocked_request
from sqlalchemy import select

from bench.scale_out import NGINX, PROXY_RULES, ROOT
from bot.app import Runtime
from bot.cli import _parser
from bot.settings import SettingsError, load_settings
from bot.web_security import WebSecurity
from storage.models import OutboxMessage
from tests.webchat import Browser


def peer(address: str, **headers: str):
    class Transport:
        def get_extra_info(self, name, default=None):
            return (address, 40000) if name == "peername" else default

        def is_closing(self) -> bool:
            return False

    return make_mocked_request("POST", "/api/chat/send", headers=headers, transport=Transport())


def test_forwarded_headers_are_believed_only_from_the_listed_proxies():
    security = WebSecurity(trust_proxy="127.0.0.1, 10.0.0.0/24")
    forwarded = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https", "X-Forwarded-Host": "xa.gov.vn"}
    from_nginx = peer("127.0.0.1", **forwarded)
    assert security.client_address(from_nginx) == "203.0.113.9"
    assert security.is_secure(from_nginx) and security.own_origin(from_nginx) == "https://xa.gov.vn"
    assert security.client_address(peer("10.0.0.7", **forwarded)) == "203.0.113.9"
    # Someone reaching a serve process's port directly, around nginx, claims to be another address.
    around = peer("198.51.100.4", **forwarded)
    assert security.client_address(around) == "198.51.100.4"
    assert not security.is_secure(around)
    assert security.from_proxy(peer("::ffff:127.0.0.1")) and not security.from_proxy(peer("::1"))


def test_the_old_boolean_meaning_stays_and_a_wrong_address_is_named():
    anyone = WebSecurity(trust_proxy="true")
    assert anyone.client_address(peer("198.51.100.4", **{"X-Forwarded-For": "1.2.3.4"})) == "1.2.3.4"
    assert WebSecurity(trust_proxy=True).trust_proxy and not WebSecurity(trust_proxy="").trust_proxy
    assert not WebSecurity(trust_proxy="false").from_proxy(peer("127.0.0.1"))
    assert load_settings(_env_file=None, trust_proxy=True).trust_proxy == "true"
    with pytest.raises(SettingsError, match="TIEPDAN_TRUST_PROXY: 'nginx' is not an address"):
        load_settings(_env_file=None, trust_proxy="127.0.0.1,nginx")


def test_serve_takes_the_role_flags():
    args = _parser().parse_args(["serve", "--web-only"])
    assert args.web_only and not args.no_scheduler
    args = _parser().parse_args(["serve", "--no-scheduler", "--no-dispatcher"])
    assert args.no_scheduler and args.no_dispatcher and not args.web_only


async def test_a_web_only_process_wakes_the_dispatching_one_through_postgresql(settings):
    """A reply written by a process that does not dispatch is sent by one that does, at once: the
    dispatcher is told by NOTIFY, not found at its next poll (set to a minute here)."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("several serve processes share a database only on PostgreSQL")
    web_only = Runtime(settings, run_scheduler=False, run_dispatcher=False, poll=False)
    dispatching = Runtime(settings, run_scheduler=False)
    dispatching.dispatcher.poll_interval = 60.0
    await web_only.start(migrate=False)
    await dispatching.start(migrate=False)
    try:
        for _ in range(100):  # both LISTEN connections up
            if web_only.web_chat.wakeups._connection is not None and dispatching.web_chat.wakeups._connection:
                break
            await asyncio.sleep(0.05)
        await dispatching.dispatcher.drain()
        await asyncio.sleep(0.2)  # the dispatcher is in its long wait now
        async with TestClient(TestServer(web_only.web_app)) as client:
            await Browser(client).send("/start")
        assert web_only.dispatcher._task is None  # it sends nothing itself
        for _ in range(200):
            async with dispatching.uows() as uow:
                statuses = set((await uow.session.execute(select(OutboxMessage.status))).scalars())
            if statuses == {"sent"}:
                break
            await asyncio.sleep(0.05)
        assert statuses == {"sent"}, statuses
    finally:
        await web_only.stop()
        await dispatching.stop()


@pytest.mark.skipif(not (os.path.exists(NGINX) and shutil.which("openssl")), reason="needs nginx and openssl")
def test_the_deploy_site_configuration_passes_nginx_t(tmp_path):
    """deploy/nginx/tiepdan.conf as installed (TLS, redirect, upstream, the proxy rules), with a
    throwaway certificate and the paths moved into a temporary folder: ``nginx -t`` accepts it."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=xa",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True)
    site = (ROOT / "deploy" / "nginx" / "tiepdan.conf").read_text()
    for installed, here in (("/etc/letsencrypt/live/xa.example.gov.vn/fullchain.pem", tmp_path / "cert.pem"),
                            ("/etc/letsencrypt/live/xa.example.gov.vn/privkey.pem", tmp_path / "key.pem"),
                            ("/etc/nginx/snippets/tiepdan-proxy.conf", PROXY_RULES),
                            ("/var/log/nginx/", f"{tmp_path}/")):
        assert installed in site
        site = site.replace(installed, str(here))
    (tmp_path / "site.conf").write_text(site)
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid; error_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{ include {tmp_path}/site.conf; }}\n")
    checked = subprocess.run([NGINX, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                             capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr


async def test_long_polls_on_one_process_wake_when_another_sends_to_many_chats_at_once(settings):
    """Twelve browsers wait on process B; process A's dispatcher delivers a notice to each of their
    chats at once. Every wait ends with its notice long before its 20 s are up: the NOTIFYs of those
    concurrent sends share A's one LISTEN connection (asyncpg runs one statement at a time on it)."""
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("several serve processes share a database only on PostgreSQL")
    from bot.domain.dialog import Reply
    from tests.webchat import chat_id

    sending = Runtime(settings, run_scheduler=False)
    waiting = Runtime(settings, run_scheduler=False, run_dispatcher=False, poll=False)
    await sending.start(migrate=False)
    await waiting.start(migrate=False)
    try:
        for _ in range(100):
            if sending.web_chat.wakeups._connection is not None and waiting.web_chat.hub.listening:
                break
            await asyncio.sleep(0.05)
        async with TestClient(TestServer(waiting.web_app)) as client:
            tabs = []
            for _ in range(12):
                tab = Browser(client)
                tab.client.session.cookie_jar.clear()
                await tab.send("/start")
                tabs.append((tab, chat_id(tab), dict(client.session.cookie_jar.filter_cookies(client.make_url("/")))))
            await sending.dispatcher.drain()

            async def wait(tab: Browser, cookies) -> tuple[float, list[str]]:
                began = asyncio.get_running_loop().time()
                response = await client.get("/api/chat/messages", params={"after": tab.cursor, "wait": 20},
                                            cookies={name: morsel.value for name, morsel in cookies.items()})
                texts = [m.get("text") for m in (await response.json())["messages"]]
                return asyncio.get_running_loop().time() - began, texts

            polls = [asyncio.create_task(wait(tab, cookies)) for tab, _, cookies in tabs]
            for _ in range(200):  # every browser waits on process B
                if len(waiting.web_chat.hub.open_by_chat) == len(tabs):
                    break
                await asyncio.sleep(0.05)
            async with sending.uows() as uow:
                for n, (_, chat, _) in enumerate(tabs):
                    await uow.outbox.enqueue("web", chat, Reply(f"Thông báo {n}"), f"wake-{n}")
                await uow.commit()
            results = await asyncio.gather(*polls)
    finally:
        await sending.stop()
        await waiting.stop()
    for n, (took, texts) in enumerate(results):
        assert f"Thông báo {n}" in texts
        assert took < 10, f"browser {n} waited {took:.1f} s: its wake-up was lost"
