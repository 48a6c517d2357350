"""Results on disk, rendered from result objects only: JSON records, PNG images and figures, typed page
sections, and the HTML pages, each written atomically. Nothing here runs an experiment.

matplotlib loads inside the functions that draw (Agg backend, no display needed).
"""

from __future__ import annotations

from . import pages, sections, sentences
from .attack import attack_files, attack_record, attack_text
from .figures import (
    attack_figure,
    faithfulness_figure,
    grid_figure,
    hallucination_attack_figure,
    maps_figure,
    reconstruction_figure,
    save_image,
    staircase_figure,
)
from .page import render, write
from .pages import Page, audit_page, dataset_page, demo_page
from .records import write_json

__all__ = [
    "Page",
    "attack_figure",
    "attack_files",
    "attack_record",
    "attack_text",
    "audit_page",
    "dataset_page",
    "demo_page",
    "faithfulness_figure",
    "grid_figure",
    "hallucination_attack_figure",
    "maps_figure",
    "pages",
    "reconstruction_figure",
    "render",
    "save_image",
    "sections",
    "sentences",
    "staircase_figure",
    "write",
    "write_json",
]
