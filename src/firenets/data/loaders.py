"""Load one 2-D image (and its k-space, when the file holds it) from a file or a built-in phantom.

Formats by suffix: .npy (NumPy), .png/.jpg/.jpeg/.tif/.tiff (Pillow), .dcm (pydicom),
.nii/.nii.gz (nibabel) (``data.readers``), .h5/.hdf5 (fastMRI HDF5, h5py; ``data.fastmri``).
Built-ins: "shepp-logan", "camera" and "ellipses:SEED". Every image comes back as a float64
magnitude normalised to max 1; k-space, when present, is scaled by the same factor, so
``Fourier2D`` of the (complex) image reproduces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validation import check_int
from .fastmri import read_h5
from .phantoms import _phantom_shape, camera, ellipses, shepp_logan
from .readers import READERS, _as_float, _check_values, _Refused

FORMATS = (*READERS, ".h5", ".hdf5")
BUILTINS = ("shepp-logan", "camera", "ellipses:SEED")
DEFAULT_BUILTIN_SHAPE = (256, 256)


@dataclass(frozen=True)
class LoadedImage:
    """An image from ``load``.

    image: float64 (H, W), magnitude, max 1. kspace: complex128, the centred orthonormal k-space
    on the same scale: (H, W) of the complex image (single-coil fastMRI), (coils, H, W) of every
    coil (multi-coil fastMRI, the image then their root-sum-of-squares), else None.
    reference: a stored reconstruction on the same scale (fastMRI ``reconstruction_esc`` /
    ``reconstruction_rss``, usually 320 x 320), else None. source: what was asked for.
    meta: format, original dtype and shape, slice, ``scale`` (the factor divided out: the
    original magnitude is image * scale), and format-specific entries. complex_image: complex128
    (H, W), the image with its phase on the same scale (|complex_image| = image), when the source
    holds one (complex data, single-coil fastMRI k-space) and it was not resized; else None.
    """

    image: torch.Tensor
    kspace: torch.Tensor | None
    source: str
    meta: dict = field(default_factory=dict)
    reference: torch.Tensor | None = None
    complex_image: torch.Tensor | None = None

    @property
    def with_phase(self) -> torch.Tensor:
        """The complex image when the source holds a phase, else the (real) magnitude image."""
        return self.image if self.complex_image is None else self.complex_image


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return path.suffix.lower()


def _finish(
    arr: np.ndarray,
    name: str,
    meta: dict,
    *,
    kspace: np.ndarray | None = None,
    reference: np.ndarray | None = None,
    shape: Any = None,
) -> LoadedImage:
    """Check a 2-D array, take its magnitude, divide image, k-space and reference by its maximum."""
    if arr.ndim != 2:
        raise ValueError(f"{name} gives an array of shape {arr.shape} after slicing; expected a 2-D image")
    if min(arr.shape) < 2:
        raise ValueError(f"{name} gives an image of shape {arr.shape}; expected at least 2 x 2 pixels")
    arr = _as_float(arr, name)
    _check_values(arr, name)
    mag = np.abs(arr)
    scale = float(mag.max())
    if scale == 0.0:
        raise ValueError(f"the image in {name} is all zero; it cannot be normalised to max 1")
    meta = {**meta, "shape": tuple(int(s) for s in arr.shape), "scale": scale}
    if np.iscomplexobj(arr):
        meta["complex"] = True
    image = torch.from_numpy(mag / scale)
    z = torch.from_numpy(arr.astype(np.complex128) / scale) if np.iscomplexobj(arr) else None
    k = None if kspace is None else torch.from_numpy(kspace.astype(np.complex128) / scale)
    ref = None if reference is None else torch.from_numpy(np.asarray(reference, dtype=np.float64) / scale)
    if shape is not None:
        target = _phantom_shape(shape)
        if target != tuple(image.shape):
            from skimage.transform import resize

            meta["resized_from"] = tuple(image.shape)
            resized = resize(image.numpy(), target, anti_aliasing=True)
            peak = float(resized.max())
            image = torch.from_numpy(resized / peak)
            meta["scale"] = scale * peak
            if ref is not None:
                ref = ref / peak
            if k is not None:
                meta["kspace_dropped"] = "the image was resized, so the file's k-space no longer matches it"
            if z is not None:
                meta["phase_dropped"] = "the image was resized: only its magnitude is kept"
            k, z = None, None
    return LoadedImage(image=image, kspace=k, source=name, meta=meta, reference=ref, complex_image=z)


def _builtin(source: str, shape: Any) -> LoadedImage | None:
    shape = DEFAULT_BUILTIN_SHAPE if shape is None else shape
    if source == "shepp-logan":
        image = shepp_logan(shape)
        meta = {"format": "builtin", "shape": tuple(image.shape), "scale": 1.0}
        return LoadedImage(image, None, source, meta)
    if source == "camera":  # a natural photograph (scikit-image's cameraman), for non-phantom tests
        image = camera(shape)
        meta = {"format": "builtin", "shape": tuple(image.shape), "scale": 1.0}
        return LoadedImage(image, None, source, meta)
    m = re.fullmatch(r"ellipses:(\d+)", source)
    if m:
        seed = int(m.group(1))
        image = ellipses(shape, seed=seed)
        meta = {"format": "builtin", "seed": seed, "shape": tuple(image.shape), "scale": 1.0}
        return LoadedImage(image, None, source, meta)
    return None


def load(source: str | Path, *, slice: int | None = None, shape: Any = None) -> LoadedImage:
    """Load one 2-D image from a file or a built-in phantom, normalised to max 1.

    source: a path with a suffix in ``FORMATS``, or "shepp-logan" / "ellipses:SEED" (256 x 256
    unless ``shape`` is given). slice: for 3-D data, the index along the slice axis (axis 0 for
    .npy, DICOM frames, TIFF frames and fastMRI; the last axis for NIfTI); default the middle
    one, n // 2. shape: for files, resize the image to (H, W) (anti-aliased; the k-space is
    then dropped, since it no longer matches).

    Complex data give their magnitude. fastMRI HDF5: single-coil ``kspace`` (slices, H, W) gives
    image = |F_c^-1 k| and kspace = k, both divided by max |F_c^-1 k|, with
    F_c^-1 k = fftshift(ifft2(ifftshift(k), norm="ortho")); multi-coil (slices, coils, H, W)
    gives the root-sum-of-squares of the coil images and kspace (coils, H, W) on the same scale; a
    stored reconstruction goes to ``reference`` on the same scale (``reconstruction_rss`` for
    multi-coil: the RSS centre-cropped to the reconstruction size), or is the image when there is
    no k-space. The ``ismrmrd_header``'s encoded and reconstruction sizes go to meta.
    """
    if not isinstance(source, (str, Path)):
        raise TypeError(
            f"source must be a path (str or pathlib.Path) or a built-in name; got {type(source).__name__}"
        )
    if slice is not None:
        check_int("slice", slice)
    if isinstance(source, str) and not Path(source).exists():
        loaded = _builtin(source, shape)
        if loaded is not None:
            if slice is not None:
                raise ValueError(f"slice={slice} was given but built-in {source!r} is a single 2-D image")
            return loaded
        if source.startswith(("ellipses", "shepp")) or Path(source).suffix == "":
            raise ValueError(
                f"source {source!r} is neither an existing file nor a built-in phantom; built-ins: "
                f"{', '.join(BUILTINS)} (SEED a non-negative integer); file formats: {', '.join(FORMATS)}"
            )
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no such file: {path}")
    if path.is_dir():
        raise ValueError(f"{path} is a directory; expected a file with suffix in {', '.join(FORMATS)}")
    suffix = _suffix(path)
    if suffix not in FORMATS:
        raise ValueError(f"{path} has unsupported suffix {suffix!r}; supported formats: {', '.join(FORMATS)}")
    kspace = reference = None
    try:
        if suffix in (".h5", ".hdf5"):
            arr, meta, kspace, reference = read_h5(path, slice)
        else:
            arr, meta = READERS[suffix](path, slice)
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    return _finish(arr, str(path), meta, kspace=kspace, reference=reference, shape=shape)


__all__ = ["BUILTINS", "FORMATS", "LoadedImage", "load"]
