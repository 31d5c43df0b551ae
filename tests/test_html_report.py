"""report.html (sim.html_report): one self-contained page made from report.md's markdown.

Fast checks on the file itself; tests/test_report_browser.py opens a real one in Chromium.
`self_contained` is also used by the tests of each writer (run, comparison, sweep, calibration,
backtest, capacity plan).
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from sim import html_report

PNG_1x1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
IMG = re.compile(r"<img\b[^>]*>")
SRC = re.compile(r'\bsrc="([^"]*)"')


def self_contained(path: Path, images: int | None = None) -> str:
    """Assert the page fetches nothing (no src/href/url() pointing anywhere but data: URIs and
    #anchors), every <img> is a data URI that decodes to a PNG, and, if given, that it holds
    `images` figures. Returns the page's text."""
    text = Path(path).read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Content-Security-Policy" in text and "img-src data:" in text
    imgs = IMG.findall(text)
    if images is not None:
        assert len(imgs) == images, imgs
    for tag in imgs:
        src = SRC.search(tag).group(1)
        assert src.startswith("data:image/png;base64,"), src[:60]
        assert base64.b64decode(src.split(",", 1)[1], validate=True).startswith(html_report.PNG)
    for attr in re.findall(r'\b(?:src|href|action|poster)="([^"]*)"', text):
        assert attr.startswith(("data:", "#")), attr[:80]
    assert "url(" not in text and "@import" not in text
    assert "<script src" not in text and "<link" not in text
    return text


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "fig.png").write_bytes(PNG_1x1)
    (tmp_path / "not_png.png").write_bytes(b"GIF89a...")
    return tmp_path


MD = """# salesim report: a <b>bold</b> & brave scenario

Setup: company `x`, motion `mix`.

## Headline metrics

| metric | median |
|---|---:|
| win_rate | 28.3% |
| a <script>alert(1)</script> & co | $1.2M |

## Files

- `summary.json`: everything

## What each change buys

Verdict: **clear**.

![a figure](fig.png)
"""


def test_figures_are_embedded_as_png_data_uris(folder):
    page = html_report.write(folder, MD)
    assert page == folder / "report.html"
    self_contained(page, images=1)


def test_tables_are_present_wrapped_to_scroll_and_sortable(folder):
    text = html_report.render(MD, folder)
    assert '<div class="table-wrap"><table>' in text and "</table></div>" in text
    assert len(re.findall(r"<th[ >]", text)) == 2 and "<td>win_rate</td>" in text
    assert 'style="text-align:right"' in text  # the markdown's column alignment is kept
    assert 'querySelectorAll("table")' in text and "aria-sort" in text  # the sorting script


def test_text_is_escaped_never_markup(folder):
    """A cell or title holding < and & (a scenario or segment name from a user's config or CRM
    file) shows as text: no tag of it reaches the page."""
    text = html_report.render(MD, folder)
    assert "<script>alert" not in text and "<b>bold" not in text
    assert "a &lt;script&gt;alert(1)&lt;/script&gt; &amp; co" in text
    assert "<title>salesim report: a &lt;b&gt;bold&lt;/b&gt; &amp; brave scenario</title>" in text


def test_a_figure_that_cannot_be_embedded_becomes_a_note_not_a_fetch(folder):
    md = (
        "# r\n\n![gone](missing.png)\n\n![web](https://example.com/x.png)\n\n"
        "![up](../fig.png)\n\n![gif](not_png.png)\n"
    )
    page = html_report.write(folder, md)
    text = self_contained(page, images=0)
    for src in ("missing.png", "https://example.com/x.png", "../fig.png", "not_png.png"):
        assert f"[figure not available: {src}]" in text


def test_named_sections_come_first_after_the_introduction(folder):
    text = html_report.render(MD, folder, first=["What each change buys"])
    heads = re.findall(r"<h[12]>(.*?)</h[12]>", text)
    assert heads == [
        "salesim report: a &lt;b&gt;bold&lt;/b&gt; &amp; brave scenario",
        "What each change buys",
        "Headline metrics",
        "Files",
    ]
    assert text.index("Setup: company") < text.index("What each change buys")


def test_full_setup_is_folded_at_the_end_and_escaped(folder):
    text = html_report.render(MD, folder, config="name: a<b & c\n")
    assert "<details><summary>Full setup" in text and "name: a&lt;b &amp; c" in text
    assert text.index("<details>") > text.index("What each change buys")


def test_the_page_fits_a_phone(folder):
    text = html_report.render(MD, folder)
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "overflow-x: auto" in text and "@media (max-width: 600px)" in text
