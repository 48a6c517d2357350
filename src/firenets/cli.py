"""The ``firenets`` command: parses arguments, calls the library, writes results."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path


def _info(args: argparse.Namespace) -> int:
    import platform

    import torch

    import firenets

    print(f"firenets {firenets.__version__}")
    print(f"python {platform.python_version()}, torch {torch.__version__}")
    print(f"cuda available: {torch.cuda.is_available()}")
    return 0


def _int_list(text: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from None
    if not values or any(v < 1 for v in values):
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _table(args: argparse.Namespace) -> int:
    from firenets.barriers import table

    out = Path(args.out)
    with _output(args, ("run.json", "table.json")) as staging:
        mode = "quick (reduced LISTA training)" if args.quick else "full (LISTA: 4000 epochs)"
        print(f"firenets table: K = {args.K}, n = {args.n}, dims = {args.dims}, {mode}", file=sys.stderr)
        result = table.run(Ks=args.K, ns=args.n, dims=args.dims, quick=args.quick, epochs=args.epochs,
                           seed=args.seed, progress=not args.no_progress, checkpoint=args.checkpoint)
        paths = table.write(result, staging)
    print(table.text(result))
    print(f"\nwrote {', '.join(str(out / p.name) for p in paths)}")
    return 0 if all(result.claims().values()) else 1


INPUT_NAMES = ("adjoint", "magnitude", "kspace", "fastmri")  # nets.user.INPUTS, without importing torch here
MASK_KINDS = ["gaussian", "cartesian", "radial", "das", "fastmri-random", "fastmri-equispaced"]


STAGE_NAMES = ("accuracy", "perturbation", "hallucination-attack", "structural", "more-samples", "generalisation",
               "hallucination", "positive-control")  # stability.battery.STAGES, without importing torch here


def _stages(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in STAGE_NAMES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"expected stages among {', '.join(STAGE_NAMES)}; got {text!r}")
    return names


def _seed(text: str) -> int:
    value = _integer(text, 0)
    if value > 2**63 - 1:
        raise argparse.ArgumentTypeError(f"expected a seed in [0, 2^63 - 1], got {text!r}")
    return value


def _slice(text: str) -> int | str:
    if text == "all":
        return text
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a slice index or 'all', got {text!r}") from None


def _acceleration(text: str) -> float:
    value = _positive_float(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a number >= 1, got {text!r}")
    return value


def _fraction(text: str) -> float:
    value = _positive_float(text)
    if not value < 1:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 1), got {text!r}")
    return value


def _sampling(args: argparse.Namespace, multicoil: bool) -> dict:
    """mask, rate and center_fraction from --mask/--mask-file, --rate/--acceleration, --center-fraction."""
    import numpy as np
    import torch

    if args.rate is not None and args.acceleration is not None:
        raise ValueError("give --rate or --acceleration, not both")
    if args.mask_file is not None and args.mask is not None:
        raise ValueError("give --mask or --mask-file, not both")
    kind = args.mask or ("fastmri-random" if multicoil else "gaussian")
    if args.center_fraction is not None and (args.mask_file is not None or not kind.startswith("fastmri")):
        raise ValueError("--center-fraction applies to --mask fastmri-random and fastmri-equispaced")
    rate = 1 / args.acceleration if args.acceleration is not None else (0.25 if args.rate is None else args.rate)
    out = {"mask": kind, "rate": rate, "center_fraction": args.center_fraction}
    if args.mask_file is not None:
        try:
            m = np.load(args.mask_file, allow_pickle=False)
        except Exception as exc:
            raise ValueError(f"--mask-file {args.mask_file} cannot be read as a .npy file: {exc}") from None
        if m.dtype != np.bool_ or m.ndim != 2:
            raise ValueError(f"--mask-file {args.mask_file} must hold a boolean (H, W) array; got dtype {m.dtype}, "
                             f"shape {m.shape}")
        if not m.any():
            raise ValueError(f"--mask-file {args.mask_file} samples nothing")
        out.update(mask=torch.from_numpy(m.copy()), center_fraction=None)
    return out


def check_mask_shape(sampling: dict, shape: Sequence[int], where: str, mask_file: str | None) -> None:
    """Refuse a --mask-file whose (H, W) is not the image's (``where`` names the image)."""
    m = sampling["mask"]
    if not isinstance(m, str) and tuple(m.shape) != tuple(shape):
        raise ValueError(f"--mask-file {mask_file} is {tuple(m.shape)} but {where} is {tuple(shape)}")


FORCE_HELP = ("write into an --out that holds other files (the previous run's completion files are removed "
              "first, this run's written last)")


def _out_path(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text!r}")
    return value


def _integer(text: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _integer(text, 1)


def _nonnegative_int(text: str) -> int:
    return _integer(text, 0)


def _momentum(text: str) -> float:
    value = _nonnegative_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a momentum in [0, 1), got {text!r}")
    return value


def _rate(text: str) -> float:
    value = _positive_float(text)
    if value > 1:
        raise argparse.ArgumentTypeError(f"expected a sampling rate in (0, 1], got {text!r}")
    return value


def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if value == 0:
        return 0.0
    return _positive_float(text)


# the options of `firenets reconstruct` that only FIRENET takes (MRIFirenet's keywords)
FIRENET_OPTIONS = ("restarts", "inner", "lam", "wavelet", "schedule", "regulariser", "tv_weight", "tol", "xtol",
                   "dtype")


def _reconstruct(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    import firenets
    from firenets import report
    from firenets._io import atomic_write

    options = {k: getattr(args, k) for k in FIRENET_OPTIONS if getattr(args, k) is not None}
    if args.method == "firenet":
        if "dtype" in options:
            options["dtype"] = {"complex128": torch.complex128, "complex64": torch.complex64}[args.dtype]
    else:
        given = [f"--{k.replace('_', '-')}" for k in options]
        if given:
            verb = "applies" if len(given) == 1 else "apply"
            print(f"firenets reconstruct: {', '.join(given)} {verb} to --method firenet only", file=sys.stderr)
            return 2
    out = Path(args.out)
    if args.slice == "all":
        return _reconstruct_volume(args, options, out)
    with _output(args, ("metrics.json",)) as staging:
        image = firenets.data.load(args.image, slice=args.slice)
        multicoil = image.kspace is not None and image.kspace.ndim == 3
        sampling = _sampling(args, multicoil)
        check_mask_shape(sampling, image.image.shape, "the image", args.mask_file)
        if multicoil and args.method not in ("firenet", "zero-filled"):
            raise ValueError(f"{args.image} is multi-coil k-space; the shipped {args.method} is single-coil: give "
                             "--method firenet or zero-filled")
        extra = {"maps_method": args.maps} if multicoil else {}
        result = firenets.reconstruct(image, args.method, seed=args.seed, noise=args.noise, weights=args.weights,
                                      **sampling, **extra, **options)
        summary = {"image": image.source, **result.summary()}
        recon = result.image.numpy()
        atomic_write(staging / "recon.npy", lambda tmp: np.save(open(tmp, "wb"), recon, allow_pickle=False))
        report.save_image(staging / "recon.png", result.magnitude, vmax=float(result.acquisition.target.max()))
        if multicoil:
            np.save(staging / "maps.npy", result.maps.numpy(), allow_pickle=False)
        report.reconstruction_figure(staging / "comparison.png", result.acquisition.target, result.magnitude,
                                     zero_filled=result.zero_filled, title=args.method,
                                     metrics=result.metrics, zero_filled_metrics=result.zero_filled_metrics)
        report.write_json(staging / "metrics.json", summary)  # its presence means the run completed
    m = result.metrics
    zf = result.zero_filled_metrics
    print(f"{args.method} on {image.source} ({result.acquisition.mask_kind} mask, rate "
          f"{result.acquisition.rate:.3f}): PSNR {m['psnr']:.2f} dB (zero-filled {zf['psnr']:.2f}), "
          f"SSIM {m['ssim']:.3f} (zero-filled {zf['ssim']:.3f}), NMSE {m['nmse']:.2e}, {result.seconds:.2f} s")
    if result.certificate is not None:
        c = result.certificate
        print(f"FIRENET: {result.num_layers} layers; certificate: objective {c['objective']:.6g}, "
              f"duality gap {c['gap']:.3g} (relative {c['relative_gap']:.3g})")
    print(f"wrote {out / 'metrics.json'}, recon.npy, recon.png, comparison.png" + (", maps.npy" if multicoil else ""))
    return 0


def _reconstruct_volume(args: argparse.Namespace, options: dict, out: Path) -> int:
    """``firenets reconstruct FILE.h5 --slice all``: every slice alike, fastMRI's volume metrics."""
    import numpy as np

    import firenets
    from firenets import report
    from firenets._io import atomic_write

    if not str(args.image).lower().endswith((".h5", ".hdf5")):
        raise ValueError(f"--slice all reconstructs every slice of an HDF5 volume; {args.image} is not one")
    with _output(args, ("metrics.json",)) as staging:
        first = firenets.data.load(args.image, slice=0)
        multicoil = first.kspace is not None and first.kspace.ndim == 3
        sampling = _sampling(args, multicoil)
        extra = {"maps_method": args.maps} if multicoil else {}
        vol = firenets.reconstruction.reconstruct_volume(args.image, args.method, seed=args.seed, noise=args.noise,
                                                         weights=args.weights, **sampling, **extra, **options)
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


def _train(args: argparse.Namespace) -> int:
    import shlex

    from firenets import reconstruction
    from firenets._io import Lock

    if (args.kind is None) == (args.model is None):
        print("firenets train: give a kind (unet, cascade) or --model PKG.MODULE:FACTORY, one of them",
              file=sys.stderr)
        return 2
    if args.model is None and args.input is not None:
        print("firenets train: --input applies to --model", file=sys.stderr)
        return 2
    if args.model is not None and args.features is not None:
        print("firenets train: --features applies to the built-in kinds; your factory sets its own", file=sys.stderr)
        return 2
    name = args.kind or args.model.split(":")[-1]
    out = Path(args.out) if args.out else Path(f"{name}-{args.size}-{args.mask}-{round(args.rate * 100)}.pt")
    if out.is_dir():
        print(f"firenets train: --out {out} is a directory; give the weights file's name", file=sys.stderr)
        return 2
    problem = _unwritable(out.parent if str(out.parent) else Path("."))
    if problem:
        print(f"firenets train: --out {out}: the directory is {problem}", file=sys.stderr)
        return 2
    lock = Lock(out.absolute().parent / f".{out.name}.firenets-lock", what=f"--out {out}")
    try:
        if lock.stale is not None:
            print(f"firenets train: --out {out}: an earlier run (pid {lock.stale}) was interrupted; its lock is "
                  "taken over (--resume continues from its state file)", file=sys.stderr)
        if out.exists() and not args.resume and not args.force:
            print(f"firenets train: {out} exists; use --force to overwrite it", file=sys.stderr)
            return 2
        rest = sys.argv[sys.argv.index("train") + 1:] if "train" in sys.argv else []
        command = "firenets train " + " ".join(shlex.quote(a) for a in rest) if args.record_argv else ""
        common = dict(size=args.size, mask=args.mask, rate=args.rate, seed=args.seed, n_train=args.n_train,
                      n_val=args.n_val, batch=args.batch, lr=args.lr, resume=args.resume,
                      progress=not args.no_progress, command=command or args.command_text)
        if args.model is not None:
            from firenets.nets.user import load_model

            sys.path.insert(0, str(Path.cwd()))
            net = load_model(args.model)
            net, record = reconstruction.train_model(net, out, input=args.input or "adjoint", spec=args.model,
                                                     epochs=args.epochs or 10, **common)
        else:
            net, record = reconstruction.train(args.kind, out, epochs=args.epochs, features=args.features, **common)
    finally:
        lock.release()
    print(f"trained {name} ({record['epochs']} epochs, best {record['best_epoch'] + 1}, "
          f"{record['seconds']:.0f} s): validation PSNR {record['val_psnr']:.2f} dB "
          f"(zero-filled {record['val_psnr_zero_filled']:.2f} dB)")
    print(f"wrote {out}")
    return 0


def _float_list(text: str) -> list[float]:
    try:
        values = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated numbers, got {text!r}") from None
    if not values or any(not v > 0 or v == float("inf") for v in values):
        raise argparse.ArgumentTypeError(f"expected finite numbers > 0, got {text!r}")
    return values


def _attack(args: argparse.Namespace) -> int:
    import time

    import firenets
    from firenets import report
    from firenets.acquisition import acquire
    from firenets.nets.mri import REFERENCE_FIRENET, reconstruction_map
    from firenets.stability import battery

    penalised = args.lam is not None or args.records is not None
    fixed_only = [f"--{n.replace('_', '-')}" for n in ("norms", "steps", "random_starts")
                  if getattr(args, n) is not None]
    if penalised and fixed_only:
        print(f"firenets attack: {', '.join(fixed_only)} (fixed-norm ascent) and --lam/--records (penalised "
              "ascent) are two different modes; give one", file=sys.stderr)
        return 2
    if args.compare_firenet and args.method == "firenet":
        print("firenets attack: --compare-firenet compares another method with FIRENET; the method is FIRENET",
              file=sys.stderr)
        return 2
    out = Path(args.out)
    with _output(args, ("attack.json",)) as staging:
        start = time.perf_counter()
        image = firenets.data.load(args.image, slice=args.slice)
        acq = acquire(image.image, mask=args.mask, rate=args.rate, seed=args.seed)
        A, x = acq.operator, acq.target
        # FIRENET is attacked at the fixed depth of REFERENCE_FIRENET (as in demo and audit): the
        # stopping rules of the reconstruction defaults would make the depth depend on the input
        f = reconstruction_map(args.method, A, weights=args.weights,
                               **(REFERENCE_FIRENET if args.method == "firenet" else {}))
        compare = ({"FIRENET": battery.reference_makers()[battery.REFERENCE]}
                   if args.compare_firenet and args.method != "firenet" else None)
        bar = _bar(not args.no_progress, f"attacking {args.method}")
        if penalised:
            settings = {"lam": 0.01 if args.lam is None else args.lam, "records": args.records or [20, 40, 60],
                        "lr": args.lr, "momentum": args.momentum, "seed": args.seed}
            res = battery.attack(f, A, x, budget=None, penalised=settings, measurement=args.measurement or (),
                                 measurement_steps=args.measurement_steps,
                                 measurement_rule={"tol": args.tol, "patience": args.patience}, compare=compare,
                                 progress=bar)
        else:
            given = {"steps": args.steps, "restarts": args.random_starts, "lr": args.lr, "momentum": args.momentum}
            budget = battery.Budget(norms=tuple(args.norms or firenets.stability.RELATIVE_NORMS), tol=args.tol,
                                    patience=args.patience, seed=args.seed,
                                    **{k: v for k, v in given.items() if v is not None})  # else Budget's defaults
            res = battery.attack(f, A, x, budget=budget, measurement=args.measurement or (),
                                 measurement_steps=args.measurement_steps, compare=compare, progress=bar)
        if bar is not None:
            bar.close()
        meta = {"image": image.source, "method": args.method, "shape": list(x.shape), "mask": acq.mask_kind,
                "rate": acq.rate, "seed": args.seed,
                "weights": "shipped" if args.weights is None and args.method in ("unet", "cascade") else args.weights,
                "firenet_config": getattr(f, "config", None), "seconds": time.perf_counter() - start}
        record = report.attack_record(res, meta)
        report.attack_files(res, staging, method=args.method)
        report.write_json(staging / "attack.json", record)  # last: its presence means the run completed
    for line in report.attack_text(res, meta):
        print(line)
    print(f"wrote {out / 'attack.json'}, attack.png, hallucination.png")
    return 0


def _bar(enabled: bool, desc: str):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    state: dict = {}

    def update(done: int, total: int) -> None:
        bar = state.get("bar")
        if bar is None or bar.total != total:
            if bar is not None:
                bar.close()
            bar = state["bar"] = tqdm(total=total, desc=desc, unit="step", leave=False)
        bar.n = done
        bar.refresh()

    update.close = lambda: state.get("bar") and state["bar"].close()  # type: ignore[attr-defined]
    return update


def _demo(args: argparse.Namespace) -> int:
    import time

    from firenets.report import story
    from firenets.stability import battery

    out = Path(args.out)
    with _output(args, PAGE_MARKERS + ("table/run.json", "table/table.json")) as staging:
        start = time.perf_counter()
        result = battery.demo(progress=not args.no_progress, log=lambda t: print(t, file=sys.stderr))
        page = story.demo_page(result, staging, seconds=time.perf_counter() - start)
    print()
    for line in page["summary"]:
        print(line)
    print(f"\nwrote {out / 'index.html'} ({time.perf_counter() - start:.0f} s)")
    return 0


def _audit(args: argparse.Namespace) -> int:
    from firenets import _audit as audit

    return audit.run(args)


PAGE_MARKERS = ("index.html", "results.json")  # a page's completion markers


def _output(args: argparse.Namespace, markers: tuple[str, ...]):
    """The output protocol (``_io.run_directory``) for ``--out`` of this command."""
    from firenets._io import run_directory

    return run_directory(args.out, force=args.force, markers=markers,
                         warn=lambda text: print(f"firenets {args.command}: {text}", file=sys.stderr))


def _unwritable(out: Path) -> str | None:
    """Why results cannot be written to the directory ``out`` (None when they can): checked by
    creating it and a probe file before any long computation."""
    import tempfile

    if out.exists() and not out.is_dir():
        return "exists and is not a directory"
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=out, prefix=".probe-"):
            pass
    except OSError as exc:
        return f"not writable ({exc.strerror or exc})"
    return None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``firenets`` command."""
    from firenets import __version__

    parser = argparse.ArgumentParser(
        prog="firenets",
        description="Stable and accurate neural networks for inverse problems, and an audit of any "
        "reconstruction network.",
    )
    parser.add_argument("--version", action="version", version=f"firenets {__version__}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    info = sub.add_parser("info", help="versions and devices")
    info.set_defaults(run=_info)
    tab = sub.add_parser("table", help="the impossibility table: FIRENET vs trained LISTA on Omega_K")
    tab.add_argument("--quick", action="store_true", help="reduced LISTA training (same conclusions, ~1 min)")
    tab.add_argument("--dims", choices=["code", "caption"], default="code",
                     help="m = 21, N = 22 (the authors' script) or m = 19, N = 20 (the slide's caption)")
    tab.add_argument("--out", type=_out_path, default="firenets-table",
                     help="output directory (default: firenets-table)")
    tab.add_argument("--force", action="store_true", help=FORCE_HELP)
    tab.add_argument("--K", type=_int_list, default=[1, 3, 6], help="digits, comma-separated (default 1,3,6)")
    tab.add_argument("--n", type=_int_list, default=[10, 20, 30], help="input precisions 2^-n (default 10,20,30)")
    tab.add_argument("--epochs", type=int, default=None, help="LISTA epochs (default 4000, or 60 with --quick)")
    tab.add_argument("--seed", type=int, default=0)
    tab.add_argument("--checkpoint", default=None, help="LISTA training checkpoint file (resumed if present)")
    tab.add_argument("--no-progress", action="store_true", help="no progress bar")
    tab.set_defaults(run=_table)
    rec = sub.add_parser("reconstruct", help="reconstruct an image from simulated (or measured) k-space samples")
    rec.add_argument("image", help="a file (.npy .png .dcm .nii .nii.gz .h5) or shepp-logan, camera, ellipses:SEED")
    rec.add_argument("--method", choices=["firenet", "unet", "cascade", "zero-filled"], default="firenet")
    rec.add_argument("--mask", choices=MASK_KINDS, default=None,
                     help="sampling pattern (default gaussian; fastmri-random for multi-coil files)")
    rec.add_argument("--rate", type=_rate, default=None, help="fraction of k-space sampled (default 0.25)")
    rec.add_argument("--acceleration", type=_acceleration, default=None,
                     help="instead of --rate: 1 / the fraction sampled (fastMRI's convention, e.g. 4 or 8)")
    rec.add_argument("--center-fraction", type=_fraction, default=None,
                     help="fastMRI masks: the fully sampled centre's fraction of the columns (default 0.08 at 4x, "
                          "0.04 at 8x)")
    rec.add_argument("--mask-file", default=None, help="a boolean (H, W) .npy file: your own mask")
    rec.add_argument("--maps", choices=["espirit", "lowres"], default="espirit",
                     help="multi-coil: coil sensitivities by ESPIRiT or the low-resolution estimate, from the "
                          "mask's fully sampled centre")
    rec.add_argument("--seed", type=int, default=0, help="seed of the mask and the noise")
    rec.add_argument("--noise", type=_nonnegative_float, default=0.0,
                     help="standard deviation of complex Gaussian noise per k-space sample (image max = 1)")
    rec.add_argument("--slice", type=_slice, default=None,
                     help="slice of a 3-D file (default the middle one), or 'all' for every slice of an HDF5 "
                          "volume with fastMRI's volume metrics")
    rec.add_argument("--weights", default=None, help="unet/cascade checkpoint (default: the shipped weights)")
    rec.add_argument("--regulariser", choices=["wavelet", "undecimated", "tv", "undecimated+tv"], default=None,
                     help="FIRENET regulariser: orthonormal wavelets (synthesis, the paper's), undecimated wavelets, "
                          "total variation, or both (analysis); default: reconstruction.FIRENET_DEFAULTS")
    rec.add_argument("--lam", type=_positive_float, default=None,
                     help="FIRENET lam (default: the calibrated one of the regulariser, docs/imaging.md)")
    rec.add_argument("--tv-weight", type=_positive_float, default=None,
                     help="weight of total variation beside the wavelets in undecimated+tv")
    rec.add_argument("--restarts", type=int, default=None, help="FIRENET restarts (the maximum with --tol)")
    rec.add_argument("--inner", type=int, default=None, help="FIRENET steps per restart")
    rec.add_argument("--tol", type=_nonnegative_float, default=None,
                     help="stop FIRENET at this certified relative duality gap (0: never; default "
                          "reconstruction.FIRENET_DEFAULTS)")
    rec.add_argument("--xtol", type=_nonnegative_float, default=None,
                     help="stop FIRENET once its output moves by less than this (relative) over a restart "
                          "(0: never)")
    rec.add_argument("--wavelet", default=None, help="FIRENET wavelet (default haar)")
    rec.add_argument("--schedule", choices=["paper", "adaptive"], default=None, help="FIRENET restart schedule")
    rec.add_argument("--dtype", choices=["complex128", "complex64"], default=None,
                     help="FIRENET precision (complex64 is faster; the certificate stays float64)")
    rec.add_argument("--out", type=_out_path, default="firenets-reconstruction", help="output directory")
    rec.add_argument("--force", action="store_true", help=FORCE_HELP)
    rec.set_defaults(run=_reconstruct)
    tr = sub.add_parser("train", help="train a U-Net, a deep cascade or your own network on ellipse phantoms")
    tr.add_argument("kind", nargs="?", choices=["unet", "cascade"], default=None,
                    help="a built-in network (or give --model)")
    tr.add_argument("--model", default=None,
                    help="instead of a kind: PKG.MODULE:FACTORY returning your torch.nn.Module, trained as "
                         "firenets audit calls it (--input); the weights file then works with audit --weights")
    tr.add_argument("--input", choices=INPUT_NAMES, default=None,
                    help="with --model: what the network is called with (as in firenets audit; default adjoint)")
    tr.add_argument("--size", type=int, default=128)
    tr.add_argument("--mask", choices=["gaussian", "cartesian", "radial", "das"], default="gaussian")
    tr.add_argument("--rate", type=_rate, default=0.25)
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--epochs", type=int, default=None, help="default: 14 (unet), 2 (cascade), 10 (--model)")
    tr.add_argument("--n-train", type=int, default=1500, help="training phantoms (default 1500)")
    tr.add_argument("--n-val", type=int, default=100, help="validation phantoms (default 100)")
    tr.add_argument("--batch", type=int, default=16)
    tr.add_argument("--lr", type=_positive_float, default=1e-3)
    tr.add_argument("--features", type=int, default=None, help="default: 12 (unet), 16 (cascade)")
    tr.add_argument("--out", type=_out_path, default=None, help="weights file (default KIND-SIZE-MASK-RATE.pt)")
    tr.add_argument("--resume", action="store_true", help="continue from OUT.state")
    tr.add_argument("--force", action="store_true", help="overwrite an existing OUT")
    tr.add_argument("--no-progress", action="store_true")
    tr.set_defaults(run=_train, record_argv=True, command_text="")
    att = sub.add_parser("attack", help="worst-case perturbations, noise control and hallucination maps")
    att.add_argument("image", help="a file or a built-in image (shepp-logan, camera, ellipses:SEED)")
    att.add_argument("--method", choices=["firenet", "unet", "cascade", "zero-filled"], required=True)
    att.add_argument("--mask", choices=["gaussian", "cartesian", "radial", "das"], default="gaussian",
                     help="default gaussian: the shipped weights' mask")
    att.add_argument("--rate", type=_rate, default=0.25, help="default 0.25: the shipped weights' rate")
    att.add_argument("--seed", type=int, default=0)
    att.add_argument("--slice", type=int, default=None)
    att.add_argument("--weights", default=None, help="unet/cascade checkpoint (default: shipped)")
    att.add_argument("--norms", type=_float_list, default=None,
                     help="relative norms ||r||/||x|| of the perturbations (fixed-norm ascent; default "
                          "0.01,0.02,0.04: firenets.stability.RELATIVE_NORMS)")
    att.add_argument("--steps", type=_positive_int, default=None,
                     help="fixed-norm ascent: the step cap per start (default 100; a start that reaches it is "
                          "reported as not converged)")
    att.add_argument("--tol", type=_nonnegative_float, default=1e-3,
                     help="a start ends when its best ratio (or error, in the measurement attack) rises by less "
                          "than a factor 1 + TOL over --patience steps (default 1e-3)")
    att.add_argument("--patience", type=_positive_int, default=10, help="see --tol (default 10)")
    att.add_argument("--random-starts", type=_nonnegative_int, default=None,
                     help="fixed-norm ascent: random directions per norm, each tried with both signs, besides the "
                          "previous norm's best (default 1)")
    att.add_argument("--lam", type=_nonnegative_float, default=None,
                     help="instead, penalised ascent on Q(r) with this penalty of ||r||^2 (0.01 if only --records "
                          "is given); r then grows while the map's local ratio exceeds sqrt(lam)")
    att.add_argument("--records", type=_int_list, default=None,
                     help="penalised ascent: iterations after which perturbations 1, 2, ... are recorded "
                          "(20,40,60 if only --lam is given)")
    att.add_argument("--lr", type=_positive_float, default=None,
                     help="step: a fraction of ||r|| (fixed-norm, default 0.5) or the gradient step (penalised, "
                          "default 0.01)")
    att.add_argument("--momentum", type=_momentum, default=None, help="default 0.5 (fixed-norm), 0.9 (penalised)")
    att.add_argument("--measurement", type=_float_list, default=None,
                     help="also the measurement-domain attack for these budgets ||e||/||y|| (e.g. 0.02,0.04,0.08)")
    att.add_argument("--measurement-steps", type=_positive_int, default=100,
                     help="measurement-domain attack: the step cap per start (default 100)")
    att.add_argument("--compare-firenet", action="store_true",
                     help="also attack FIRENET (reference depth) at the same norms with the same budget")
    att.add_argument("--no-progress", action="store_true")
    att.add_argument("--out", type=_out_path, default="firenets-attack", help="output directory")
    att.add_argument("--force", action="store_true", help=FORCE_HELP)
    att.set_defaults(run=_attack)
    demo = sub.add_parser("demo", help="the whole story on one page: table, reconstructions, attacks, maps")
    demo.add_argument("--out", type=_out_path, default="firenets-demo", help="output directory (default firenets-demo)")
    demo.add_argument("--force", action="store_true", help=FORCE_HELP)
    demo.add_argument("--no-progress", action="store_true")
    demo.set_defaults(run=_demo)
    aud = sub.add_parser("audit", help="the stability battery on your own torch network, FIRENET beside it")
    aud.add_argument("images", nargs="*",
                     help="image files, folders (every image in them, each audited on its own), HDF5 volumes or "
                          "built-ins (default: ellipses:20000 shepp-logan)")
    aud.add_argument("--model", required=True, help="PKG.MODULE:FACTORY returning a torch.nn.Module")
    aud.add_argument("--weights", default=None, help="a state_dict file (read with weights_only=True)")
    aud.add_argument("--input", choices=INPUT_NAMES, default="adjoint",
                     help="what the model is called with: adjoint = net(A^* y), complex (B, H, W); magnitude = "
                          "net(|A^* y|), real (B, 1, H, W); kspace = net(k, mask[, maps]) with k the zero-filled "
                          "k-space, complex (B, H, W) or (B, coils, H, W); fastmri = net(masked_kspace, mask, "
                          "num_low_frequencies) in fastMRI's layout (fastmri.models.VarNet)")
    aud.add_argument("--output", choices=["auto", "magnitude", "complex"], default="auto",
                     help="what the model returns: a magnitude (real) image, a complex one, or either (auto)")
    aud.add_argument("--device", default=None,
                     help="where the model runs: cpu, cuda or cuda:N (default cuda when available); the attacks' "
                          "arithmetic around it stays float64")
    aud.add_argument("--dtype", choices=["float32", "float64"], default=None,
                     help="the model's precision (default: its parameters'); complex inputs in the matching "
                          "complex type")
    aud.add_argument("--mask", choices=MASK_KINDS, default=None, help="sampling pattern (default gaussian)")
    aud.add_argument("--mask-file", default=None, help="a boolean (H, W) .npy file: your own mask")
    aud.add_argument("--rate", type=_rate, default=None, help="fraction of k-space sampled (default 0.25)")
    aud.add_argument("--acceleration", type=_acceleration, default=None, help="instead of --rate: 1 / the fraction")
    aud.add_argument("--noise", type=_nonnegative_float, default=0.0,
                     help="standard deviation of complex Gaussian noise per k-space sample in the accuracy and "
                          "generalisation stages (image max = 1; the attacks perturb noiseless samples)")
    aud.add_argument("--seed", type=_seed, default=0, help="seed of the mask and of the attacks' random starts")
    aud.add_argument("--size", type=_positive_int, default=None,
                     help="side of the built-in images (default 256; the shipped networks were trained at 128)")
    aud.add_argument("--stages", type=_stages, default=None,
                     help="comma-separated subset of the battery (default all): " + ", ".join(STAGE_NAMES))
    aud.add_argument("--norms", type=_float_list, default=None,
                     help="relative sizes ||r||/||x|| of the worst-case search (default 0.01,0.02,0.04)")
    aud.add_argument("--steps", type=_positive_int, default=None, help="the attacks' step cap per start (default 100)")
    aud.add_argument("--random-starts", type=_nonnegative_int, default=None,
                     help="random directions per size besides the previous size's best (default 1)")
    aud.add_argument("--slices", default=None,
                     help="HDF5 volumes: audit these slices, each on its own ('all', 'A:B' or 'i,j,k')")
    aud.add_argument("--per-image", action="store_true",
                     help="audit every image on its own with a row per image in results.jsonl (the default for a "
                          "folder, --slices and torchrun)")
    aud.add_argument("--resume", action="store_true",
                     help="continue a dataset run in --out: images whose rows are in its results.jsonl are skipped "
                          "(the options must be the same)")
    aud.add_argument("--out", type=_out_path, default="firenets-audit", help="output directory")
    aud.add_argument("--force", action="store_true", help=FORCE_HELP)
    aud.set_defaults(run=_audit, center_fraction=None)  # fastMRI masks: the default centre of the acceleration
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``firenets`` console script: exit 0 on success, 2 for a usage error (a bad
    option, input or output place), 1 for a failure (an OS error, a run in the way), 130 on Ctrl-C;
    a one-line message on stderr, the traceback only with ``--debug``."""
    from firenets._io import OutputError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        if args.debug:
            raise
        print(f"firenets {args.command}: interrupted; nothing of this run claims to be complete", file=sys.stderr)
        return 130
    except OutputError as exc:
        if args.debug:
            raise
        print(f"firenets {args.command}: {exc}", file=sys.stderr)
        return 2 if exc.usage else 1
    except (ValueError, FileNotFoundError, IsADirectoryError, NotADirectoryError, ArithmeticError) as exc:
        if args.debug:  # bad input: a message
            raise
        print(f"firenets {args.command}: {exc}", file=sys.stderr)
        return 2
    except (OSError, MemoryError) as exc:  # the disk is full, read-only, a permission, memory: a failure
        if args.debug:
            raise
        what = f"{exc.strerror or exc}" + (f": {exc.filename}" if getattr(exc, "filename", None) else "") \
            if isinstance(exc, OSError) else f"out of memory ({exc})"
        print(f"firenets {args.command}: {what}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
