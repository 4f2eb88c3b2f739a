"""Writes a screenshot of the web page painting a photo: a real `faststyle serve` on a loopback port,
driven in headless Chromium (Debian's chromium package) by Playwright.

    python scripts/page_screenshot.py [-o docs/screenshots/serve.png] [--photo P.jpg] [--style udnie]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.sync_api import sync_playwright

from faststyle.styles import sample_image_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-o", "--output", default="docs/screenshots/serve.png")
    parser.add_argument("--photo", default=str(sample_image_path("coffee")))
    parser.add_argument("--style", default="udnie")
    parser.add_argument("--split", type=int, default=35, help="where the before/after line sits, in %%")
    args = parser.parse_args()
    browser_path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser_path:
        raise SystemExit("needs Chromium: apt install chromium")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "faststyle", "serve", "--port", str(port)],
                              stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/healthz", timeout=2)
                break
            except OSError:
                time.sleep(0.2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=browser_path, args=["--no-sandbox"])
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(url)
            page.wait_for_function("() => [...document.querySelectorAll('.style img')].every(i => i.complete && i.src)")
            page.set_input_files("#file", args.photo)
            page.click(f".style[data-name='{args.style}']")
            page.wait_for_selector("#download:not([hidden])", timeout=120_000)
            page.fill("#split", str(args.split))
            page.dispatch_event("#split", "input")
            Path(args.output).parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=args.output)
            browser.close()
        print(f"wrote {args.output}")
    finally:
        server.terminate()
        server.wait(timeout=60)


if __name__ == "__main__":
    main()
