"""``firenets reconstruct``: one image (or every slice of a volume) from simulated or measured k-space."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from .. import data, report
from .._io import atomic_write
from ..nets.mri import METHODS, REGULARISERS
from ..reconstruction import reconstruct, reconstruct_volume
from .options import (
    add_output,
    add_sampling,
    check_mask_shape,
    nonnegative,
    output,
    positive,
    sampling,
    say,
)

# the options that only FIRENET takes (MRIFirenet's keywords)
FIRENET_OPTIONS = ("restarts", "inner", "lam", "wavelet", "schedule", "regulariser", "tv_weight", "tol", "xtol",
                   "dtype")
DTYPES = {"complex128": torch.complex128, "complex64": torch.complex64}


def _slice(text: str) -> int | str:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a slice index or 'all', got {text!r}") from None


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reconstruct", help="reconstruct an image from simulated (or measured) k-space samples")
    p.add_argument("image", help="a file (.npy .png .dcm .nii .nii.gz .h5) or shepp-logan, camera, ellipses:SEED")
    p.add_argument("--method", choices=METHODS, default="firenet")
    add_sampling(p, mask_help="sampling pattern (default gaussian; fastmri-random for multi-coil files)")
    p.add_argument("--maps", choices=["espirit", "lowres"], default="espirit",
                   help="multi-coil: coil sensitivities by ESPIRiT or the low-resolution estimate, from the "
                        "mask's fully sampled centre")
    p.add_argument("--seed", type=int, default=0, help="seed of the mask and the noise")
    p.add_argument("--noise", type=nonnegative, default=0.0,
                   help="standard deviation of complex Gaussian noise per k-space sample (image max = 1)")
    p.add_argument("--slice", type=_slice, default=None,
                   help="slice of a 3-D file (default the middle one), or 'all' for every slice of an HDF5 "
                        "volume with fastMRI's volume metrics")
    p.add_argument("--weights", default=None, help="unet/cascade checkpoint (default: the shipped weights)")
    p.add_argument("--regulariser", choices=REGULARISERS, default=None,
                   help="FIRENET regulariser: orthonormal wavelets (synthesis, the paper's), undecimated wavelets, "
                        "total variation, or both (analysis); default: reconstruction.FIRENET_DEFAULTS")
    p.add_argument("--lam", type=positive, default=None,
                   help="FIRENET lam (default: the calibrated one of the regulariser, docs/imaging.md)")
    p.add_argument("--tv-weight", type=positive, default=None,
                   help="weight of total variation beside the wavelets in undecimated+tv")
    p.add_argument("--restarts", type=int, default=None, help="FIRENET restarts (the maximum with --tol)")
    p.add_argument("--inner", type=int, default=None, help="FIRENET steps per restart")
    p.add_argument("--tol", type=nonnegative, default=None,
                   help="stop FIRENET at this certified relative duality gap (0: never; default "
                        "reconstruction.FIRENET_DEFAULTS)")
    p.add_argument("--xtol", type=nonnegative, default=None,
                   help="stop FIRENET once its output moves by less than this (relative) over a restart (0: never)")
    p.add_argument("--wavelet", default=None, help="FIRENET wavelet (default haar)")
    p.add_argument("--schedule", choices=["paper", "adaptive"], default=None, help="FIRENET restart schedule")
    p.add_argument("--dtype", choices=list(DTYPES), default=None,
                   help="FIRENET precision (complex64 is faster; the certificate stays float64)")
    add_output(p, "firenets-reconstruction")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    options = {k: getattr(args, k) for k in FIRENET_OPTIONS if getattr(args, k) is not None}
    if args.method == "firenet":
        if "dtype" in options:
            options["dtype"] = DTYPES[args.dtype]
    else:
        given = [f"--{k.replace('_', '-')}" for k in options]
        if given:
            say(args, f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} to --method firenet only")
            return 2
    if args.slice == "all":
        return _volume(args, options)
    out = Path(args.out)
    with output(args, ("metrics.json",)) as staging:
        image = data.load(args.image, slice=args.slice)
        multicoil = image.kspace is not None and image.kspace.ndim == 3
        sampled = sampling(args, multicoil)
        check_mask_shape(args, sampled["mask"], image.image.shape, "the image")
        if multicoil and args.method not in ("firenet", "zero-filled"):
            raise ValueError(f"{args.image} is multi-coil k-space; the shipped {args.method} is single-coil: give "
                             "--method firenet or zero-filled")
        extra = {"maps_method": args.maps} if multicoil else {}
        result = reconstruct(image, args.method, seed=args.seed, noise=args.noise, weights=args.weights,
                             **sampled, **extra, **options)
        recon = result.image.numpy()
        atomic_write(staging / "recon.npy", lambda tmp: np.save(open(tmp, "wb"), recon, allow_pickle=False))
        report.save_image(staging / "recon.png", result.magnitude, vmax=float(result.acquisition.target.max()))
        if multicoil:
            np.save(staging / "maps.npy", result.maps.numpy(), allow_pickle=False)
        report.reconstruction_figure(staging / "comparison.png", result.acquisition.target, result.magnitude,
                                     zero_filled=result.zero_filled, title=args.method,
                                     metrics=result.metrics, zero_filled_metrics=result.zero_filled_metrics)
        report.write_json(staging / "metrics.json", {"image": image.source, **result.summary()})  # completion
    m, zf = result.metrics, result.zero_filled_metrics
    print(f"{args.method} on {image.source} ({result.acquisition.mask_kind} mask, rate "
          f"{result.acquisition.rate:.3f}): PSNR {m['psnr']:.2f} dB (zero-filled {zf['psnr']:.2f}), "
          f"SSIM {m['ssim']:.3f} (zero-filled {zf['ssim']:.3f}), NMSE {m['nmse']:.2e}, {result.seconds:.2f} s")
    if result.certificate is not None:
        c = result.certificate
        print(f"FIRENET: {result.num_layers} layers; certificate: objective {c['objective']:.6g}, "
              f"duality gap {c['gap']:.3g} (relative {c['relative_gap']:.3g})")
    print(f"wrote {out / 'metrics.json'}, recon.npy, recon.png, comparison.png" + (", maps.npy" if multicoil else ""))
    return 0


def _volume(args: argparse.Namespace, options: dict) -> int:
    """``--slice all``: every slice alike, fastMRI's volume metrics."""
    if not str(args.image).lower().endswith((".h5", ".hdf5")):
        raise ValueError(f"--slice all reconstructs every slice of an HDF5 volume; {args.image} is not one")
    out = Path(args.out)
    with output(args, ("metrics.json",)) as staging:
        first = data.load(args.image, slice=0)
        multicoil = first.kspace is not None and first.kspace.ndim == 3
        sampled = sampling(args, multicoil)
        extra = {"maps_method": args.maps} if multicoil else {}
        vol = reconstruct_volume(args.image, args.method, seed=args.seed, noise=args.noise, weights=args.weights,
                                 **sampled, **extra, **options)
        stack = np.stack([r.image.numpy() for r in vol.slices])
        atomic_write(staging / "recon.npy", lambda tmp: np.save(open(tmp, "wb"), stack, allow_pickle=False))
        mid = vol.slices[len(vol.slices) // 2]
        report.save_image(staging / "recon.png", mid.magnitude, vmax=float(mid.acquisition.target.max()))
        report.reconstruction_figure(staging / "comparison.png", mid.acquisition.target, mid.magnitude,
                                     zero_filled=mid.zero_filled, title=f"{args.method} (middle slice)",
                                     metrics=mid.metrics, zero_filled_metrics=mid.zero_filled_metrics)
        report.write_json(staging / "metrics.json", {"image": str(args.image), **vol.summary()})
    m, zf = vol.metrics, vol.zero_filled_metrics
    print(f"{args.method} on {args.image}, {len(vol.slices)} slices: volume PSNR {m['psnr']:.2f} dB (zero-filled "
          f"{zf['psnr']:.2f}), SSIM {m['ssim']:.3f} (zero-filled {zf['ssim']:.3f}), NMSE {m['nmse']:.2e}")
    print(f"wrote {out / 'metrics.json'}, recon.npy (slices, H, W), recon.png, comparison.png")
    return 0
