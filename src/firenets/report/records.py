"""JSON records written atomically, with non-finite numbers refused rather than written as NaN."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .._io import atomic_write_text


def _plain(value: Any, where: str) -> Any:
    """value with tensors/NumPy scalars turned into Python numbers; NaN/Inf become None (JSON null)."""
    if isinstance(value, dict):
        return {str(k): _plain(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):
        return _plain(value.tolist(), where)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    raise TypeError(f"{where}: cannot write {type(value).__name__} to JSON")


def write_json(path: str | Path, record: dict[str, Any]) -> Path:
    """Write ``record`` as indented JSON to ``path`` atomically (non-finite floats as null)."""
    text = json.dumps(_plain(record, "record"), indent=2, allow_nan=False)
    return atomic_write_text(path, text + "\n")
