"""An audit of a dataset: every image of the given files, folders and volumes audited on its own, its page
written and its row appended to ``results.jsonl`` as it finishes (a resumed run skips those), shared over
the ranks of a ``torchrun`` launch; rank 0 merges the rows and runs the positive control once."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import _distributed, data
from .._io import OutputError, append_row, read_rows, replace_directory, run_directory, write_rows
from .._progress import Console, Progress, indented, say
from .._validation import ArgumentError
from ..report import pages
from ..report.sections import slug
from .audit import Setup, load_image, run_setup
from .control import ControlResult, control_stage
from .maps import REFERENCE, ZERO_FILLED
from .scorecard import Scorecard, dataset_scorecard
from .verdicts import MapOverImages, over_images

__all__ = ["DATASET_MARKERS", "ROWS", "DatasetResult", "Item", "audit_dataset", "dataset_items", "parse_slices"]

ROWS = "results.jsonl"
DATASET_MARKERS = ("index.html", "results.json")


@dataclass(frozen=True)
class Item:
    """One image of a dataset: its name on the page, what to load, and the slice of a volume."""

    name: str
    source: str
    slice: int | None = None


def parse_slices(text: str | None, n: int, path: str) -> list[int]:
    """``slices``: "all", "A:B" (B excluded), or comma-separated indices, checked against the volume's n."""
    if text is None or text == "all":
        return list(range(n))
    try:
        if ":" in text:
            a, b = text.split(":")
            picked = list(range(int(a or 0), int(b) if b else n))
        else:
            picked = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ArgumentError("slices", f"must be 'all', 'A:B' or comma-separated indices; got {text!r}") from None
    bad = [i for i in picked if not 0 <= i < n]
    if not picked or bad:
        raise ArgumentError("slices", f"{text}: {path} has {n} slices (0 to {n - 1}); "
                            + (f"out of range: {bad}" if bad else "it selects none"))
    return picked


def dataset_items(sources: Sequence[str], slices: str | None = None) -> list[Item]:
    """Every image of the given files, folders (their files with a known suffix, sorted), volumes (their
    ``slices``) and built-in names."""
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
            items.append(Item(str(spec), str(spec)))
    names = [it.name for it in items]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ValueError(f"images given twice: {', '.join(twice)}")
    return items


def _file_items(path: Path, slices: str | None) -> list[Item]:
    if path.suffix.lower() in (".h5", ".hdf5"):
        n = data.count_slices(path)
        return [Item(f"{path.name}[{i}]", str(path), i) for i in parse_slices(slices, n, str(path))]
    if slices is not None:
        raise ArgumentError("slices", f"applies to HDF5 volumes; {path} is not one")
    return [Item(path.name, str(path))]


@dataclass(frozen=True, eq=False)
class DatasetResult:
    """The rows of a dataset audit (one per image, in image order), the settings, the positive control
    (a ``ControlResult``, the error of its stage, or None when not asked for), seconds and processes;
    ``maps`` holds each map's judgement over the images (``experiments.verdicts.over_images``)."""

    subject: str
    settings: dict[str, Any]
    rows: list[dict[str, Any]]
    control: ControlResult | str | None
    seconds: float
    ranks: int = 1

    @property
    def labels(self) -> list[str]:
        """The maps of the rows: the subject, the reference FIRENET, zero-filling, then any other."""
        labels = list(dict.fromkeys(m for r in self.rows for m in r.get("maps", {})))
        first = [m for m in (self.subject, REFERENCE, ZERO_FILLED) if m in labels]
        return first + [m for m in labels if m not in first]

    @property
    def maps(self) -> dict[str, MapOverImages]:
        return {m: over_images(self.rows, m) for m in self.labels}

    @property
    def failed(self) -> list[str]:
        """The images with a failed stage or an unreadable file."""
        return [r["image"] for r in self.rows if r.get("failures")]

    @property
    def complete(self) -> bool:
        """No image failed and the positive control, when asked for, ran."""
        return not self.failed and not isinstance(self.control, str)

    def scorecard(self) -> Scorecard:
        """Per map, the median and the worst image of every measure the rows hold (``experiments.scorecard``)."""
        return dataset_scorecard(self)

    def write(self, out: str | Path) -> pages.Page:
        """Write the dataset page into ``out``, its scorecard first (``index.html`` last)."""
        return pages.dataset_page(self, out, card=self.scorecard)


def _prepare_rows(out: Path, settings: dict, *, force: bool, resume: bool, warn: Progress | None) -> set[str]:
    """In the locked ``out``: a run's rows need ``resume`` with the same settings (the images already done
    are returned), or ``force``, which starts the rows again; a fresh run writes the settings line."""
    rows_path = out / ROWS
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
        rows, torn = collect_rows(out)  # with the rows of the ranks of an interrupted torchrun
        if torn:
            say(warn, f"--resume: {torn} incomplete line(s) of {out / ROWS} dropped (their images run again)")
        return {r["image"] for r in rows[1:] if "image" in r}
    for f in [rows_path, *out.glob("results.rank-*.jsonl")]:
        if f.exists():
            f.unlink()
    append_row(rows_path, {"firenets": "audit", "settings": settings})
    return set()


def collect_rows(out: Path) -> tuple[list[dict], int]:
    """The rows of ``results.jsonl`` (its settings line first) and of every rank's ``results.rank-R.jsonl``,
    and the number of torn lines dropped; the rank files are folded into ``results.jsonl`` (the images'
    order) and removed."""
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


def _image_page(result: Any, out: Path, index: int, name: str, seconds: float) -> str:
    """The image's own audit page in out/images/INDEX-SLUG (written aside, then renamed into place)."""
    dest_name = f"{index:05d}-{slug(name)}"
    images = out / "images"
    images.mkdir(exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=images, prefix=f".{dest_name}.partial-"))
    try:
        result.write(tmp, seconds=seconds)
        replace_directory(tmp, images / dest_name)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return f"images/{dest_name}/index.html"


@contextlib.contextmanager
def _stop_quietly_on_sigterm(progress: Progress | None, out: Path) -> Iterator[None]:
    """Under torchrun a rank that fails makes the launcher terminate the others: say so and leave (the
    rows already written stay for a resumed run; nothing of the run claims to be complete)."""
    def stopped(signum, frame):
        say(progress, f"firenets audit: stopped by torchrun (another rank failed, or the job was cancelled); the "
                      f"rows written so far stay in {out} for --resume")
        os._exit(128 + signum)

    previous = signal.signal(signal.SIGTERM, stopped)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def audit_dataset(s: Setup | Callable[[], Setup], items: Sequence[Item], out: str | Path, *, settings: dict[str, Any],
                  size: int | None = None, phase: int | None = None, force: bool = False, resume: bool = False,
                  ranks: _distributed.Ranks | None = None, progress: Progress | None = None) -> DatasetResult | None:
    """Audit every item on its own (built-ins at ``size``, with the smooth phase of seed ``phase``) with the setup ``s`` (``experiments.audit.setup``, or a function that
    makes it once the output place is ready, so that a model is not loaded for a run that cannot write): its page in
    out/images/INDEX-NAME/, its row appended to out/results.jsonl (the first line holds ``settings``,
    which a ``resume``d run must repeat; images whose rows are there are skipped). Under torchrun
    (``ranks``) every world-th image is this rank's, rank 0 merges the rows, runs the positive control
    once and returns the result (the other ranks return None); the caller writes the page."""
    ranks = ranks or _distributed.Ranks()
    out = Path(out)
    progress = progress if progress is not None else Console(prefix=f"[rank {ranks.rank}] " if ranks.world > 1 else "")
    settings = json.loads(json.dumps({**settings, "images": [it.name for it in items]}))  # as the rows file holds it
    start = time.perf_counter()
    stack = contextlib.ExitStack()
    error, done = None, set()
    if ranks.main:
        try:
            stack.enter_context(run_directory(out, force=force or resume, markers=DATASET_MARKERS, in_place=True,
                                              warn=lambda t: say(progress, f"firenets audit: {t}"),
                                              hint=f", or --resume to continue the run whose {ROWS} it holds"))
            done = _prepare_rows(out, settings, force=force, resume=resume, warn=progress)
        except (OutputError, ValueError) as exc:
            stack.close()
            error = str(exc)
    error, done = _distributed.broadcast((error, sorted(done)), ranks)
    if error is not None:
        raise OutputError(error)
    with stack, (_stop_quietly_on_sigterm(progress, out) if ranks.world > 1 else contextlib.nullcontext()):
        try:
            s = s() if callable(s) else s
            return _audit_items(s, items, out, set(done), size=size, phase=phase, settings=settings, ranks=ranks,
                                progress=progress, start=start)
        except KeyboardInterrupt:
            say(progress, f"interrupted: the rows of the images done are in {out}; the same command with --resume "
                          "continues")
            raise


def _audit_items(s: Setup, items: Sequence[Item], out: Path, done: set[str], *, size: int | None,
                 phase: int | None, settings: dict,
                 ranks: _distributed.Ranks, progress: Progress | None, start: float) -> DatasetResult | None:
    todo = [(i, it) for i, it in enumerate(items) if it.name not in done]
    mine = ranks.share(todo)
    if done and ranks.main:
        say(progress, f"--resume: {len(done)} of {len(items)} images done; {len(todo)} to go")
    rows_path = out / (ROWS if ranks.world == 1 else f"results.rank-{ranks.rank}.jsonl")
    per_image = tuple(st for st in s.stages if st != "positive-control")
    checked = False
    for k, (i, it) in enumerate(mine, start=1):
        say(progress, f"image {k}/{len(mine)}: {it.name}")
        t0 = time.perf_counter()
        row: dict[str, Any] = {"index": i, "image": it.name, "source": it.source, "slice": it.slice}
        try:
            _, image = load_image(it.source, slice=it.slice, size=size, phase=phase)
        except (ValueError, OSError) as exc:
            row.update(maps={}, completed=[], failures={"load": f"{type(exc).__name__}: {exc}"}, seconds={})
        else:
            if per_image:
                try:
                    result = run_setup(s, {it.name: image}, stages=per_image, progress=indented(progress, "  "),
                                       check_model=not checked)
                except ArgumentError as exc:  # this image's acquisition cannot be made (a mask of another shape)
                    if exc.argument != "mask":
                        raise
                    row.update(maps={}, completed=[], failures={"load": f"{type(exc).__name__}: {exc}"}, seconds={})
                else:
                    checked = True
                    row.update(result.rows()[0])
                    row["page"] = _image_page(result, out, i, it.name, time.perf_counter() - t0)
            else:
                row.update(maps={}, completed=[], failures={}, seconds={})
        row["wall_seconds"] = time.perf_counter() - t0
        row["rank"] = ranks.rank
        append_row(rows_path, row)  # the image's page is in place before its row claims it is done
    _distributed.gather(len(mine), ranks)  # every rank's rows are written
    if not ranks.main:
        return None
    rows, torn = collect_rows(out)
    rows = rows[1:]  # after the settings line
    if torn:
        say(progress, f"{torn} incomplete line(s) of the rows dropped (their images are missing from the page)")
    control: ControlResult | str | None = None
    if "positive-control" in s.stages:
        say(progress, "the positive control (once for the dataset) ...")
        try:
            control = control_stage(budget=s.budget, progress=indented(progress, "  "))
        except Exception as exc:  # recorded on the page
            control = f"{type(exc).__name__}: {exc}"
    # the page states the precision the model ran in (the rows' settings say what was asked for)
    return DatasetResult(s.label, {**settings, "dtype": s.about["dtype"]}, rows, control, time.perf_counter() - start,
                         ranks.world)
