"""Load one 2-D image (and its k-space, when the file holds it) from a file or a built-in phantom.

Formats by suffix: .npy (NumPy), .png/.jpg/.jpeg/.tif/.tiff (Pillow), .dcm (pydicom),
.nii/.nii.gz (nibabel), .h5/.hdf5 (fastMRI HDF5, h5py). Built-ins: "shepp-logan" and
"ellipses:SEED". Every image comes back as a float64 magnitude normalised to max 1; k-space, when
present, is scaled by the same factor, so ``Fourier2D`` of the (complex) image reproduces it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._validation import check_int, check_pixels
from ..operators import fft2c, ifft2c
from .phantoms import _phantom_shape, camera, ellipses, shepp_logan

FORMATS = (".npy", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".dcm", ".nii", ".nii.gz", ".h5", ".hdf5")
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
    original magnitude is image * scale), and format-specific entries.
    """

    image: torch.Tensor
    kspace: torch.Tensor | None
    source: str
    meta: dict = field(default_factory=dict)
    reference: torch.Tensor | None = None


class _Refused(ValueError):
    """A ValueError raised by these readers themselves (passed through, not wrapped)."""


def _suffix(path: Path) -> str:
    name = path.name.lower()
    if name.endswith(".nii.gz"):
        return ".nii.gz"
    return path.suffix.lower()


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
            k = None
    return LoadedImage(image=image, kspace=k, source=name, meta=meta, reference=ref)


def _load_npy(path: Path, slice: int | None) -> tuple[np.ndarray, dict]:
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


def _load_raster(path: Path, slice: int | None) -> tuple[np.ndarray, dict]:
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


def _load_dicom(path: Path, slice: int | None) -> tuple[np.ndarray, dict]:
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


def _load_nifti(path: Path, slice: int | None) -> tuple[np.ndarray, dict]:
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


_RECONSTRUCTIONS = ("reconstruction_esc", "reconstruction_rss")


def _h5_attrs(f: Any) -> dict:
    out = {}
    for key, value in f.attrs.items():
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, (str, int, float, bool)):
            out[key] = value
    return out


def _ismrmrd_sizes(header: Any, name: str) -> dict:
    """The encoded and reconstruction matrix sizes (x, y, z) from an ISMRMRD XML header, where present."""
    import xml.etree.ElementTree as ET

    if isinstance(header, np.ndarray):
        header = header.item()
    text = header.decode("utf-8", "replace") if isinstance(header, bytes) else str(header)
    if "<!ENTITY" in text or "<!DOCTYPE" in text:
        raise _Refused(f"the ismrmrd_header of {name} declares entities or a DOCTYPE; it is not read")
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise _Refused(f"the ismrmrd_header of {name} is not valid XML: {exc}") from None
    out = {}
    for space, key in (("encodedSpace", "encoding_size"), ("reconSpace", "recon_size")):
        node = next((n for n in root.iter() if n.tag.rsplit("}", 1)[-1] == space), None)
        size = None if node is None else next((n for n in node if n.tag.rsplit("}", 1)[-1] == "matrixSize"), None)
        if size is not None:
            vals = {c.tag.rsplit("}", 1)[-1]: c.text for c in size}
            try:
                out[key] = tuple(int(vals[a]) for a in ("x", "y", "z") if a in vals)
            except (TypeError, ValueError):
                raise _Refused(f"the ismrmrd_header of {name} has a non-integer {space} matrixSize") from None
    return out


def _load_h5(path: Path, slice: int | None) -> tuple[np.ndarray, dict, np.ndarray | None, np.ndarray | None]:
    """(image, meta, kspace, reference) from a fastMRI-style HDF5 file."""
    import h5py

    name = str(path)
    try:
        f = h5py.File(path, "r")
    except Exception as exc:
        raise ValueError(f"cannot read {path} as HDF5: {type(exc).__name__}: {exc}") from exc
    try:
        with f:
            keys = sorted(f.keys())
            meta: dict = {"format": "fastmri-h5", "datasets": keys, "attrs": _h5_attrs(f)}
            if "ismrmrd_header" in f:
                meta.update(_ismrmrd_sizes(f["ismrmrd_header"][()], name))
            recon_key = next((k for k in _RECONSTRUCTIONS if k in f), None)
            if "kspace" in f:
                ds = f["kspace"]
                meta.update(dtype=str(ds.dtype), original_shape=tuple(ds.shape))
                if ds.dtype.kind != "c":
                    raise _Refused(f"dataset 'kspace' in {name} has dtype {ds.dtype}; expected complex")
                if ds.ndim >= 2:
                    check_pixels(f"the k-space in {name}", ds.shape[-2:])
                if ds.ndim == 2:
                    _no_slice(slice, name, ds.shape)
                    s, k = None, ds[()]
                elif ds.ndim in (3, 4):
                    s = _pick_slice(ds.shape[0], slice, "slices", name)
                    k = ds[s]
                else:
                    raise _Refused(
                        f"dataset 'kspace' in {name} has shape {ds.shape}; expected (slices, H, W) "
                        "single-coil or (slices, coils, H, W) multi-coil"
                    )
                meta["slice"] = s
                if recon_key is not None and ds.ndim == 4 and "reconstruction_rss" in f:
                    recon_key = "reconstruction_rss"  # multi-coil: the RSS reference matches
                reference = None
                if recon_key is not None:
                    r = f[recon_key]
                    reference = r[s] if (s is not None and r.ndim == 3) else r[()]
                    meta["reference"] = recon_key
            elif recon_key is not None:
                r = f[recon_key]
                meta.update(dtype=str(r.dtype), original_shape=tuple(r.shape), reconstruction=recon_key)
                if r.ndim >= 2:
                    check_pixels(f"dataset {recon_key!r} in {name}", r.shape[-2:])
                if r.ndim == 3:
                    s = _pick_slice(r.shape[0], slice, "slices", name)
                    image = r[s]
                else:
                    _no_slice(slice, name, r.shape)
                    s, image = None, r[()]
                meta["slice"] = s
                return np.asarray(image), meta, None, None
            else:
                raise _Refused(
                    f"{name} has neither a 'kspace' nor a reconstruction dataset "
                    f"({', '.join(_RECONSTRUCTIONS)}); it holds {keys}"
                )
    except _Refused:
        raise
    except Exception as exc:
        raise ValueError(f"cannot read the data in {path}: {type(exc).__name__}: {exc}") from exc
    k = np.asarray(k, dtype=np.complex128)
    _check_values(k, name, "the k-space")
    if reference is not None:
        reference = np.asarray(reference, dtype=np.float64)
        _check_values(reference, name, f"dataset {meta['reference']!r}")
        side = k.shape[-2:]
        # a reference is the image centre-cropped to the reconstruction size: no larger than the image,
        # and (fastMRI oversamples the readout at most 2x) at least half of it on each side
        if reference.ndim != 2 or any(not (n + 1) // 2 <= r <= n for r, n in zip(reference.shape, side, strict=True)):
            raise _Refused(f"dataset {meta['reference']!r} in {name} has shape {reference.shape} for k-space of "
                           f"{tuple(side)}; a reference must be a 2-D centre crop of the image, between half of it "
                           "and all of it on each side")
    if k.ndim == 2:  # single-coil: the complex image, k-space kept
        meta["coils"] = 1
        return ifft2c(k), meta, k, reference
    meta["coils"] = int(k.shape[0])
    rss = np.sqrt(np.sum(np.abs(ifft2c(k)) ** 2, axis=0))
    return rss, meta, k, reference  # multi-coil: the RSS image, and every coil's k-space


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
        if suffix == ".npy":
            arr, meta = _load_npy(path, slice)
        elif suffix == ".dcm":
            arr, meta = _load_dicom(path, slice)
        elif suffix in (".nii", ".nii.gz"):
            arr, meta = _load_nifti(path, slice)
        elif suffix in (".h5", ".hdf5"):
            arr, meta, kspace, reference = _load_h5(path, slice)
        else:
            arr, meta = _load_raster(path, slice)
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    return _finish(arr, str(path), meta, kspace=kspace, reference=reference, shape=shape)


def _ismrmrd_header(encoding: tuple[int, int], recon: tuple[int, int]) -> bytes:
    """A minimal ISMRMRD XML header with the encoded and reconstruction matrix sizes (x = readout)."""
    def space(tag: str, size: tuple[int, int]) -> str:
        return (f"<{tag}><matrixSize><x>{size[0]}</x><y>{size[1]}</y><z>1</z></matrixSize></{tag}>")

    return ('<?xml version="1.0" encoding="utf-8"?><ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD">'
            f"<encoding>{space('encodedSpace', encoding)}{space('reconSpace', recon)}</encoding></ismrmrdHeader>"
            ).encode()


def simulate_multicoil(images: Any, coils: int = 8, *, path: str | Path | None = None,
                       recon_size: tuple[int, int] | None = None, maps: Any = None) -> dict:
    """A multi-coil scan in fastMRI's layout from images (slices, H, W) or one (H, W): coil images
    S_c x with ``maps`` (default ``coils.birdcage(coils, (H, W))``), their centred k-space as
    complex64 ``kspace`` (slices, coils, H, W), ``reconstruction_rss`` (slices, h, w) the RSS of the
    fully sampled coil images centre-cropped to ``recon_size`` (default the whole image), and the
    attributes ``acquisition``, ``max``, ``norm`` and an ``ismrmrd_header`` with the sizes.
    Written to ``path`` (HDF5, atomically) when given; returns the arrays and attributes."""
    from .. import coils as _coils
    from .._io import atomic_write
    from .._validation import as_tensor

    x = as_tensor("images", images)
    if x.ndim == 2:
        x = x[None]
    if x.ndim != 3:
        raise ValueError(f"images must be (H, W) or (slices, H, W); got shape {tuple(x.shape)}")
    S, H, W = x.shape
    check_pixels("images", (H, W))
    S_c = _coils.birdcage(coils, (H, W)) if maps is None else as_tensor("maps", maps).to(torch.complex128)
    if tuple(S_c.shape[-2:]) != (H, W) or S_c.ndim != 3:
        raise ValueError(f"maps must be (coils, {H}, {W}); got {tuple(S_c.shape)}")
    coil_images = x.to(torch.complex128)[:, None] * S_c[None]  # (slices, coils, H, W)
    k = fft2c(coil_images.numpy())
    rss = np.sqrt((np.abs(ifft2c(k)) ** 2).sum(1))
    h, w = recon_size if recon_size is not None else (H, W)
    if not (0 < h <= H and 0 < w <= W):
        raise ValueError(f"recon_size {recon_size} must fit in the image {H}x{W}")
    r0, c0 = (H - h) // 2, (W - w) // 2
    out = {"kspace": k.astype(np.complex64), "reconstruction_rss": rss[:, r0:r0 + h, c0:c0 + w].astype(np.float32),
           "attrs": {"acquisition": "simulated", "max": float(rss.max()), "norm": float(np.linalg.norm(rss)),
                     "coils": int(S_c.shape[0])},
           "ismrmrd_header": _ismrmrd_header((H, W), (h, w))}
    if path is not None:
        import h5py

        def write(tmp: str) -> None:
            with h5py.File(tmp, "w") as f:
                f.create_dataset("kspace", data=out["kspace"])
                f.create_dataset("reconstruction_rss", data=out["reconstruction_rss"])
                f.create_dataset("ismrmrd_header", data=out["ismrmrd_header"])
                for key, value in out["attrs"].items():
                    f.attrs[key] = value

        atomic_write(path, write)
    return out


def count_slices(path: str | Path) -> int:
    """The number of slices of a fastMRI-style HDF5 volume (its ``kspace``, else its reconstruction)."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with h5py.File(path, "r") as f:
            key = "kspace" if "kspace" in f else next((k for k in _RECONSTRUCTIONS if k in f), None)
            if key is None:
                raise _Refused(f"{path} has neither a 'kspace' nor a reconstruction dataset")
            ds = f[key]
            single = ds.ndim == 2 or (key != "kspace" and ds.ndim == 2)
            n = 1 if single else int(ds.shape[0])
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    except OSError as exc:
        raise ValueError(f"cannot read {path} as HDF5: {exc}") from None
    if n < 1:
        raise ValueError(f"{path} holds a volume with no slices")
    return n
