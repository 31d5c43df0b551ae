"""report.html: report.md as one self-contained web page to send by mail or chat.

The page is made from the same markdown as report.md (markdown-it-py, CommonMark plus tables, raw
HTML off so every `<` and `&` of the text is escaped), with each figure the markdown names read from
the run folder and embedded as a base64 PNG data URI. Tables scroll sideways on a phone and sort
by a click on a header (a few lines of inline script); a Content-Security-Policy allows nothing but
inline style, inline script and data: images, so the page never fetches anything and opens offline.
Sections named in `first` (the headline verdicts) move up to just after the introduction.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from pathlib import Path

from markdown_it import MarkdownIt

__all__ = ["FILE", "render", "write"]

FILE = "report.html"
PNG = b"\x89PNG\r\n\x1a\n"

CSS = """
:root { color-scheme: light; --line: #d0d5dd; --muted: #555; --head: #f2f4f7; }
* { box-sizing: border-box; }
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2433;
  margin: 0 auto; max-width: 72rem; padding: 1rem clamp(0.75rem, 3vw, 2rem); }
h1 { font-size: 1.6rem; line-height: 1.25; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.25rem; margin: 2rem 0 0.5rem; padding-bottom: 0.2rem; border-bottom: 1px solid var(--line); }
code { font: 0.9em ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: var(--head);
  padding: 0 0.2em; border-radius: 3px; overflow-wrap: anywhere; }
pre { overflow-x: auto; background: var(--head); padding: 0.75rem; border-radius: 4px; }
pre code { padding: 0; }
img { display: block; max-width: 100%; height: auto; margin: 0.5rem 0 1rem; }
.table-wrap { overflow-x: auto; margin: 0.5rem 0 1rem; border: 1px solid var(--line); border-radius: 4px; }
table { border-collapse: collapse; font-size: 0.92rem; min-width: 100%; }
th, td { padding: 0.3rem 0.6rem; border-bottom: 1px solid var(--line); white-space: nowrap; }
td:first-child, th:first-child { position: sticky; left: 0; background: #fff; }
th { background: var(--head); cursor: pointer; user-select: none; text-align: left; }
th:first-child { background: var(--head); }
tbody tr:nth-child(even) td { background: #fafbfc; }
th[aria-sort="ascending"]::after { content: " \\25B2"; }
th[aria-sort="descending"]::after { content: " \\25BC"; }
details { margin: 1rem 0; }
summary { cursor: pointer; color: var(--muted); }
.missing { color: #a4262c; }
footer { margin-top: 2rem; color: var(--muted); font-size: 0.85rem; }
@media (max-width: 600px) {
  body { font-size: 15px; } h1 { font-size: 1.35rem; }
  table { font-size: 0.85rem; } th, td { padding: 0.25rem 0.45rem; }
  /* a figure of several panels stays legible: it scrolls sideways in its paragraph */
  p:has(> img) { overflow-x: auto; } p > img { min-width: 640px; }
}
"""

# Sort a table by the clicked header: numbers (after dropping $ % , and reading K/M/B suffixes)
# before text, "n/a" and empty cells last; a second click reverses.
JS = """
(function () {
  function key(text) {
    var t = text.trim().replace(/[$,%*\\u00a0]/g, "").replace(/^[\\u2212\\u2013]/, "-");
    var m = t.match(/^([+-]?\\d+(?:\\.\\d+)?)\\s*([KMB]?)\\b/);
    if (!m) return t === "" || t === "n/a" ? null : t.toLowerCase();
    return parseFloat(m[1]) * ({K: 1e3, M: 1e6, B: 1e9}[m[2]] || 1);
  }
  function cmp(a, b) {
    if (a === b) return 0;
    if (a === null) return 1;
    if (b === null) return -1;
    if (typeof a !== typeof b) return typeof a === "number" ? -1 : 1;
    return a < b ? -1 : 1;
  }
  document.querySelectorAll("table").forEach(function (table) {
    var heads = table.querySelectorAll("thead th");
    heads.forEach(function (th, col) {
      th.tabIndex = 0;
      th.title = "Sort by this column";
      function sort() {
        var down = th.getAttribute("aria-sort") === "ascending";
        heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", down ? "descending" : "ascending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).map(function (r, i) {
          return {row: r, i: i, k: key(r.cells[col] ? r.cells[col].textContent : "")};
        });
        rows.sort(function (a, b) {
          var c = (a.k === null || b.k === null) ? cmp(a.k, b.k) : cmp(a.k, b.k) * (down ? -1 : 1);
          return c || a.i - b.i;
        });
        rows.forEach(function (r) { body.appendChild(r.row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter") sort(); });
    });
  });
})();
"""

CSP = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
    "base-uri 'none'; form-action 'none'"
)


def _parser() -> MarkdownIt:
    # raw HTML off: a `<` or `&` in a cell or a scenario name is text, never markup
    return MarkdownIt("commonmark", {"html": False}).enable("table")


def data_uri(path: Path) -> str | None:
    """The PNG at `path` as a data: URI (None if it is missing or not a PNG)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if not data.startswith(PNG):
        return None
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _inline_images(tokens, folder: Path) -> None:
    """Point every image at its embedded copy; a figure that cannot be read becomes a note."""
    for tok in tokens:
        for i, child in enumerate(tok.children or ()):
            if child.type != "image":
                continue
            src = str(child.attrGet("src") or "")
            inside = "://" not in src and not src.startswith("/") and ".." not in Path(src).parts
            uri = data_uri(folder / src) if inside and src else None
            if uri is None:
                child.type, child.tag, child.children = "text", "", None
                child.content = f"[figure not available: {src}]"
                child.attrs = {}
                tok.children[i] = child
            else:
                child.attrSet("src", uri)
                child.attrSet("loading", "eager")


def _reorder(tokens, first: Sequence[str]) -> list:
    """Move the level-2 sections whose heading starts with one of `first` to just after the
    introduction (everything before the first level-2 heading), in the order of `first`."""
    if not first:
        return tokens
    starts = [i for i, t in enumerate(tokens) if t.type == "heading_open" and t.tag == "h2"]
    if not starts:
        return tokens
    intro = tokens[: starts[0]]
    sections = [tokens[a:b] for a, b in zip(starts, [*starts[1:], len(tokens)], strict=True)]

    def title(sec) -> str:
        return sec[1].content if len(sec) > 1 else ""

    order: list[int] = []
    for name in first:
        order += [i for i, s in enumerate(sections) if title(s).startswith(name) and i not in order]
    order += [i for i in range(len(sections)) if i not in order]
    return intro + [t for i in order for t in sections[i]]


def render(
    markdown: str,
    folder: Path,
    first: Sequence[str] = (),
    config: str | None = None,
    title: str | None = None,
) -> str:
    """The page for `markdown` (report.md's text) with the figures it names read from `folder`.
    `first`: headings of sections to show right after the introduction; `config`: the full
    setup as text, shown folded at the end."""
    md = _parser()
    env: dict = {}
    tokens = md.parse(markdown, env)
    _inline_images(tokens, Path(folder))
    tokens = _reorder(tokens, first)
    if title is None:
        h1 = [
            tokens[i + 1].content for i, t in enumerate(tokens) if t.tag == "h1" and t.nesting == 1
        ]
        title = h1[0] if h1 else "salesim report"
    body = md.renderer.render(tokens, md.options, env)
    # html=False escapes any markup in the text, so these tags can only be the renderer's own
    body = body.replace("<table>", '<div class="table-wrap"><table>').replace(
        "</table>", "</table></div>"
    )
    if config:
        body += (
            "<details><summary>Full setup (every setting of the run)</summary>"
            f"<pre><code>{html.escape(config)}</code></pre></details>\n"
        )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
        f"{body}</main>\n<footer>Written by salesim beside report.md; self-contained (figures "
        "embedded, nothing fetched). Click a table header to sort by it.</footer>\n"
        f"<script>{JS}</script>\n</body>\n</html>\n"
    )


def write(
    folder: Path,
    markdown: str,
    first: Sequence[str] = (),
    config: str | None = None,
    name: str = FILE,
) -> Path:
    """Render `markdown` with the figures of `folder` and write it there as `name` (report.html).
    Callers write into a run's staging folder (sim.runfolder), so it is published with the rest."""
    path = Path(folder) / name
    path.write_text(render(markdown, folder, first, config), encoding="utf-8")
    return path
