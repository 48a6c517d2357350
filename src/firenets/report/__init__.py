"""Results on disk: JSON records, PNG images and figures, each written atomically.

matplotlib loads inside the functions that draw (Agg backend, no display needed).
"""

from __future__ import annotations

from .figures import attack_figure, maps_figure, reconstruction_figure, save_image
from .records import write_json

__all__ = ["attack_figure", "maps_figure", "reconstruction_figure", "save_image", "write_json"]
