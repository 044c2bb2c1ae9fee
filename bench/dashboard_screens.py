"""Screenshots of the S&OP dashboard and the review pack on the demo factory, for docs/images.

    .venv/bin/python bench/dashboard_screens.py [--db sqlite:///demo.sqlite3]

Loads the demo (unless the database already has it), serves the app on a free
loopback port and photographs it with Debian's Chromium at desk and phone size.
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", default=None)
    opts = parser.parse_args()
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from crmflow.admin import create_app
    from crmflow.core.domain.demo import DEMO_FACTORY, load_demo
    from crmflow.core.engine import Engine
    from crmflow.plugins.reports.pack import make_review

    tmp = Path(tempfile.mkdtemp())
    url = opts.db or f"sqlite:///{tmp / 'demo.sqlite3'}"
    engine = Engine.open(url, factory=str(DEMO_FACTORY))
    load_demo(engine)
    pack = make_review(engine, pdf=True, store=False)
    (tmp / "review.html").write_text(pack.html)
    assert pack.pdf is not None
    (tmp / "review.pdf").write_bytes(pack.pdf)
    app = create_app({"ENGINE": engine})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    OUT.mkdir(parents=True, exist_ok=True)
    shots = [
        ("dashboard-desk.png", "/dashboard/?family=pumps", 1280, 900, True),
        ("dashboard-phone.png", "/dashboard/?family=pumps", 390, 844, False),
        ("dashboard-zh.png", "/dashboard/?lang=zh-CN&bucket=month", 1280, 900, False),
    ]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for name, path, width, height, full in shots:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.goto(base + path)
            page.wait_for_function("window.crmflowDashboard !== undefined")
            page.screenshot(path=str(OUT / name), full_page=full)
            page.close()
        for name, width in (("review-pack-phone.png", 390),):
            page = browser.new_page(viewport={"width": width, "height": 844})
            page.goto((tmp / "review.html").as_uri())
            page.screenshot(path=str(OUT / name))
            page.close()
        browser.close()
    server.shutdown()
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "2",
                    str(tmp / "review.pdf"), str(OUT / "review-pack-pdf")], check=True)  # fmt: skip
    print(f"week {pack.week}: screenshots in {OUT}")


if __name__ == "__main__":
    main()
