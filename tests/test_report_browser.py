"""report.html in a real browser: headless Chromium (the system's package) driven by playwright.

A real run's report.html is opened from disk: it must log no console error, decode every figure,
fetch nothing but itself (every request is recorded; only the file:// page and data: URIs are
allowed), and sort a table when a header is clicked. Screenshots at laptop (1280 px) and phone
(390 px) widths are kept under results/test-artifacts/report-html/ for a person to look at.

Skips, saying why, without playwright or a Chromium; `make test-browser` installs both and runs
this file. SALESIM_CHROMIUM names another Chromium binary.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from sim import simulate

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "results" / "test-artifacts" / "report-html"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _chromium() -> str | None:
    for c in (os.environ.get("SALESIM_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if c and Path(c).is_file() and os.access(c, os.X_OK):
            return c
    return None


# `make test-browser` sets this: there a missing browser is a failure, not a skip
REQUIRED = os.environ.get("SALESIM_BROWSER_REQUIRED") == "1"
NO_PLAYWRIGHT = "playwright is not installed (make test-browser installs it)"
NO_CHROMIUM = (
    "no Chromium at /usr/bin/chromium or on PATH (make test-browser installs it; "
    "SALESIM_CHROMIUM names another)"
)
try:
    from playwright import sync_api as playwright_api
except ImportError:
    if REQUIRED:
        pytest.fail(NO_PLAYWRIGHT, pytrace=False)
    pytest.skip(NO_PLAYWRIGHT, allow_module_level=True)
CHROMIUM = _chromium()
if CHROMIUM is None and REQUIRED:
    pytest.fail(NO_CHROMIUM, pytrace=False)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason=NO_CHROMIUM)


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    """A real (small) run's report.html."""
    out = tmp_path_factory.mktemp("browser") / "run"
    simulate(["replications=2", "horizon_days=120", "warmup_days=60"], out)
    return out / "report.html"


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    profile = tmp_path_factory.mktemp("chromium-profile")  # empty user-data-dir
    with playwright_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 800},
        )
        try:
            yield ctx
        finally:
            ctx.close()


def _open(browser, report: Path, width: int):
    """The report in a fresh page at `width`, with every console error, page error and request
    recorded (errors, requests)."""
    page = browser.new_page()
    page.set_viewport_size({"width": width, "height": 900})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("request", lambda r: requests.append(r.url))
    page.goto(report.as_uri(), wait_until="load")
    return page, errors, requests


def test_report_opens_offline_with_every_figure_decoded_and_no_error(browser, report):
    page, errors, requests = _open(browser, report, 1280)
    try:
        assert errors == []
        # only the file itself; data: URIs are decoded in place (a request for them, if the
        # browser reports one, carries no network)
        fetched = [u for u in requests if u != report.as_uri() and not u.startswith("data:")]
        assert fetched == [], fetched
        sizes = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => [i.complete, i.naturalWidth, i.naturalHeight])"
        )
        assert len(sizes) == 3  # distributions, fan chart, funnel
        assert all(done and w > 0 and h > 0 for done, w, h in sizes), sizes
        assert page.locator("table").count() >= 4
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "laptop-1280.png"), full_page=True)
        print(f"screenshot: {ARTIFACTS / 'laptop-1280.png'}")
    finally:
        page.close()


def test_phone_width_scrolls_tables_not_the_page(browser, report):
    page, errors, _ = _open(browser, report, 390)
    try:
        assert errors == []
        # the page itself is no wider than the phone: wide tables scroll inside their box
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        wide = page.eval_on_selector_all(
            ".table-wrap", "ws => ws.filter(w => w.scrollWidth > w.clientWidth).length"
        )
        assert wide >= 1  # the funnel table (7 columns) does not fit in 390 px
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "phone-390.png"), full_page=True)
        print(f"screenshot: {ARTIFACTS / 'phone-390.png'}")
    finally:
        page.close()


# a cell's number as the report prints it ($10.7K, 28.3%, 1,234): the test's own reading
NUMBER_JS = """cells => cells.map(t => {
  var m = t.replace(/[$,%]/g, "").match(/^(-?[0-9.]+)([KMB]?)/);
  return m ? parseFloat(m[1]) * ({K: 1e3, M: 1e6, B: 1e9}[m[2]] || 1) : null;
})"""


def _numbers(page, cells: list[str]) -> list[float]:
    return [v for v in page.evaluate(NUMBER_JS, cells) if v is not None]


def test_clicking_a_header_sorts_its_table(browser, report):
    """The headline table by its median column: ascending on the first click (numbers read
    through $, %, K and M), descending on the second."""
    page, errors, _ = _open(browser, report, 1280)
    try:
        table = page.locator("table").first
        header = table.locator("thead th", has_text="median")

        def column() -> list[str]:
            return table.locator("tbody tr td:nth-child(3)").all_inner_texts()

        def metrics() -> list[str]:
            return table.locator("tbody tr td:nth-child(1)").all_inner_texts()

        before = metrics()
        header.click()
        assert header.get_attribute("aria-sort") == "ascending"
        up = metrics()
        assert sorted(up) == sorted(before) and up != before
        numbers = _numbers(page, column())
        assert numbers == sorted(numbers)
        header.click()
        assert header.get_attribute("aria-sort") == "descending"
        assert _numbers(page, column()) == sorted(numbers, reverse=True)
        assert errors == []
    finally:
        page.close()
