"""Readers of one 2-D image by file suffix: .npy (NumPy), .png/.jpg/.jpeg/.tif/.tiff (Pillow), .dcm
(pydicom), .nii/.nii.gz (nibabel), and the slice and value checks they share with ``data.fastmri``.

Each reader returns (array, meta) for one 2-D slice, as stored (``data.loaders.load`` normalises it);
a 3-D file gives its slice ``slice``, the middle one n // 2 by default. Pillow, pydicom and nibabel
load inside the reader that needs them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._validation import check_int, check_pixels


class _Refused(ValueError):
    """A ValueError raised by these readers themselves (passed through, not wrapped)."""


def _pick_slice(n: int, slice: int | None, what: str, name: str) -> int:
    """Index in [0, n); the middle one, n // 2, by default."""
    if slice is None:
        return n // 2
    s = check_int("slice", slice)
    if not 0 <= s < n:
        raise _Refused(f"slice {s} is out of range for {name}: it has {n} {what} (valid 0..{n - 1})")
    return s


def _no_slice(slice: int | None, name: str, shape: tuple[int, ...]) -> None:
    if slice is not None:
        raise _Refused(f"slice={slice} was given but {name} holds one 2-D image of shape {shape}")


def _as_float(arr: np.ndarray, name: str) -> np.ndarray:
    if arr.dtype.kind == "b":
        return arr.astype(np.float64)
    if arr.dtype.kind in "iuf":
        return arr.astype(np.float64)
    if arr.dtype.kind == "c":
        return arr.astype(np.complex128)
    raise _Refused(f"{name} holds data of dtype {arr.dtype}; expected numbers (integer, float or complex)")


def _check_values(arr: np.ndarray, name: str, what: str = "the image") -> None:
    finite = np.isfinite(arr)
    if not finite.all():
        raise _Refused(f"{what} in {name} holds {int((~finite).sum())} NaN/Inf values")


def read_npy(path: Path, slice: int | None) -> tuple[np.ndarray, dict]:
    """(image, meta) from a .npy file: a 2-D array, or slice ``slice`` (default n // 2) along axis 0 of a 3-D one."""
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r")
    except Exception as exc:
        raise ValueError(f"cannot read {path} as a .npy file: {type(exc).__name__}: {exc}") from exc
    if isinstance(arr, np.ndarray) and arr.ndim in (2, 3):
        check_pixels(f"the image in {path}", arr.shape[-2:])
    arr = np.array(arr) if isinstance(arr, np.ndarray) else arr
    if not isinstance(arr, np.ndarray):  # pragma: no cover - np.load of .npy gives an array
        raise _Refused(f"{path} does not hold a single array")
    meta = {"format": "npy", "dtype": str(arr.dtype), "original_shape": tuple(arr.shape)}
    arr = _as_float(arr, str(path))
    if arr.ndim == 3:
        s = _pick_slice(arr.shape[0], slice, "slices along axis 0", str(path))
        arr, meta["slice"] = arr[s], s
    elif arr.ndim == 2:
        _no_slice(slice, str(path), arr.shape)
    else:
        raise _Refused(
            f"{path} holds an array of shape {arr.shape}; expected 2-D (H, W) or 3-D (slices, H, W)"
        )
    return arr, meta


_LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights


def read_raster(path: Path, slice: int | None) -> tuple[np.ndarray, dict]:
    """(image, meta) from a PNG/JPEG/TIFF file (Pillow; frame ``slice`` of a multi-frame one): grayscale
    as is, colour as luma 0.299 R + 0.587 G + 0.114 B (ITU-R BT.601), alpha dropped."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            n = int(getattr(img, "n_frames", 1))
            meta = {"format": (img.format or path.suffix.lstrip(".")).lower(), "mode": img.mode}
            if n > 1:
                s = _pick_slice(n, slice, "frames", str(path))
                img.seek(s)
                meta["slice"] = s
            else:
                _no_slice(slice, str(path), (img.height, img.width))
            check_pixels(f"the image in {path}", (img.height, img.width))  # before decoding it
            img.load()
            mode = img.mode
            if mode == "P":
                img = img.convert("RGBA")
                mode = "RGBA"
            arr = np.asarray(img)
    except _Refused:
        raise
    except Exception as exc:
        raise ValueError(f"cannot read {path} as an image: {type(exc).__name__}: {exc}") from exc
    meta["dtype"] = str(arr.dtype)
    arr = arr.astype(np.float64)
    if mode in ("RGB", "RGBA", "RGBX", "YCbCr"):
        if mode == "YCbCr":  # pragma: no cover - JPEG decodes to RGB
            arr = arr[..., 0]
        else:
            arr = arr[..., 0] * _LUMA[0] + arr[..., 1] * _LUMA[1] + arr[..., 2] * _LUMA[2]
        meta["luminance"] = "0.299 R + 0.587 G + 0.114 B"
    elif mode in ("LA", "La"):
        arr = arr[..., 0]
    elif arr.ndim != 2:
        raise _Refused(f"{path} has image mode {mode!r}, which is not supported (expected grayscale or RGB)")
    return arr, meta


def read_dicom(path: Path, slice: int | None) -> tuple[np.ndarray, dict]:
    """(image, meta) from a DICOM file (pydicom; frame ``slice`` of a multi-frame one): pixels * RescaleSlope +
    RescaleIntercept, MONOCHROME1/2 only."""
    import pydicom

    try:
        ds = pydicom.dcmread(path)
        pixels = ds.pixel_array
    except Exception as exc:
        raise ValueError(f"cannot read {path} as DICOM: {type(exc).__name__}: {exc}") from exc
    photometric = str(getattr(ds, "PhotometricInterpretation", "MONOCHROME2"))
    if not photometric.startswith("MONOCHROME"):
        raise _Refused(f"{path} has PhotometricInterpretation {photometric}; expected MONOCHROME1/2")
    slope = float(getattr(ds, "RescaleSlope", 1.0) or 1.0)
    intercept = float(getattr(ds, "RescaleIntercept", 0.0) or 0.0)
    meta = {
        "format": "dicom",
        "dtype": str(pixels.dtype),
        "original_shape": tuple(pixels.shape),
        "rescale_slope": slope,
        "rescale_intercept": intercept,
        "photometric": photometric,
    }
    arr = pixels.astype(np.float64) * slope + intercept
    if arr.ndim == 3:  # multi-frame
        s = _pick_slice(arr.shape[0], slice, "frames", str(path))
        arr, meta["slice"] = arr[s], s
    else:
        _no_slice(slice, str(path), arr.shape)
    return arr, meta


def read_nifti(path: Path, slice: int | None) -> tuple[np.ndarray, dict]:
    """(image, meta) from a NIfTI file (nibabel): a 2-D image, or slice ``slice`` along the last axis of a
    volume (trailing singleton axes dropped)."""
    import nibabel

    try:
        img = nibabel.load(path)
        if np.dtype(img.get_data_dtype()).kind == "c":
            arr = np.asarray(img.dataobj)
        else:
            arr = img.get_fdata()
    except Exception as exc:
        raise ValueError(f"cannot read {path} as NIfTI: {type(exc).__name__}: {exc}") from exc
    meta = {"format": "nifti", "dtype": str(img.get_data_dtype()), "original_shape": tuple(arr.shape)}
    if arr.ndim > 3:  # squeeze trailing singleton axes (e.g. a one-volume time series)
        while arr.ndim > 3 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        if arr.ndim > 3:
            raise _Refused(
                f"{path} holds a {len(meta['original_shape'])}-D volume of shape {meta['original_shape']}; "
                "expected 2-D or 3-D (x, y, slices)"
            )
    if arr.ndim == 3:
        s = _pick_slice(arr.shape[-1], slice, "slices along the last axis", str(path))
        arr, meta["slice"] = arr[..., s], s
    elif arr.ndim == 2:
        _no_slice(slice, str(path), arr.shape)
    return arr, meta


READERS: dict[str, Callable[[Path, int | None], tuple[np.ndarray, dict]]] = {
    ".npy": read_npy, ".png": read_raster, ".jpg": read_raster, ".jpeg": read_raster, ".tif": read_raster,
    ".tiff": read_raster, ".dcm": read_dicom, ".nii": read_nifti, ".nii.gz": read_nifti,
}

__all__ = ["READERS", "read_dicom", "read_nifti", "read_npy", "read_raster"]
