"""fastMRI HDF5 files: read one slice (k-space, stored reconstruction, ISMRMRD header sizes), count the
slices of a volume, and write a simulated multi-coil scan in the same layout.

The layout (Zbontar et al., "fastMRI: an open dataset and benchmarks for accelerated MRI", 2018):
``kspace`` (slices, H, W) single-coil or (slices, coils, H, W) multi-coil, centred, complex;
``reconstruction_esc`` / ``reconstruction_rss`` (slices, h, w); an ``ismrmrd_header`` XML string.
k-space and images are related by the centred orthonormal FFT (``operators.fft2c``, ``ifft2c``).
h5py loads inside the functions that need it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import coils as _coils
from .._io import atomic_write
from .._validation import as_tensor, check_pixels
from ..operators import fft2c, ifft2c
from .readers import _check_values, _no_slice, _pick_slice, _Refused

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


def read_h5(path: Path, slice: int | None) -> tuple[np.ndarray, dict, np.ndarray | None, np.ndarray | None]:
    """(image, meta, kspace, reference) of slice ``slice`` of a fastMRI-style HDF5 file: single-coil, the complex
    image F_c^-1 k and k; multi-coil, the RSS of the coil images and every coil's k; a stored
    reconstruction as reference (or as the image when there is no k-space)."""
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


__all__ = ["count_slices", "read_h5", "simulate_multicoil"]
