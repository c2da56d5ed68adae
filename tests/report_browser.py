"""``report.html`` in a real browser: headless Chromium driven through Selenium and Debian's
``chromedriver``, for the tests (``tests/test_report_browser.py``, the ``browser`` fixture in
``conftest.py``) and for the report's screenshot in the docs::

    .venv/bin/python tests/report_browser.py sweeps/digits-demo/report.html docs/images/report.png

**Why Selenium and not Playwright.** Both drive the Debian binary, but Selenium has fewer moving
parts here: Debian builds ``chromium`` and ``chromium-driver`` from one source package, so the
driver always speaks the installed browser's version (``scripts/install-browser.sh`` installs the
pair), and Selenium itself is a pure-Python wheel that talks WebDriver to that driver; given the
driver's path it never runs Selenium Manager, which would try to download one. Playwright's
package ships its own Node.js driver built against one Chromium revision and expects to
download that browser (``playwright install``, which cannot run on these machines); pointed at
Debian's Chromium with ``executable_path`` it talks to a version it was not built for.

What a page load records, all read through chromedriver's own logs (``goog:loggingPrefs``): the
console's errors (``SEVERE``: script errors, failed loads), and from the DevTools network events
of the page's own requests, the ones that failed and any that left the file (anything but the
page itself and ``data:`` URLs). :meth:`Rendered.problems` turns them, and any figure that did
not decode or has no rendered size, into one sentence each.
"""

from __future__ import annotations

import base64
import io
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Known to work as root on these machines (no sandbox, no GPU), and nothing of the browser's own
# to fetch: no QUIC, no first-run pages, no component updates, sync or background requests.
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # a container's small /dev/shm crashes renderers otherwise
)
WINDOW = (1300, 1000)  # the page's max-width is 1250 px: every figure at its drawn size
INSTALL_HINT = (
    "Debian: apt-get install chromium chromium-driver (scripts/install-browser.sh, which "
    "`make test` runs, does it as root), and pip install selenium (the test extra)"
)

# Every figure the page shows (an <img>, or an inline <svg> should the page ever draw one): its
# name (alt text, else the caption of its <figure>), whether it decoded and its natural and
# rendered size in CSS pixels.
_FIGURES_JS = """
return Array.prototype.map.call(document.querySelectorAll("img, svg"), function (e) {
  var box = e.getBoundingClientRect();
  var isImg = e.tagName.toLowerCase() === "img";
  var figure = e.closest("figure");
  var caption = figure && figure.querySelector("figcaption, h2, h3, h4");
  var name = (isImg && e.getAttribute("alt")) || (caption && caption.textContent) ||
    (isImg ? (e.getAttribute("src") || "").slice(0, 40) : "inline svg");
  return {
    tag: e.tagName.toLowerCase(), name: name,
    loaded: isImg ? (e.complete && e.naturalWidth > 0 && e.naturalHeight > 0)
                  : e.childElementCount > 0,
    natural: isImg ? [e.naturalWidth, e.naturalHeight] : [box.width, box.height],
    rendered: [box.width, box.height]
  };
});
"""
_PAGE_JS = """
return {
  headings: Array.prototype.map.call(document.querySelectorAll("h1, h2, h3, h4"), function (h) {
    return [h.tagName.toLowerCase(), h.id, h.textContent.trim()];
  }),
  tables: Array.prototype.map.call(document.querySelectorAll("table"), function (t) {
    return [t.className, t.querySelectorAll("tbody tr").length];
  }),
  width: document.documentElement.scrollWidth,
  height: document.documentElement.scrollHeight
};
"""


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def chromedriver() -> str | None:
    return shutil.which("chromedriver")


def missing() -> str:
    """Why no browser can be driven here ("" when one can)."""
    lacking = []
    try:
        import selenium  # noqa: F401
    except ImportError:
        lacking.append("the Python package selenium")
    if chromium() is None:
        lacking.append("chromium")
    if chromedriver() is None:
        lacking.append("chromedriver")
    return f"no {', '.join(lacking)} on this machine ({INSTALL_HINT})" if lacking else ""


@contextmanager
def driver() -> Iterator[Any]:
    """A headless Chromium with a fresh profile, logging the console and the network."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="aimc-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium() or ""
        for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
            options.add_argument(flag)
        options.add_argument(f"--window-size={WINDOW[0]},{WINDOW[1]}")
        options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
        browser = webdriver.Chrome(service=Service(chromedriver() or ""), options=options)
        try:
            browser.set_page_load_timeout(60)
            yield browser
        finally:
            browser.quit()


@dataclass
class Rendered:
    """What the browser made of one page."""

    url: str
    figures: list[dict[str, Any]]
    headings: list[tuple[str, str, str]]  # (tag, id, text)
    tables: list[tuple[str, int]]  # (class, body rows)
    console: list[str] = field(default_factory=list)  # the console's errors
    failed: list[str] = field(default_factory=list)  # requests that failed, with the error
    outside: list[str] = field(default_factory=list)  # URLs fetched besides the file and data:
    size: tuple[int, int] = (0, 0)  # the page's scroll width and height

    def problems(self) -> list[str]:
        """One sentence per thing a reader would see broken; empty for a good page."""
        found = [
            f"figure {f['name']!r} did not load ({f['tag']})"
            for f in self.figures
            if not f["loaded"]
        ]
        found += [
            f"figure {f['name']!r} has no rendered size ({f['rendered'][0]:.0f} x "
            f"{f['rendered'][1]:.0f} px)"
            for f in self.figures
            if not (f["rendered"][0] > 0 and f["rendered"][1] > 0)
        ]
        found += [f"console error: {message}" for message in self.console]
        found += [f"request failed: {request}" for request in self.failed]
        found += [f"loaded from outside the file: {url}" for url in self.outside]
        return found

    def heading(self, text: str) -> tuple[str, str, str] | None:
        return next((h for h in self.headings if h[2] == text), None)


def render(browser: Any, page: Path) -> Rendered:
    """Load ``page`` and read back its figures, headings, tables, console errors and requests."""
    url = page.resolve().as_uri()
    for log in ("browser", "performance"):
        browser.get_log(log)  # drain what came before this page (the start page's own)
    browser.get(url)  # returns after the load event: every <img> has loaded or failed
    figures = browser.execute_script(_FIGURES_JS)
    facts = browser.execute_script(_PAGE_JS)
    rendered = Rendered(
        url=url,
        figures=figures,
        headings=[tuple(h) for h in facts["headings"]],
        tables=[tuple(t) for t in facts["tables"]],
        size=(facts["width"], facts["height"]),
    )
    rendered.console = [
        entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"
    ]
    requests: dict[str, str] = {}
    for entry in browser.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            target = params["request"]["url"]
            if params.get("documentURL") != url and target != url:
                continue  # not this page's (the browser's start page, its own services)
            requests[params["requestId"]] = target
            if target != url and not target.startswith("data:"):
                rendered.outside.append(target)
        elif message["method"] == "Network.loadingFailed" and params["requestId"] in requests:
            target = requests[params["requestId"]]
            shown = target if len(target) < 80 else target[:60] + "..."
            rendered.failed.append(f"{shown} ({params.get('errorText', '')})")
    return rendered


def screenshot(
    browser: Any, page: Path, out: Path, width: int = WINDOW[0], scale: float = 0.85
) -> Path:
    """The whole page, top to bottom, laid out ``width`` CSS pixels wide and drawn at ``scale``
    device pixels per CSS pixel, saved as a PNG of at most 256 colours. Measured on the demo's
    page (6,500 CSS pixels tall): the defaults give 370 KB with the text legible; full colour
    would be 1.1 MB, scale 1 490 KB, and the 32 colours that bring scale 1 under 400 KB shift
    the figures' colours."""
    from PIL import Image

    browser.get(page.resolve().as_uri())
    height = int(browser.execute_script("return document.documentElement.scrollHeight"))
    metrics = {"width": width, "height": height, "deviceScaleFactor": scale, "mobile": False}
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", metrics)
    try:
        shot = browser.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}
        )
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    with Image.open(io.BytesIO(base64.b64decode(shot["data"]))) as image:
        image.convert("RGB").quantize(256, dither=Image.Dither.NONE).save(out, optimize=True)
    return out


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python tests/report_browser.py REPORT.html OUT.png", file=sys.stderr)
        return 2
    why = missing()
    if why:
        print(f"report_browser: {why}", file=sys.stderr)
        return 1
    page, out = Path(argv[0]), Path(argv[1])
    with driver() as browser:
        problems = render(browser, page).problems()
        screenshot(browser, page, out)
    for problem in problems:
        print(f"report_browser: {page}: {problem}", file=sys.stderr)
    print(f"{out}: {os.path.getsize(out) // 1024} KiB")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
