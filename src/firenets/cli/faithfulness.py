"""``firenets faithfulness``: is a detail of a reconstruction supported by the data? Certified bounds
on a region's mean over the images the samples and a prior allow, and the verdict."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from .. import data, report
from ..acquisition import acquire, acquire_multicoil
from ..stability.faithfulness import DEFAULT_PRIOR, DEFAULT_SLACK, QUANTITIES, default_quantity, region_bounds
from ..stability.targeted import disc
from .options import (
    add_output,
    add_sampling,
    check_mask_shape,
    nonnegative,
    output,
    positive,
    positive_int,
    read_mask_file,
    sampling,
)


def _region(text: str) -> tuple[float, float, float]:
    try:
        x, y, r = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected x,y,r (column, row, radius in pixels); got {text!r}") from None
    if not r > 0:
        raise argparse.ArgumentTypeError(f"the radius must be positive; got {text!r}")
    return x, y, r


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("faithfulness", help="is a detail supported by the data? certified bounds on a region's mean")
    p.add_argument("image", help="the image or k-space the samples come from: a file (.npy .png .dcm .nii .h5) or "
                                 "shepp-logan, camera, ellipses:SEED (sampled as by firenets reconstruct)")
    p.add_argument("--recon", required=True, help="the reconstruction to examine: an (H, W) .npy (recon.npy of "
                                                  "firenets reconstruct)")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--region", type=_region, help="a disc x,y,r: column, row and radius in pixels")
    where.add_argument("--region-mask", help="a boolean (H, W) .npy: the region")
    p.add_argument("--reference", default=None,
                   help="the reconstruction the prior is sized from, an (H, W) .npy (default: --recon itself)")
    p.add_argument("--prior", default=DEFAULT_PRIOR,
                   help="the prior set: wavelet, undecimated, tv, box joined by +, or none "
                        f"(default {DEFAULT_PRIOR})")
    p.add_argument("--slack", type=nonnegative, default=DEFAULT_SLACK,
                   help="each prior bound is (1 + SLACK) x the reference's own value (default "
                        f"{DEFAULT_SLACK}; docs/faithfulness.md)")
    add_sampling(p, mask_help="sampling pattern, as given to firenets reconstruct (default gaussian; fastmri-random "
                              "for multi-coil files)")
    p.add_argument("--seed", type=int, default=0, help="seed of the mask and the noise (as firenets reconstruct)")
    p.add_argument("--noise", type=nonnegative, default=0.0,
                   help="standard deviation of the complex Gaussian noise per sample, as given to firenets "
                        "reconstruct; it sets eta = noise sqrt(m + 2 sqrt m)")
    p.add_argument("--eta", type=nonnegative, default=None,
                   help="the data's radius ||A z - y|| <= ETA directly (default: from --noise for simulated "
                        "samples, estimated from the outermost samples for measured k-space)")
    p.add_argument("--slice", type=int, default=None, help="slice of a 3-D file (default the middle one)")
    p.add_argument("--background", type=float, default=None,
                   help="the value the region would have without the detail (default: the reconstruction's "
                        "mean on a ring around the region)")
    p.add_argument("--quantity", choices=("auto", *QUANTITIES), default="auto",
                   help="bound the region's mean of Re z (real) or of |z| (modulus: its lower end exact, its upper "
                        "end the modulus's envelope over the prior's box); auto (the default): modulus for a "
                        "complex --recon with a nonzero imaginary part, real otherwise")
    p.add_argument("--tol", type=positive, default=3e-3,
                   help="each end is solved to this gap and constraint excess, relative to the image's maximum "
                        "(default 3e-3); the interval is certified however early it stops")
    p.add_argument("--iterations", type=positive_int, default=5000, help="the iteration cap per end (default 5000)")
    add_output(p, "firenets-faithfulness")
    p.set_defaults(run=run)


def _npy(name: str, path: str, shape: tuple[int, ...]) -> torch.Tensor:
    """A floating-point or complex (H, W) array from a .npy file (never unpickled), of the image's shape."""
    try:
        a = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as e:
        raise ValueError(f"{name} {path}: not a readable .npy array ({e})") from None
    if a.dtype.kind not in "fc":
        raise ValueError(f"{name} {path} must be a floating-point or complex array; got dtype {a.dtype}")
    if tuple(a.shape) != tuple(shape):
        raise ValueError(f"{name} {path} is {tuple(a.shape)} but the image is {tuple(shape)}")
    return torch.from_numpy(np.ascontiguousarray(a))


def run(args: argparse.Namespace) -> int:
    out = Path(args.out)
    image = data.load(args.image, slice=args.slice)
    multicoil = image.kspace is not None and image.kspace.ndim == 3
    sampled = sampling(args, multicoil)
    shape = tuple(image.image.shape)
    check_mask_shape(args, sampled["mask"], shape, "the image")
    recon = _npy("--recon", args.recon, shape)
    if not bool(torch.isfinite(recon).all()):
        raise ValueError(f"--recon {args.recon} holds NaN or Inf values")
    reference = None if args.reference is None else _npy("--reference", args.reference, shape)
    if args.region_mask is not None:
        region = read_mask_file(args.region_mask, "--region-mask")
        if tuple(region.shape) != shape:
            raise ValueError(f"--region-mask {args.region_mask} is {tuple(region.shape)} but the image is {shape}")
    else:
        x, y, r = args.region
        region = disc(shape, (y, x), r)
    if multicoil:
        acq = acquire_multicoil(image.kspace, seed=args.seed, noise=args.noise, **sampled)
    else:
        kspace = image.kspace
        acq = acquire(image.with_phase if kspace is None else image.image, seed=args.seed, noise=args.noise,
                      kspace=kspace, **sampled)
    eta, noise = args.eta, None
    if eta is None and acq.simulated:
        noise = args.noise  # simulated samples: the noise added is known
    quantity = default_quantity(recon) if args.quantity == "auto" else args.quantity
    with output(args, ("faithfulness.json",)) as staging:
        bounds = region_bounds(acq.y, acq.operator, recon, region, reference=reference, eta=eta, noise=noise,
                               prior=args.prior, slack=args.slack, background=args.background, quantity=quantity,
                               tol=args.tol, iterations=args.iterations)
        report.faithfulness_figure(staging / "faithfulness.png", recon.abs(), bounds,
                                   title=f"{Path(args.recon).name} on {image.source}")
        report.write_json(staging / "faithfulness.json", {
            "image": image.source, "recon": str(args.recon), "mask": acq.mask_kind, "rate": acq.rate,
            "seed": args.seed, "noise": args.noise, **bounds.summary()})  # completion marker, last
    lo, hi = bounds.interval
    conv = {True: "both ends converged", False: "not converged: the interval is certified but wider than the "
                                                "optimum", None: "closed form"}[bounds.converged]
    print(f"region of {int(region.sum())} pixels: the data (eta {bounds.eta:.4g}) and the prior ({bounds.prior}, "
          f"slack {bounds.slack:g}) allow a mean of {bounds.measure} in [{lo:.4g}, {hi:.4g}] ({conv}); the reconstruction "
          f"has {bounds.value:.4g}, the background {bounds.background:.4g}: {bounds.verdict} ({bounds.seconds:.1f} s)")
    print(f"wrote {out / 'faithfulness.json'}, faithfulness.png")
    return 0
