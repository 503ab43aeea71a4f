"""Screenshots of the public pages for the README: ``python scripts/screenshots_public.py``.

Starts ``tiepdan serve --demo`` on a throw-away SQLite database, adds two project photos (by an import)
and a few feedback requests (by Open311), opens each page in headless Chromium on a phone's screen
(390×844) and writes docs/screenshots/public-<page>.png."""

from __future__ import annotations

import os
from datetime import date, timedelta
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.service import Service

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"
PAGES = {"home": "", "schedule": "/schedule", "disclosures": "/disclosures", "project": "/projects/1",
         "consultations": "/consultations", "figures": "/figures", "schedule-en": "/schedule?lang=en"}
WHOLE = ("project", "figures")  # taken whole, not just the first screen
PHONE = {"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": True}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# The demo project again, whole (an import sets every field of an entry), with its photos.
PHOTOS_IMPORT = """commune: 70
projects:
  - name: Cải tạo vỉa hè, thoát nước phố Hàng Bạc
    description: Lát lại vỉa hè đá tự nhiên, cải tạo rãnh thoát nước, hạ ngầm cáp.
    status: in_progress
    progress: 40
    budget: 12500000000
    start: {start}
    end: {end}
    photos: [hang-bac-1.png, hang-bac-2.png]
"""
FEEDBACK = [("infrastructure", "Ổ gà trước số 12 Hàng Bạc"), ("environment", "Rác ùn ứ đầu ngõ 5"),
            ("environment", "Cống tắc phố Hàng Bè"), ("public_order", "Lấn chiếm vỉa hè"),
            ("infrastructure", "Đèn đường hỏng ngõ Tạm Thương")]


def _photo(path: Path, colour: str, progress: float) -> None:
    """A drawing standing in for a site photo: the pavement, the part already laid, a worker's cone."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    figure, axes = pyplot.subplots(figsize=(4, 3), dpi=80)
    axes.add_patch(pyplot.Rectangle((0, 0), 1, 0.35, color="#9a9a9a"))
    axes.add_patch(pyplot.Rectangle((0, 0.35), progress, 0.15, color=colour))
    axes.add_patch(pyplot.Rectangle((progress, 0.35), 1 - progress, 0.15, color="#c9b38f"))
    axes.add_patch(pyplot.Polygon([(0.8, 0.5), (0.85, 0.7), (0.9, 0.5)], color="#e06a00"))
    axes.set_xlim(0, 1), axes.set_ylim(0, 1), axes.axis("off")
    figure.patch.set_facecolor("#cfe3f2")
    figure.savefig(path, facecolor=figure.get_facecolor())
    pyplot.close(figure)


def add_demo_extras(work: Path, env: dict, port: int) -> None:
    """Two photos for the demo project (through the import, as a commune adds them) and a few
    feedback requests through Open311, so the figures page has something to count."""
    _photo(work / "hang-bac-1.png", "#7a6f66", 0.2)
    _photo(work / "hang-bac-2.png", "#7a6f66", 0.45)
    today = date.today()
    (work / "photos.yaml").write_text(PHOTOS_IMPORT.format(start=today - timedelta(days=60),
                                                           end=today + timedelta(days=90)), encoding="utf-8")
    subprocess.run([sys.executable, "-m", "bot.cli", "admin", "import", str(work / "photos.yaml")], env=env,
                   cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    issued = subprocess.run([sys.executable, "-m", "bot.cli", "admin", "open311-key", "--commune", "70",
                             "--name", "screenshots"], env=env, cwd=ROOT, check=True, capture_output=True, text=True)
    key = issued.stdout.strip().rsplit(" ", 1)[1]
    for code, text in FEEDBACK:
        body = urllib.parse.urlencode({"api_key": key, "jurisdiction_id": "70", "service_code": code,
                                       "address_string": "Phường Hoàn Kiếm", "description": text}).encode()
        urllib.request.urlopen(f"http://127.0.0.1:{port}/open311/v2/requests.json", data=body, timeout=10).close()
    time.sleep(2.5)  # the server trusts its publication version for 2 s; the import came from outside


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="tiepdan-shots-"))
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TIEPDAN_")}
    env.update(TIEPDAN_DATABASE_URL=f"sqlite+aiosqlite:///{work / 'demo.db'}", TIEPDAN_WEB_PORT=str(port),
               TIEPDAN_METRICS_PORT="0")
    log = open(work / "serve.log", "wb")
    server = subprocess.Popen([sys.executable, "-m", "bot.cli", "serve", "--demo"], env=env, cwd=ROOT,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        add_demo_extras(work, env, port)
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=390,844", "--hide-scrollbars"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        try:
            driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
            OUT.mkdir(parents=True, exist_ok=True)
            for name, path in PAGES.items():
                driver.get(f"http://127.0.0.1:{port}/c/phuong-hoan-kiem{path}")
                target = OUT / f"public-{name}.png"
                if name in WHOLE:  # the photos and the chart are below a phone's first screen
                    height = driver.execute_script("return document.documentElement.scrollHeight")
                    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {**PHONE, "height": height})
                driver.save_screenshot(str(target))
                driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", PHONE)
                print(target.relative_to(ROOT))
        finally:
            driver.quit()
    finally:
        server.terminate()
        server.wait(10)
        log.close()


if __name__ == "__main__":
    main()
