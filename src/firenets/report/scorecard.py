"""The scorecard rendered: as the record a page draws at its top (``page.render``'s ``scorecard``), and as
plain text for the terminal (at most ``width`` columns; the maps wrap into blocks). The judgements are the
scorecard's own (``experiments.scorecard``); nothing is judged here."""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from typing import Any

__all__ = ["SYMBOLS", "TEXT_SYMBOLS", "scorecard_record", "scorecard_text"]

SYMBOLS = {"pass": "\u2713", "warn": "!", "fail": "\u2717", "info": "\u00b7", "none": "\u2013"}  # beside the word
TEXT_SYMBOLS = {"pass": "[ok]", "warn": "[!] ", "fail": "[X] ", "info": "    ", "none": "    "}  # ASCII, terminals


def scorecard_record(card: Any, anchors: Mapping[str, str]) -> dict[str, Any]:
    """The page's scorecard: columns (the measures' headings), one row per map with its cells, each
    linked to the section of its measure (``anchors``: measure -> "#sN"), the rules and notes."""
    rows = []
    for m in card.maps:
        cells = []
        for k in card.measures:
            c = card.cell(m, k)
            cells.append({**c.summary(), "symbol": SYMBOLS[c.level], "href": anchors.get(k)})
        rows.append({"map": m, "cells": cells})
    return {"over": card.over, "measures": list(card.measures),
            "columns": [card.heading(k) for k in card.measures], "rows": rows, "rules": list(card.rules),
            "notes": list(card.notes)}


def _lines(cell: Mapping[str, Any], width: int) -> list[str]:
    head = f"{TEXT_SYMBOLS[cell['level']]} {cell['word']}".rstrip() if cell["level"] != "none" else "-"
    wrap = {"width": width, "break_on_hyphens": False}
    out = textwrap.wrap(head, **wrap) or [""]
    if cell["level"] != "none":
        out += textwrap.wrap(cell["text"], initial_indent="  ", subsequent_indent="  ", **wrap)
        if cell.get("worst"):
            out += textwrap.wrap(f"worst: {cell['worst']}", initial_indent="  ", subsequent_indent="  ", **wrap)
    return out


def scorecard_text(record: Mapping[str, Any], *, width: int = 100) -> str:
    """The scorecard as a plain-text table: one row per measure, one column per map, the maps in blocks
    that fit ``width`` columns (a measure no map of a block has is left out of that block)."""
    if width < 60:
        raise ValueError(f"width must be at least 60 columns; got {width}")
    rows = record["rows"]
    first = 24  # the measures' column; every map's column at least 22 characters wide
    per_block = max(1, (width - first) // 25)
    col = (width - first) // per_block - 3
    out = textwrap.wrap(f"Scorecard ({record['over']}); [ok] nothing found, [!] not settled by the data, [X] a "
                        "finding", width)
    for b in range(0, len(rows), per_block):
        block = rows[b:b + per_block]
        rule = "-" * (first + (col + 3) * len(block))
        names = [r["map"] if len(r["map"]) <= col else r["map"][:col - 3] + "..." for r in block]
        out += [rule, f"{'':<{first}}" + "".join(f" | {name:<{col}}" for name in names), rule]
        for j, heading in enumerate(record["columns"]):
            if all(r["cells"][j]["level"] == "none" for r in block):
                continue  # a measure no map of this block has
            cells = [_lines(r["cells"][j], col) for r in block]
            names = textwrap.wrap(heading, first - 1)
            height = max(len(names), *(len(c) for c in cells))
            for i in range(height):
                name = names[i] if i < len(names) else ""
                out.append(f"{name:<{first}}" + "".join(f" | {(c[i] if i < len(c) else ''):<{col}}" for c in cells))
            out.append(rule)
    return "\n".join(line.rstrip() for line in out)
