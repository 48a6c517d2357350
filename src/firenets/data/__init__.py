"""Test images: phantoms (random ellipses, Shepp-Logan) and loaders for image and k-space files.

Importing this package is light: scikit-image, Pillow, pydicom, nibabel and h5py load inside
the functions that need them.
"""

from __future__ import annotations

from .loaders import BUILTINS, FORMATS, LoadedImage, count_slices, load, simulate_multicoil
from .phantoms import (
    DetailedPhantom,
    PhantomDataset,
    camera,
    ellipses,
    ellipses_with_details,
    insert_detail,
    shepp_logan,
)

__all__ = [
    "BUILTINS",
    "FORMATS",
    "DetailedPhantom",
    "LoadedImage",
    "PhantomDataset",
    "camera",
    "count_slices",
    "ellipses",
    "ellipses_with_details",
    "insert_detail",
    "load",
    "shepp_logan",
    "simulate_multicoil",
]
