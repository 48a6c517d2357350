"""The ``firenets audit`` run: the user's model set up on its device and dtype, the images (files,
built-ins, every slice of a volume, every image of a folder), one page for a few images or, for a
dataset, one audit per image with its row appended to ``results.jsonl`` as it finishes (``--resume``
skips those), shared over the ranks of a ``torchrun`` launch, merged and rendered by rank 0."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .cli import _output, _sampling, check_mask_shape

ROWS = "results.jsonl"
DATASET_MARKERS = ("index.html", "results.json")


@dataclass(frozen=True)
class Item:
    """One image of a dataset: its name on the page, what to load, and the slice of a volume."""

    name: str
    source: str
    slice: int | None = None


def _say(ranks, text: str) -> None:
    prefix = f"[rank {ranks.rank}] " if ranks.world > 1 else ""
    print(prefix + text, file=sys.stderr, flush=True)


def device_of(text: str | None):
    """The torch device of --device (default: cuda when available)."""
    import torch

    name = text or ("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("--device cuda: CUDA is not available on this machine (torch "
                         f"{torch.__version__}, built {'with' if torch.version.cuda else 'without'} CUDA)")
    return torch.device(name)


def parse_slices(text: str | None, n: int, path: str) -> list[int]:
    """--slices: "all", "A:B" (B excluded), or comma-separated indices, checked against the volume's n."""
    if text is None or text == "all":
        return list(range(n))
    try:
        if ":" in text:
            a, b = text.split(":")
            picked = list(range(int(a or 0), int(b) if b else n))
        else:
            picked = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ValueError(f"--slices must be 'all', 'A:B' or comma-separated indices; got {text!r}") from None
    bad = [i for i in picked if not 0 <= i < n]
    if not picked or bad:
        raise ValueError(f"--slices {text}: {path} has {n} slices (0 to {n - 1}); "
                         + (f"out of range: {bad}" if bad else "it selects none"))
    return picked


def dataset_items(sources: list[str], slices: str | None) -> list[Item]:
    """Every image of the given files, folders (their files with a known suffix, sorted) and volumes."""
    from . import data

    items: list[Item] = []
    for spec in sources:
        path = Path(spec)
        if path.is_dir():
            files = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".")
                           and any(p.name.lower().endswith(s) for s in data.FORMATS))
            if not files:
                raise ValueError(f"{spec} is a folder with no readable images (suffixes {', '.join(data.FORMATS)})")
            for f in files:
                items += _file_items(f, slices)
        elif path.exists():
            items += _file_items(path, slices)
        else:
            items.append(Item(spec, spec))
    names = [it.name for it in items]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"images given twice: {', '.join(twice)}")
    return items


def _file_items(path: Path, slices: str | None) -> list[Item]:
    from . import data

    if path.suffix.lower() in (".h5", ".hdf5"):
        n = data.count_slices(path)
        return [Item(f"{path.name}[{i}]", str(path), i) for i in parse_slices(slices, n, str(path))]
    if slices is not None:
        raise ValueError(f"--slices applies to HDF5 volumes; {path} is not one")
    return [Item(path.name, str(path))]


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run(args: argparse.Namespace) -> int:
    """The audit command: parse-level checks done, everything else here."""
    import torch

    from . import _distributed
    from .stability import battery

    device = device_of(args.device)
    ranks = _distributed.start(str(device))
    if ranks.world > 1:
        _stop_quietly_on_sigterm(ranks, args.out)
    try:
        if ranks.world > 1 and device.type == "cuda":
            device = torch.device("cuda", ranks.local_rank)
        sources = args.images or ["ellipses:20000", "shepp-logan"]
        dataset = args.per_image or args.slices is not None or any(Path(s).is_dir() for s in sources) \
            or ranks.world > 1
        if args.resume and not dataset:
            raise ValueError("--resume continues a dataset run (a folder, --slices or --per-image)")
        if args.size is not None and any(Path(s).exists() for s in sources):
            raise ValueError(f"--size applies to the built-in images; {next(s for s in sources if Path(s).exists())} "
                             "is a file")
        stages = tuple(args.stages or battery.STAGES)
        sampling = _sampling(args, False)
        try:  # before any image or model is loaded
            battery.check_sampling(stages, sampling["mask"])
        except ValueError as exc:
            option = "--mask-file" if args.mask_file is not None else f"--mask {sampling['mask']}"
            raise ValueError(f"{option} with --stages {','.join(stages)}: {exc}") from None
        for option, path in (("--weights", args.weights), ("--mask-file", args.mask_file)):
            if path is not None and not Path(path).is_file():
                raise ValueError(f"{option} {path}: no such file")
        budget = battery.Budget(**_budget(args))
        sys.path.insert(0, str(Path.cwd()))

        def setup():  # the model, once the output place is known to be usable
            from .nets.user import load_model, parameter_dtype

            net = load_model(args.model, args.weights)
            dtype = {"float32": torch.float32, "float64": torch.float64}[args.dtype] if args.dtype \
                else parameter_dtype(net)
            net = net.to(device=device, dtype=dtype) if args.dtype else net.to(device=device)
            return _makers(args, net, device, dtype), dtype

        settings = {"model": args.model, "weights": args.weights and _sha256(args.weights), "input": args.input,
                    "output": args.output, "dtype": args.dtype or "the model's",
                    "mask": "custom" if isinstance(sampling["mask"], torch.Tensor) else sampling["mask"],
                    "mask_file": args.mask_file and _sha256(args.mask_file), "rate": sampling["rate"],
                    "center_fraction": sampling["center_fraction"], "seed": args.seed, "noise": args.noise,
                    "stages": [s for s in battery.STAGES if s in stages], "budget": budget.summary(),
                    "size": args.size}
        if not dataset:
            return _single(args, sources, setup, sampling, stages, budget, device)
        items = dataset_items(sources, args.slices)
        settings["images"] = [it.name for it in items]
        settings = json.loads(json.dumps(settings))  # as results.jsonl holds them (tuples become lists)
        return _dataset(args, items, setup, sampling, stages, budget, settings, ranks, device)
    except Exception as exc:
        if ranks.world > 1:
            _say(ranks, f"firenets audit failed on this rank: {type(exc).__name__}: {exc}; torchrun stops the others")
        raise
    finally:
        _distributed.stop(ranks)


def _stop_quietly_on_sigterm(ranks, out: str) -> None:
    """Under torchrun a rank that fails makes the launcher terminate the others: say so and leave (the
    rows already written stay for --resume; nothing of the run claims to be complete)."""
    import signal

    def stopped(signum, frame):
        _say(ranks, f"firenets audit: stopped by torchrun (another rank failed, or the job was cancelled); the rows "
                    f"written so far stay in {out} for --resume")
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stopped)


def _budget(args: argparse.Namespace) -> dict:
    out = {"seed": args.seed}
    for key, name in (("norms", "norms"), ("steps", "steps"), ("restarts", "random_starts")):
        value = getattr(args, name)
        if value is not None:
            out[key] = tuple(value) if key == "norms" else value
    return out


def _makers(args, net, device, dtype) -> dict:
    from .nets.user import UserMap

    return {args.model: lambda F: UserMap(net, F, args.input, output=args.output, device=device, dtype=dtype)}


def _probe(args, makers, image, sampling) -> None:
    """Call the model once on the first image's samples: a model that does not take what --input gives
    it is named before any stage runs."""
    import torch

    from .acquisition import acquire
    from .nets.user import INPUT_HELP

    probe = acquire(image, seed=args.seed, noise=args.noise, **sampling)
    try:
        with torch.no_grad():
            makers[args.model](probe.operator)(probe.y)
    except Exception as exc:
        hint = ""
        if args.input == "fastmri" and "NaN" in str(exc):
            hint = ("; fastMRI's VarNet divides each channel of its low-frequency image by its standard deviation, "
                    "and the imaginary part of a real image whose centre is sampled symmetrically is 0 (the "
                    "attacks' noiseless samples keep it 0): audit complex images, or a 2-D mask such as gaussian")
        raise ValueError(f"--model {args.model} fails on {INPUT_HELP[args.input]} (--input {args.input}): "
                         f"{type(exc).__name__}: {exc}{hint}") from None


def _load(source: str, slice: int | None, size: int | None):
    from . import data

    return data.load(source, slice=slice, shape=size if not Path(source).exists() else None)


def _single(args, sources, setup, sampling, stages, budget, device) -> int:
    """A few images on one page: accuracy over all of them, the single-image stages on the first."""
    from .report import story
    from .stability import battery

    out = Path(args.out)
    with _output(args, DATASET_MARKERS) as staging:
        start = time.perf_counter()
        makers, dtype = setup()
        images = {}
        for spec in sources:
            loaded = _load(spec, None, args.size)
            if loaded.source in images:
                raise ValueError(f"image {spec!r} is given twice")
            images[loaded.source] = loaded.image
        first = next(iter(images.values()))
        check_mask_shape(sampling, first.shape, "the image", args.mask_file)
        _probe(args, makers, first, sampling)
        result = battery.audit(makers, images, seed=args.seed, noise=args.noise, stages=stages, budget=budget,
                               log=lambda t: print(t, file=sys.stderr), **_battery_sampling(sampling))
        result.settings.update(device=str(device), dtype=str(dtype).replace("torch.", ""), input=args.input)
        page = story.audit_page(result, staging, name=args.model, seconds=time.perf_counter() - start)
    for line in page["summary"]:
        print(line)
    print(f"wrote {out / 'index.html'}")
    return 0 if not page["record"]["failures"] else 1


def _battery_sampling(sampling: dict) -> dict:
    return {"mask": sampling["mask"], "rate": sampling["rate"]}


# --- datasets -----------------------------------------------------------------------------------

def _prepare(out: Path, settings: dict, *, force: bool, resume: bool) -> tuple[Any, set[str]]:
    """Rank 0, before any work: the lock on --out, the directory checked (a run's rows need --resume
    with the same settings, other files --force), the previous page's markers removed. Returns the
    lock and the names of the images whose rows are already there."""
    from ._io import Lock, OutputError, append_row, read_rows

    if out.exists() and not out.is_dir():
        raise OutputError(f"--out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    lock = Lock(out.absolute().parent / f".{out.absolute().name}.firenets-lock", what=f"--out {out}")
    try:
        rows_path = out / ROWS
        rank_files = sorted(out.glob("results.rank-*.jsonl"))
        done: set[str] = set()
        if resume:
            if not rows_path.exists():
                raise OutputError(f"--resume: {out} holds no {ROWS} of an earlier run")
            rows, _ = read_rows(rows_path)
            header = rows[0] if rows and "settings" in rows[0] else None
            if header is None:
                raise OutputError(f"--resume: {rows_path} does not start with a run's settings")
            if header["settings"] != settings:
                diff = sorted(k for k in set(settings) | set(header["settings"])
                              if settings.get(k) != header["settings"].get(k))
                raise OutputError(f"--resume: this run's options differ from those of the run in {out} in: "
                                  f"{', '.join(diff)}; give the same options, or --force to start again")
            rows, torn = _collect_rows(out)  # with the rows of the ranks of an interrupted torchrun
            if torn:
                print(f"firenets audit: --resume: {torn} incomplete line(s) of {out / ROWS} dropped (their images "
                      "run again)", file=sys.stderr)
            done = {r["image"] for r in rows[1:] if "image" in r}
        else:
            if any(out.iterdir()):
                if not force:
                    raise OutputError(f"--out {out} exists and holds other files; use --force to start again "
                                      f"or --resume to continue the run whose {ROWS} it holds")
                for f in [rows_path, *rank_files]:
                    if f.exists():
                        f.unlink()
            append_row(rows_path, {"firenets": "audit", "settings": settings})
        for name in DATASET_MARKERS:  # nothing claims completion until this run's page is written
            if (out / name).is_file() or (out / name).is_symlink():
                (out / name).unlink()
        return lock, done
    except BaseException:
        lock.release()
        raise


def _collect_rows(out: Path) -> tuple[list[dict], int]:
    """The rows of ``results.jsonl`` (its settings line first) and of every rank's ``results.rank-R.jsonl``,
    and the number of torn lines dropped; the rank files are folded into ``results.jsonl`` (the images'
    order) and removed."""
    from ._io import read_rows, write_rows

    rows, torn = read_rows(out / ROWS)
    rank_files = sorted(out.glob("results.rank-*.jsonl"))
    for f in rank_files:
        more, t = read_rows(f)
        rows += more
        torn += t
    if rows and "settings" in rows[0]:
        rows = [rows[0], *sorted(rows[1:], key=lambda r: r.get("index", -1))]
    # the complete rows only, rewritten at once: a line torn by a crash must not swallow the next row
    write_rows(out / ROWS, rows)
    for f in rank_files:
        f.unlink()
    return rows, torn


def _dataset(args, items, setup, sampling, stages, budget, settings, ranks, device) -> int:
    from . import _distributed
    from ._io import OutputError, append_row
    from .report import story
    from .stability import battery

    out = Path(args.out)
    start = time.perf_counter()
    lock, error, done = None, None, set()
    if ranks.main:
        try:
            lock, done = _prepare(out, settings, force=args.force, resume=args.resume)
        except (OutputError, ValueError) as exc:
            error = str(exc)
    error, done = _distributed.broadcast((error, sorted(done)), ranks)
    if error is not None:
        raise OutputError(error)
    try:
        makers, dtype = setup()
        todo = [(i, it) for i, it in enumerate(items) if it.name not in set(done)]
        mine = ranks.share(todo)
        if done and ranks.main:
            _say(ranks, f"--resume: {len(done)} of {len(items)} images done; {len(todo)} to go")
        rows_path = out / (ROWS if ranks.world == 1 else f"results.rank-{ranks.rank}.jsonl")
        per_image = tuple(s for s in stages if s != "positive-control")
        probed = False
        for k, (i, it) in enumerate(mine, start=1):
            _say(ranks, f"image {k}/{len(mine)}: {it.name}")
            t0 = time.perf_counter()
            row: dict[str, Any] = {"index": i, "image": it.name, "source": it.source, "slice": it.slice}
            try:
                image = _load(it.source, it.slice, args.size).image
                check_mask_shape(sampling, image.shape, it.name, args.mask_file)
            except (ValueError, OSError) as exc:
                row.update(maps={}, completed=[], failures={"load": f"{type(exc).__name__}: {exc}"}, seconds={})
            else:
                if not probed:
                    _probe(args, makers, image, sampling)
                    probed = True
                if per_image:
                    result = battery.audit(makers, {it.name: image}, seed=args.seed, noise=args.noise,
                                           stages=per_image, budget=budget, **_battery_sampling(sampling),
                                           log=lambda t: _say(ranks, "  " + t))
                    result.settings.update(device=str(device), input=args.input,
                                           dtype=str(dtype).replace("torch.", ""))
                    row.update(battery.image_row(result))
                    row["page"] = _image_page(result, out, i, it.name, args.model, time.perf_counter() - t0)
                else:
                    row.update(maps={}, completed=[], failures={}, seconds={})
            row["wall_seconds"] = time.perf_counter() - t0
            row["rank"] = ranks.rank
            append_row(rows_path, row)  # the image's page is in place before its row claims it is done
        _distributed.gather(len(mine), ranks)  # every rank's rows are written
        if not ranks.main:
            return 0
        rows, torn = _collect_rows(out)
        rows = rows[1:]  # after the settings line
        if torn:
            _say(ranks, f"{torn} incomplete line(s) of the rows dropped (their images are missing from the page)")
        control = None
        if "positive-control" in stages:
            from .stability.control import control_stage

            _say(ranks, "the positive control (once for the dataset) ...")
            try:
                control = control_stage(budget=budget, log=lambda t: _say(ranks, "  " + t))
            except Exception as exc:  # recorded on the page
                control = f"{type(exc).__name__}: {exc}"
        page = story.dataset_page(rows, out, name=args.model, control=control,
                                  settings={**settings, "dtype": str(dtype).replace("torch.", "")},
                                  seconds=time.perf_counter() - start, ranks=ranks.world)
        for line in page["summary"]:
            print(line)
        print(f"wrote {out / 'index.html'}, {out / ROWS} ({len(rows)} images)")
        failed = [r["image"] for r in rows if r.get("failures")]
        return 0 if not failed and not isinstance(control, str) else 1
    except KeyboardInterrupt:
        _say(ranks, f"interrupted: the rows of the images done are in {out}; the same command with --resume "
                    "continues")
        raise
    finally:
        if lock is not None:
            lock.release()


def _image_page(result, out: Path, index: int, name: str, model: str, seconds: float) -> str:
    """The image's own audit page in out/images/INDEX-SLUG (written aside, then renamed into place)."""
    from .report import story

    slug = f"{index:05d}-{story._slug(name)}"
    images = out / "images"
    images.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=images, prefix=f".{slug}.partial-"))
    try:
        story.audit_page(result, tmp, name=model, seconds=seconds)
        dest = images / slug
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        elif dest.exists():
            shutil.rmtree(dest)
        os.rename(tmp, dest)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return f"images/{slug}/index.html"
