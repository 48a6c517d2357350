"""Atomic writes (a temporary file in the target directory, then a rename), and the output protocol
of the commands (``run_directory``: a staging directory renamed into place, a lock per output)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[str], None]) -> Path:
    """Call ``write(tmp_path)``, then rename the temporary file onto ``path``.

    A reader sees the old file or the complete new one, never a half-written one; the file gets
    the permissions an ordinary ``open`` would give it.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)

    return atomic_write(path, write)


class OutputError(ValueError):
    """An output place that cannot be used as asked: the message names the option as the user spelled it."""

    def __init__(self, message: str, *, usage: bool = True):
        super().__init__(message)
        self.usage = usage  # True: the user asked for something impossible (exit 2); False: try later (exit 1)


class Lock:
    """An exclusive lock on the file ``path`` (``fcntl.flock``, released by the kernel when the process
    dies, however it dies). The file holds the owner's pid and host; ``stale`` is the pid of an earlier
    owner that died without removing it (None when there was none)."""

    def __init__(self, path: str | Path, *, what: str):
        import fcntl
        import socket

        self.path = Path(path)
        self.stale: int | None = None
        host = socket.gethostname()
        for _ in range(10):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.pread(fd, 200, 0).decode(errors="replace").split()
                os.close(fd)
                pid = owner[0] if owner else "?"
                where = f" on {owner[1]}" if len(owner) > 1 and owner[1] != host else ""
                raise OutputError(f"{what}: another firenets run (pid {pid}{where}) is writing into it; wait for it "
                                  "to finish or choose another place", usage=False) from None
            try:  # the file may have been removed (and released) by its owner between open and lock
                same = os.stat(self.path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            # a run that finishes removes its lock file: one still holding a pid belonged to a run that died
            owner = os.pread(fd, 200, 0).decode(errors="replace").split()
            if owner and owner[0].isdigit():
                self.stale = int(owner[0])
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()} {host}\n".encode(), 0)
            self.fd = fd
            return
        raise OutputError(f"{what}: its lock file {self.path} keeps changing; is another run starting?", usage=False)

    def release(self) -> None:
        """Remove the lock file and release the lock."""
        if getattr(self, "fd", None) is None:
            return
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self.fd)
        self.fd = None


def _check_inside(out: Path, rel: Path, option: str) -> None:
    """Refuse to write through a symbolic link inside ``out``: a file there would land elsewhere."""
    p = out
    for part in rel.parts[:-1]:
        p = p / part
        if p.is_symlink():
            raise OutputError(f"{option} {out}: {p} is a symbolic link; firenets does not write through links "
                              "inside its output directory (remove it or choose another place)")
        if p.exists() and not p.is_dir():
            raise OutputError(f"{option} {out}: {p} is a file where this run writes a directory")


def _merge(staging: Path, out: Path, markers: tuple[str, ...], option: str) -> None:
    """Move every file of ``staging`` into ``out`` (replacing files, never following a link inside
    ``out``), the completion markers last."""
    files = sorted(p.relative_to(staging) for p in staging.rglob("*") if not p.is_dir())
    files.sort(key=lambda rel: str(rel) in markers)
    for rel in files:
        _check_inside(out, rel, option)
        dest = out / rel
        if dest.is_dir() and not dest.is_symlink():
            raise OutputError(f"{option} {out}: {dest} is a directory where this run writes a file")
    for rel in files:
        dest = out / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / rel, dest)  # replaces a link itself, not its target


@contextlib.contextmanager
def locked(out: str | Path, *, option: str = "--out", warn: Callable[[str], None] | None = None) -> Iterator[Lock]:
    """The lock of an output place: ``Lock`` on ``.NAME.firenets-lock`` beside ``out`` (a directory or a
    file), held while the run writes; a lock left by a run that died is taken over and reported through
    ``warn``. Every command that writes takes it."""
    out = Path(out)
    parent = out.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        lock = Lock(parent / f".{out.absolute().name}.firenets-lock", what=f"{option} {out}")
    except OSError as exc:
        raise OutputError(f"{option} {out}: cannot write next to it ({exc.strerror or exc})") from None
    try:
        if lock.stale is not None and warn is not None:
            warn(f"{option} {out}: an earlier run (pid {lock.stale}) into it was interrupted; its lock is taken over")
        yield lock
    finally:
        lock.release()


@contextlib.contextmanager
def run_directory(out: str | Path, *, force: bool, markers: tuple[str, ...], option: str = "--out",
                  warn: Callable[[str], None] | None = None, in_place: bool = False, hint: str = "") -> Iterator[Path]:
    """The output protocol of every command: under ``locked(out)``, yields a fresh staging directory next
    to ``out`` for the run's files; when the run completes they are moved into place, ``markers`` (the
    files whose presence says a run completed) last, and nothing of an interrupted or failed run is left
    behind.

    - ``out`` must not be empty; a file there is refused; a directory holding files needs ``force``,
      and with it the previous run's markers are removed before the run starts;
    - ``in_place``: a run that writes into ``out`` as it goes (a dataset's rows, kept for a resumed run)
      gets ``out`` itself, its markers removed first; nothing is staged, and the run writes its
      markers last itself; ``hint`` is added to the refusal of a non-empty ``out``.
    """
    import shutil

    if str(out) == "":
        raise OutputError(f"{option} must not be empty")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise OutputError(f"{option} {out} exists and is not a directory")
    parent = out.absolute().parent
    with locked(out, option=option, warn=warn):
        for old in parent.glob(f".{out.absolute().name}.partial-*"):  # left by runs that were killed
            shutil.rmtree(old, ignore_errors=True)
        if out.is_dir() and any(out.iterdir()):
            if not force:
                raise OutputError(f"{option} {out} exists and holds other files; use --force to write into it{hint}")
            for name in markers:
                marker = out / name
                if marker.is_symlink() or marker.is_file():
                    marker.unlink()
        if in_place:
            out.mkdir(parents=True, exist_ok=True)
            yield out
            return
        staging = None
        try:
            try:
                staging = Path(tempfile.mkdtemp(dir=parent, prefix=f".{out.absolute().name}.partial-"))
            except OSError as exc:
                raise OutputError(f"{option} {out}: cannot write next to it ({exc.strerror or exc})") from None
            yield staging
            if out.is_dir() and not any(out.iterdir()):
                out.rmdir()
            if not out.exists():
                os.rename(staging, out)
                staging = None
            else:
                _merge(staging, out, markers, option)
        finally:
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)


def replace_directory(staged: Path, dest: Path) -> None:
    """Move the complete directory ``staged`` onto ``dest`` (a previous one, or a file or link there,
    removed first): a directory that appears is complete."""
    import shutil

    if dest.is_symlink() or dest.is_file():
        dest.unlink()
    elif dest.exists():
        shutil.rmtree(dest)
    os.rename(staged, dest)


def load_tensors(path: str | Path) -> object:
    """``torch.load(path, weights_only=True, map_location="cpu")``: tensors and plain data only, never
    an unpickled object. A file that is not that raises ValueError with a short reason (torch's own
    message suggests loading it unsafely, which firenets never does)."""
    import torch

    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except Exception as exc:  # corrupt, truncated, foreign, or holding pickled objects
        text = str(exc)
        if "Weights only load failed" in text or "weights_only" in text:
            import re

            found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
            reason = ("it holds pickled Python objects" + (f" ({found.group(1)})" if found else "")
                      + ", which are never loaded: only tensors and plain data are")
        else:
            reason = f"{type(exc).__name__}: {text.splitlines()[0] if text else 'unreadable'}"
        raise ValueError(reason) from None


def _row_line(row: dict) -> str:
    import json

    return json.dumps(row, sort_keys=True) + "\n"


def append_row(path: str | Path, row: dict) -> None:
    """Append ``row`` as one JSON line to ``path`` and flush it to disk: a row read back is complete,
    a line torn by a crash is not JSON and ``read_rows`` drops it."""
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(_row_line(row))
        fh.flush()
        os.fsync(fh.fileno())


def write_rows(path: str | Path, rows: list[dict]) -> Path:
    """Replace ``path`` by ``rows``, one JSON line each (atomically: the old rows or all the new ones)."""
    return atomic_write_text(path, "".join(_row_line(r) for r in rows))


def read_rows(path: str | Path) -> tuple[list[dict], int]:
    """The JSON rows of ``path`` and the number of lines dropped as torn (not JSON, or not an object)."""
    import json

    rows, torn = [], 0
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                torn += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                torn += 1
    return rows, torn
