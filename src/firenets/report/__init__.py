"""Results on disk: JSON records, PNG images and figures, and the HTML page, each written atomically.

matplotlib loads inside the functions that draw (Agg backend, no display needed).
"""

from __future__ import annotations

from .attack import attack_files, attack_record, attack_text
from .figures import (
    attack_figure,
    grid_figure,
    hallucination_attack_figure,
    maps_figure,
    reconstruction_figure,
    save_image,
)
from .page import render, write
from .records import write_json

__all__ = [
    "attack_files",
    "attack_record",
    "attack_text",
    "attack_figure",
    "grid_figure",
    "hallucination_attack_figure",
    "maps_figure",
    "reconstruction_figure",
    "render",
    "save_image",
    "write",
    "write_json",
]
