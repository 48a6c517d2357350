"""The maps every experiment puts beside the one it examines: the reference FIRENET (fixed depth, what
the attacks differentiate), the shipped U-Net and deep cascade, and zero-filling (the negative
control: an orthogonal projection, worst case exactly 1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..nets.mri import REFERENCE_FIRENET, reconstruction_map

MapFactory = Callable[[Any], Callable]  # operator A -> reconstruction map y -> complex image

REFERENCE = "FIRENET (reference)"  # the label of ``nets.mri.REFERENCE_FIRENET`` on pages and records
ZERO_FILLED = "zero-filled"
BUILT_IN = (REFERENCE, "U-Net", "deep cascade", ZERO_FILLED)

__all__ = ["BUILT_IN", "REFERENCE", "ZERO_FILLED", "MapFactory", "reference_makers"]


def reference_makers() -> dict[str, MapFactory]:
    """The reference FIRENET (``nets.mri.REFERENCE_FIRENET``), the shipped U-Net and deep cascade, and
    zero-filling, each as a factory A -> map."""
    return {REFERENCE: lambda F: reconstruction_map("firenet", F, **REFERENCE_FIRENET),
            "U-Net": lambda F: reconstruction_map("unet", F),
            "deep cascade": lambda F: reconstruction_map("cascade", F),
            ZERO_FILLED: lambda F: reconstruction_map("zero-filled", F)}
