"""``firenets audit``: the stability battery on the user's own network, one page for a few images or,
for a dataset (a folder, volumes' slices, ``--per-image``, torchrun), a row and a page per image."""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path
from typing import Any

import torch

from .. import _distributed
from .._progress import Console, Status
from ..experiments.audit import AUDIT_THREATS, Setup, device_of, named_images, run_setup, setup
from ..experiments.dataset import DATASET_MARKERS, ROWS, audit_dataset, dataset_items
from ..experiments.stages import STAGES, check_sampling
from ..nets.adapter import INPUTS, OUTPUTS
from ..nets.user import load_model
from ..stability.threats import THREATS
from .options import (
    BUDGET_OPTIONS,
    add_budget,
    add_output,
    add_sampling,
    check_mask_shape,
    choices,
    nonnegative,
    numbers,
    output,
    positive_int,
    read_maps_file,
    sampling,
    seed,
)
from .options import budget as budget_of

DEFAULT_IMAGES = ["ellipses:20000", "shepp-logan"]
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def add(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("audit", help="the stability battery on your own torch network, FIRENET beside it")
    p.add_argument("images", nargs="*",
                   help="image files, folders (every image in them, each audited on its own), HDF5 volumes or "
                        f"built-ins (default: {' '.join(DEFAULT_IMAGES)})")
    p.add_argument("--model", required=True, help="PKG.MODULE:FACTORY returning a torch.nn.Module")
    p.add_argument("--weights", default=None, help="a state_dict file (read with weights_only=True)")
    p.add_argument("--input", choices=INPUTS, default="adjoint",
                   help="what the model is called with: adjoint = net(A^* y), complex (B, H, W); magnitude = "
                        "net(|A^* y|), real (B, 1, H, W); kspace = net(k, mask[, maps]) with k the zero-filled "
                        "k-space, complex (B, H, W) or (B, coils, H, W); fastmri = net(masked_kspace, mask, "
                        "num_low_frequencies) in fastMRI's layout (fastmri.models.VarNet)")
    p.add_argument("--output", choices=OUTPUTS, default="auto",
                   help="what the model returns: a magnitude (real) image, a complex one, or either (auto)")
    p.add_argument("--device", default=None,
                   help="where the model runs: cpu, cuda or cuda:N (default cuda when available); the attacks' "
                        "arithmetic around it stays float64")
    p.add_argument("--dtype", choices=list(DTYPES), default=None,
                   help="the model's precision (default: its parameters'); complex inputs in the matching "
                        "complex type")
    add_sampling(p, mask_help="sampling pattern (default gaussian; with coils cartesian: random columns and a fully "
                              "sampled centre, nested)")
    p.add_argument("--coils", type=positive_int, default=None,
                   help="simulate this many receive coils (birdcage maps, sum_c |S_c|^2 = 1) for the images: every "
                        "stage but the positive control then samples through SENSE. A multi-coil fastMRI file brings "
                        "its own k-space; its maps are estimated by ESPIRiT from the mask's fully sampled centre")
    p.add_argument("--maps", default=None,
                   help="coil maps (coils, H, W) from a complex .npy file, normalised so that sum_c |S_c|^2 = 1 on "
                        "the object, for the images or instead of the file's ESPIRiT estimate")
    p.add_argument("--noise", type=nonnegative, default=0.0,
                   help="standard deviation of complex Gaussian noise per k-space sample in the accuracy and "
                        "generalisation stages (image max = 1; the attacks perturb noiseless samples)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the mask and of the attacks' random starts")
    p.add_argument("--size", type=positive_int, default=None,
                   help="side of the built-in images (default 256; the shipped networks were trained at 128)")
    p.add_argument("--phase", type=seed, default=None,
                   help="give the built-in images the smooth random phase of this seed (data.smooth_phase), so that "
                        "they are complex like measured MR images; files keep the phase they hold")
    p.add_argument("--stages", type=choices(STAGES, "stages"), default=None,
                   help="comma-separated subset of the battery (default all): " + ", ".join(STAGES))
    add_budget(p)
    p.add_argument("--threat", type=choices(THREATS, "threat models"), default=None,
                   help="the threat models of the perturbation stage, comma-separated (default "
                        f"{','.join(AUDIT_THREATS)}, with coils also coil, for a fully sampled multi-coil file also "
                        "full-kspace): image (r in the image domain, ||r|| relative to ||x||), kspace "
                        "(e on the samples, ||e|| relative to ||A x||), coil (per coil), full-kspace (relative to the "
                        "fully sampled k-space)")
    p.add_argument("--kspace-norms", type=numbers(float, above=0), default=None,
                   help="the k-space threats' budgets eta, comma-separated (default: kspace and coil "
                        "0.005,0.01,0.025; full-kspace 0.04,0.08)")
    p.add_argument("--slices", default=None,
                   help="HDF5 volumes: audit these slices, each on its own ('all', 'A:B' or 'i,j,k')")
    p.add_argument("--per-image", action="store_true",
                   help="audit every image on its own with a row per image in results.jsonl (the default for a "
                        "folder, --slices and torchrun)")
    p.add_argument("--resume", action="store_true",
                   help="continue a dataset run in --out: images whose rows are in its results.jsonl are skipped "
                        "(the options must be the same)")
    add_output(p, "firenets-audit")
    p.set_defaults(run=run, options={**BUDGET_OPTIONS, "spec": "--model", "weights": "--weights", "input": "--input",
                                     "output": "--output", "device": "--device", "slices": "--slices",
                                     "coils": "--coils", "maps": "--maps", "center_fraction": "--center-fraction",
                                     "name": "--model", "model": "--model"})


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(args: argparse.Namespace) -> int:
    device = device_of(args.device)
    ranks = _distributed.start(str(device))
    console = Console(prefix=f"[rank {ranks.rank}] " if ranks.world > 1 else "")
    try:
        if ranks.world > 1 and device.type == "cuda":
            device = torch.device("cuda", ranks.local_rank)
        return _run(args, device, ranks, console)
    except Exception as exc:
        if ranks.world > 1:
            console(Status(f"firenets audit failed on this rank: {type(exc).__name__}: {exc}; torchrun stops the "
                            "others"))
        raise
    finally:
        _distributed.stop(ranks)


def _run(args: argparse.Namespace, device: torch.device, ranks: _distributed.Ranks, console: Console) -> int:
    sources = args.images or DEFAULT_IMAGES
    dataset = args.per_image or args.slices is not None or any(Path(s).is_dir() for s in sources) or ranks.world > 1
    if args.resume and not dataset:
        raise ValueError("--resume continues a dataset run (a folder, --slices or --per-image)")
    if args.size is not None and any(Path(s).exists() for s in sources):
        raise ValueError(f"--size applies to the built-in images; {next(s for s in sources if Path(s).exists())} "
                         "is a file")
    stages = tuple(args.stages or STAGES)
    sampled = sampling(args)
    try:  # before any image or model is loaded
        check_sampling(stages, sampled["mask"])
    except ValueError as exc:
        option = "--mask-file" if args.mask_file is not None else f"--mask {sampled['mask']}"
        raise ValueError(f"{option} with --stages {','.join(stages)}: {exc}") from None
    for option, path in (("--weights", args.weights), ("--mask-file", args.mask_file), ("--maps", args.maps)):
        if path is not None and not Path(path).is_file():
            raise ValueError(f"{option} {path}: no such file")
    budget = budget_of(args)
    if args.coils is not None and args.maps is not None:
        raise ValueError("give --coils (simulated maps) or --maps, not both")
    given = args.mask is not None or args.mask_file is not None
    acquisition = {"mask": sampled["mask"] if given else None, "rate": sampled["rate"],
                   "center_fraction": sampled["center_fraction"], "seed": args.seed, "noise": args.noise,
                   "coils": args.coils, "maps": read_maps_file(args.maps) if args.maps is not None else None}
    sys.path.insert(0, str(Path.cwd()))

    def load() -> Setup:  # the model, once the output place is known to be usable
        net = load_model(args.model, args.weights)
        return setup(net, name=args.model, input=args.input, output=args.output, acquisition=acquisition,
                     stages=stages, budget=budget, device=device, dtype=DTYPES.get(args.dtype), threats=args.threat,
                     kspace_norms=args.kspace_norms)

    if not dataset:
        return _single(args, sources, load, sampled["mask"], console)
    settings = {"model": args.model, "weights": args.weights and _sha256(args.weights), "input": args.input,
                "output": args.output, "dtype": args.dtype or "the model's",
                "mask": "custom" if isinstance(sampled["mask"], torch.Tensor) else args.mask or "default",
                "center_fraction": sampled["center_fraction"], "coils": args.coils,
                "maps_file": args.maps and _sha256(args.maps),
                "mask_file": args.mask_file and _sha256(args.mask_file), "rate": sampled["rate"], "seed": args.seed,
                "noise": args.noise, "stages": [s for s in STAGES if s in stages], "budget": budget.summary(),
                "size": args.size, "phase": args.phase, "threats": list(args.threat) if args.threat else "default",
                "kspace_norms": args.kspace_norms}
    items = dataset_items(sources, args.slices)
    result = audit_dataset(load, items, args.out, settings=settings, size=args.size, phase=args.phase, force=args.force,
                           resume=args.resume, ranks=ranks, progress=console)
    if result is None:  # another rank's part is done; rank 0 writes the page
        return 0
    out = Path(args.out)
    page = result.write(out)
    for line in page.terminal():
        print(line)
    print(f"wrote {out / 'index.html'}, {out / ROWS} ({len(result.rows)} images)")
    return 0 if result.complete else 1


def _single(args: argparse.Namespace, sources: list[str], load: Any, mask: Any, console: Console) -> int:
    """A few images on one page: accuracy over all of them, the single-image stages on the first."""
    out = Path(args.out)
    with output(args, DATASET_MARKERS) as staging:
        start = time.perf_counter()
        s = load()
        images = named_images(sources, size=args.size, phase=args.phase)
        check_mask_shape(args, mask, next(iter(images.values())).shape, "the image")
        result = run_setup(s, images, progress=console)
        page = result.write(staging, seconds=time.perf_counter() - start)
    for line in page.terminal():
        print(line)
    print(f"wrote {out / 'index.html'}")
    return 0 if not result.failures and not page.failures else 1
