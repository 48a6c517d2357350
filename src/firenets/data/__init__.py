"""Test images: phantoms (random ellipses, Shepp-Logan), readers by suffix (npy, png, DICOM, NIfTI),
fastMRI HDF5 read/write, and ``load``, which picks the reader and normalises the image.

Importing this package is light: scikit-image, Pillow, pydicom, nibabel and h5py load inside
the functions that need them.
"""

from __future__ import annotations

from .fastmri import count_slices, simulate_multicoil
from .loaders import BUILTINS, FORMATS, LoadedImage, load
from .phantoms import (
    DetailedPhantom,
    PhantomDataset,
    camera,
    ellipses,
    ellipses_with_details,
    insert_detail,
    shepp_logan,
    smooth_phase,
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
    "smooth_phase",
    "simulate_multicoil",
]
