"""A self-contained HTML page of results: sections of text, tables and figures (PNG files beside it),
a JSON file beside every figure and the whole record in ``results.json``; ``index.html`` last.

Usable on its own: ``firenets.report.write(results, DIR)`` with

    results = {"title": str, "summary": [str, ...],
               "scorecard": {...},   (optional: ``report.scorecard.scorecard_record``; drawn first, then
                                      its rules; the summary list is drawn only without it)
               "sections": [{"title": str, "lead": str, "text": [str, ...],
                             "tables": [{"caption": str, "columns": [...], "rows": [[...], ...]}],
                             (a cell {"text": ..., "href": "relative/path"} is a link to a file of the run)
                             "figures": [{"file": "name.png", "caption": str, "data": {...}}]}]}

where every figure file already lies in DIR. A section draws its lead sentence, its tables, its figures,
then its text. No scripts, fonts or anything external: the page
is plain HTML with inline CSS, readable offline and archivable.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

from .._io import atomic_write_text
from .records import _plain, write_json

_PNG = b"\x89PNG\r\n\x1a\n"
_CSS = """
body { font-family: system-ui, sans-serif; max-width: 1100px; margin: 2em auto; padding: 0 1em;
       color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; border-bottom: 1px solid #ccc; padding-bottom: .2em;
     margin-top: 2em; }
table { border-collapse: collapse; margin: 1em 0; font-size: .9em; }
.wide { max-width: 100%; overflow-x: auto; }
th, td { border: 1px solid #bbb; padding: .25em .6em; text-align: right; overflow-wrap: break-word; }
p.lead { font-weight: 600; }
table.scorecard { font-size: .8em; margin-top: .5em; width: 100%; }
table.scorecard td, table.scorecard th { text-align: left; vertical-align: top; padding: .2em .35em; }
table.scorecard a { color: inherit; text-decoration: none; display: block; }
table.scorecard .word { font-weight: 600; } table.scorecard .num { color: #333; }
td.pass { background: #e3f3e6; } td.warn { background: #fff1c9; } td.fail { background: #fbdcdc; }
td.info, td.none { background: #fafafa; }
.rules { font-size: .8em; color: #444; } .rules li { margin: .1em 0; }
th { background: #f0f0f0; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: .9em; color: #444; }
.summary { background: #f6f8fa; border-left: 4px solid #4a7; padding: .5em 1em; }
.meta { font-size: .8em; color: #666; }
"""


def _href(value: Any) -> str:
    """A link inside the output directory: relative, no '..', no scheme."""
    if (not isinstance(value, str) or not value or value.startswith(("/", "\\")) or ":" in value
            or ".." in value.replace("\\", "/").split("/")):
        raise ValueError(f"a table link must be a relative path inside the output directory; got {value!r}")
    return html.escape(value, quote=True)


def _cell(value: Any) -> str:
    if isinstance(value, dict) and set(value) == {"text", "href"}:  # a link to a file of the run
        return f'<a href="{_href(value["href"])}">{_cell(value["text"])}</a>'
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "inf" if value > 0 else ("-inf" if value < 0 else "-")
        return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.3e}"
    return html.escape(str(value))


def _figure_file(out: Path, name: Any, where: str) -> Path:
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ValueError(f"{where}: file must be a plain file name inside the output directory; got {name!r}")
    path = out / name
    if not path.is_file():
        raise ValueError(f"{where}: figure {name!r} is not in {out}")
    with open(path, "rb") as fh:
        if fh.read(8) != _PNG:
            raise ValueError(f"{where}: {name!r} is not a PNG file")
    return path


def _scorecard_html(card: dict[str, Any]) -> str:
    """The scorecard table (one row per map; each cell its symbol, verdict word and numbers, linked to its
    section), then its rules and notes."""
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in ["map", *card["columns"]])
    body = []
    for row in card["rows"]:
        tds = []
        for c in row["cells"]:
            if c["level"] == "none":
                tds.append(f'<td class="none" title="{html.escape(c["word"])}">{html.escape(c["symbol"])}</td>')
                continue
            inner = (f'<span class="word">{html.escape(c["symbol"])} {html.escape(c["word"])}</span><br>'
                     f'<span class="num">{html.escape(c["text"])}</span>')
            if c.get("href"):
                inner = f'<a href="{_href(c["href"])}">{inner}</a>'
            if c.get("worst_page"):
                inner += f'<a href="{_href(c["worst_page"])}">worst: {html.escape(str(c["worst"]))}</a>'
            elif c.get("worst"):
                inner += f"worst: {html.escape(str(c['worst']))}"
            tds.append(f'<td class="{html.escape(c["level"])}">{inner}</td>')
        body.append(f"<tr><th>{html.escape(row['map'])}</th>{''.join(tds)}</tr>")
    rules = "".join(f"<li>{html.escape(r)}</li>" for r in [*card.get("rules", []), *card.get("notes", [])])
    return (f'<section id="scorecard"><table class="scorecard"><caption>Scorecard: {html.escape(card["over"])}; '
            "each cell links to its section (✓ nothing found, ! not settled by the data, ✗ a finding, "
            f"· a control or no rule)</caption><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody>"
            f'</table><div class="rules" id="rules">The rules of the scorecard:<ul>{rules}</ul></div></section>')


def _section_html(i: int, section: dict[str, Any], out: Path) -> str:
    where = f"sections[{i}]"
    if not isinstance(section, dict) or not isinstance(section.get("title"), str):
        raise ValueError(f"{where} must be a dict with a 'title' string")
    parts = [f'<section id="s{i}"><h2>{html.escape(section["title"])}</h2>']
    if section.get("lead"):
        parts.append(f'<p class="lead">{html.escape(str(section["lead"]))}</p>')
    for j, table in enumerate(section.get("tables", [])):
        cols = table.get("columns")
        rows = table.get("rows")
        if not isinstance(cols, list) or not isinstance(rows, list):
            raise ValueError(f"{where}.tables[{j}] needs 'columns' and 'rows' lists")
        for k, row in enumerate(rows):
            if len(row) != len(cols):
                raise ValueError(f"{where}.tables[{j}].rows[{k}] has {len(row)} cells for {len(cols)} columns")
        head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
        body = "".join("<tr>" + "".join(f"<td>{_cell(v)}</td>" for v in row) + "</tr>" for row in rows)
        cap = f"<caption>{html.escape(table['caption'])}</caption>" if table.get("caption") else ""
        parts.append(f'<div class="wide"><table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>')
    for j, fig in enumerate(section.get("figures", [])):
        path = _figure_file(out, fig.get("file"), f"{where}.figures[{j}]")
        write_json(path.with_suffix(".json"), {"figure": path.name, "caption": fig.get("caption", ""),
                                               "data": fig.get("data", {})})
        cap = html.escape(fig.get("caption", ""))
        parts.append(f'<figure><img src="{html.escape(path.name)}" alt="{cap}">'
                     f"<figcaption>{cap} (data: <a href=\"{html.escape(path.stem)}.json\">"
                     f"{html.escape(path.stem)}.json</a>)</figcaption></figure>")
    for p in section.get("text", []):
        parts.append(f"<p>{html.escape(str(p))}</p>")
    parts.append("</section>")
    return "\n".join(parts)


def render(results: dict[str, Any], out: str | Path) -> str:
    """The HTML text of the page (figure files are checked in ``out``; their JSON written there)."""
    out = Path(out)
    if not isinstance(results, dict) or not isinstance(results.get("sections"), list):
        raise ValueError("results must be a dict with a 'sections' list")
    title = html.escape(str(results.get("title", "firenets report")))
    summary = "".join(f"<li>{html.escape(str(s))}</li>" for s in results.get("summary", []))
    sections = "\n".join(_section_html(i, s, out) for i, s in enumerate(results["sections"]))
    toc = "".join(f'<li><a href="#s{i}">{html.escape(s["title"])}</a></li>'
                  for i, s in enumerate(results["sections"]))
    meta = html.escape(" · ".join(f"{k}: {v}" for k, v in results.get("meta", {}).items()))
    card = results.get("scorecard")
    top = (_scorecard_html(card) + "\n" if card else
           f'<div class="summary"><ul>{summary}</ul></div>\n' if summary else "")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>"
        f"<style>{_CSS}</style></head><body>\n<h1>{title}</h1>\n" + top
        + f"<nav><ul>{toc}</ul></nav>\n{sections}\n<p class=\"meta\">{meta}</p>\n</body></html>\n"
    )


def write(results: dict[str, Any], out: str | Path) -> Path:
    """Write ``results.json``, a JSON file beside every figure, then ``index.html`` (last, atomically)."""
    out = Path(out)
    if not out.is_dir():
        raise ValueError(f"out must be an existing directory holding the figures; got {out}")
    page = render(results, out)
    write_json(out / "results.json", _plain(results, "results"))
    return atomic_write_text(out / "index.html", page)
