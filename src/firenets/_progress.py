"""The one progress protocol of firenets: a long computation calls ``progress(Status(...))``.

A ``Status`` is either a message (``done`` is None: "[2/5] reconstructions ...") or a count
(``done`` of ``total`` units of ``task``: epochs of a training, steps of an attack). Every public
function that runs long takes ``progress: bool | Callable[[Status], None] | None``; ``callback``
turns True into the terminal's ``Console`` (messages on stderr, counts as a tqdm bar, loaded only
when a bar is shown) and False or None into silence. mrpro's callback-with-a-status pattern.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO


@dataclass(frozen=True)
class Status:
    """A message (``done`` None) or ``done`` of ``total`` ``unit``s of ``task``."""

    task: str
    done: int | None = None
    total: int | None = None
    unit: str = "step"


Progress = Callable[[Status], None]


class Console:
    """Progress on a terminal: messages printed to ``stream`` (with ``prefix``), counts as one tqdm bar
    per task (replaced when the task or its total changes, closed when done reaches total)."""

    def __init__(self, stream: TextIO | None = None, *, prefix: str = "", bars: bool = True):
        self.stream, self.prefix, self.bars = stream, prefix, bars
        self._bar: Any = None
        self._key: tuple[str, int | None] | None = None

    def __call__(self, status: Status) -> None:
        if status.done is None:
            self.close()
            print(self.prefix + status.task, file=self.stream or sys.stderr, flush=True)
            return
        if not self.bars:
            return
        key = (status.task, status.total)
        if self._bar is None or key != self._key:
            self.close()
            from tqdm.auto import tqdm

            self._bar = tqdm(total=status.total, initial=status.done, desc=self.prefix + status.task,
                             unit=status.unit, leave=False, file=self.stream or sys.stderr)
            self._key = key
        self._bar.n = status.done
        self._bar.refresh()
        if status.total is not None and status.done >= status.total:
            self.close()

    def close(self) -> None:
        """Close the open bar, if any."""
        if self._bar is not None:
            self._bar.close()
            self._bar, self._key = None, None


def callback(progress: bool | Progress | None) -> Progress | None:
    """The callback of a ``progress`` argument: True -> ``Console()``, False/None -> None, a callable as given."""
    if progress is True:
        return Console()
    if progress is False or progress is None:
        return None
    if not callable(progress):
        raise TypeError(f"progress must be True, False, None or a callable taking a Status; got "
                        f"{type(progress).__name__}")
    return progress


def say(progress: Progress | None, text: str) -> None:
    """Report the message ``text`` (nothing when ``progress`` is None)."""
    if progress is not None:
        progress(Status(text))


def count(progress: Progress | None, task: str, done: int, total: int | None, unit: str = "step") -> None:
    """Report ``done`` of ``total`` ``unit``s of ``task`` (nothing when ``progress`` is None)."""
    if progress is not None:
        progress(Status(task, done, total, unit))


def indented(progress: Progress | None, prefix: str = "  ") -> Progress | None:
    """``progress`` with its messages indented by ``prefix`` (a stage's own messages under its heading)."""
    if progress is None:
        return None
    return lambda s: progress(Status(prefix + s.task, s.done, s.total, s.unit))
