"""A page as a person sees it: headless Chromium loads a copy of the page with a probe script, which
reports broken images, console errors and the layout at a laptop's viewport (is the scorecard the first
thing, above the fold; does any text overflow its cell or table; does the page scroll sideways);
a screenshot of the viewport goes to out/ (the repository's, ignored by git)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LAPTOP = (1366, 768)  # a laptop's window: width, height
SHOTS = Path(__file__).resolve().parents[1] / "out"

_PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push(String(e.message || e.target && e.target.src)), true);
const _ce = console.error; console.error = (...a) => { window.__errors.push(a.join(' ')); _ce(...a); };
window.addEventListener('load', () => {
  const imgs = Array.from(document.images);
  const bad = imgs.filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.getAttribute('src'));
  const h1 = document.querySelector('h1');
  const card = document.getElementById('scorecard');
  const table = card && card.querySelector('table');
  const body = table ? Array.from(table.tBodies[0].rows) : [];
  const cells = Array.from(document.querySelectorAll('td, th'));
  const overflowing = cells.filter(c => c.scrollWidth > c.clientWidth + 1).map(c => c.textContent.slice(0, 80));
  const tables = Array.from(document.querySelectorAll('table'));
  const wider = tables.filter(t => t.getBoundingClientRect().right > t.parentElement.getBoundingClientRect().right + 1
                                   && getComputedStyle(t.parentElement).overflowX !== 'auto')
                      .map(t => (t.caption ? t.caption.textContent : t.textContent).slice(0, 80));
  const scrolled = tables.filter(t => t.parentElement.scrollWidth > t.parentElement.clientWidth + 1).length;
  const out = document.createElement('pre'); out.id = '__probe';
  out.textContent = JSON.stringify({
    images: imgs.length, broken: bad, errors: window.__errors,
    viewport: [window.innerWidth, window.innerHeight],
    first: h1 && h1.nextElementSibling ? h1.nextElementSibling.id : null,
    card_top: card ? card.getBoundingClientRect().top : null,
    first_row_bottom: body.length ? body[0].getBoundingClientRect().bottom : null,
    card_rows: body.map(r => r.cells[0].textContent),
    card_fits: table ? table.scrollWidth <= card.clientWidth + 1 : null,
    page_width: document.documentElement.scrollWidth,
    overflowing: overflowing, wider: wider, scrolled_tables: scrolled});
  document.body.appendChild(out);
});
</script>"""

FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--allow-file-access-from-files", "--hide-scrollbars")


def chromium(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM, *FLAGS, *args], capture_output=True, text=True, timeout=120)


def probe(page: Path, profile: Path, size: tuple[int, int] = LAPTOP) -> dict:
    """The probe's report on ``page`` (index.html) at the viewport ``size``; the page itself stays
    script-free (the probe loads a copy beside it)."""
    copy = page.with_name("probe.html")
    copy.write_text(page.read_text().replace("</head>", _PROBE + "</head>"))
    try:
        dom = chromium(f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}",
                       "--virtual-time-budget=10000", "--dump-dom", copy.as_uri())
    finally:
        copy.unlink()
    found = re.search(r'<pre id="__probe">(.*?)</pre>', dom.stdout, flags=re.S)
    assert found, f"the page did not finish loading: {dom.stderr[-500:]}"
    return json.loads(found.group(1).replace("&quot;", '"').replace("&amp;", "&").replace("&lt;", "<")
                      .replace("&gt;", ">"))


def screenshot(page: Path, profile: Path, name: str, size: tuple[int, int] = LAPTOP) -> Path:
    """A screenshot of the page's first viewport, out/``name``."""
    SHOTS.mkdir(exist_ok=True)
    shot = SHOTS / name
    chromium(f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", f"--screenshot={shot}",
             page.as_uri())
    assert shot.is_file() and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return shot


def check_reader_view(state: dict, maps: list[str]) -> None:
    """The scorecard is the first thing under the title and its first map's row lies above the fold; its
    rows are ``maps`` in order; no cell's text overflows it, no table runs past its box unless that box
    scrolls, the scorecard needs no scrolling and the page does not scroll sideways."""
    width, height = state["viewport"]  # the window less the browser's own bars: a laptop's visible page
    assert width == LAPTOP[0] and 0.7 * LAPTOP[1] < height <= LAPTOP[1], state["viewport"]
    assert state["first"] == "scorecard"
    assert 0 <= state["card_top"] < height and state["first_row_bottom"] <= height, state
    assert state["card_rows"] == maps
    assert state["card_fits"], "the scorecard needs a sideways scroll at a laptop's width"
    assert state["overflowing"] == [] and state["wider"] == []
    assert state["page_width"] <= width
