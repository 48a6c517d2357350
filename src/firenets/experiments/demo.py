"""``firenets demo``: the whole story on built-in images, one result that renders as one page."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from .. import data
from .._progress import Progress, callback, say
from ..barriers import samples, table
from ..barriers.samples import BarrierResult
from ..barriers.table import TableResult
from ..nets.mri import reconstruction_map
from ..report import pages
from ..stability.budget import Budget
from .maps import REFERENCE, ZERO_FILLED, reference_makers
from .scorecard import Scorecard, battery_scorecard
from .stages import Accuracy, BatteryResult, accuracy, acquisitions, run

__all__ = ["DemoResult", "demo"]


@dataclass(eq=False)
class DemoResult:
    """The impossibility table (quick) and the training-data barrier, reconstructions, the battery's
    attack, structural and hallucination stages on the shipped networks with FIRENET and
    zero-filling, and the positive control."""

    table: TableResult
    reconstructions: Accuracy
    battery: BatteryResult
    structural: BatteryResult
    seconds: dict[str, float]
    control: BatteryResult | None = None
    barrier: BarrierResult | None = None

    def scorecard(self) -> Scorecard:
        """The shipped networks, the reference FIRENET, zero-filling and the control network on every
        measure (``experiments.scorecard``); the reference's accuracy is that of FIRENET with its defaults."""
        return battery_scorecard(self.battery, accuracy=self.reconstructions, structural=self.structural,
                                 control=None if self.control is None else self.control.positive_control,
                                 aliases={REFERENCE: "FIRENET"})

    def write(self, out: str | Path, *, seconds: float | None = None) -> pages.Page:
        """Write the demo page into the existing directory ``out``, its scorecard first (the table's files
        in out/table, ``index.html`` last)."""
        return pages.demo_page(self, out, seconds=seconds, card=self.scorecard())


def demo(*, progress: bool | Progress | None = True, budget: Budget | None = None) -> DemoResult:
    """The whole story on built-in images: the table (quick), the training-data barrier, Shepp-Logan and the photograph at
    256x256 reconstructed from a Gaussian 25% mask, the attacks and hallucination maps on a
    held-out 128x128 phantom (the networks' training size), text inserted in Shepp-Logan, and the
    positive control (64x64) attacked with the same budget."""
    progress = callback(progress)
    budget = Budget() if budget is None else budget
    seconds = {}
    makers = reference_makers()
    methods = {k: v for k, v in makers.items() if k != ZERO_FILLED}
    # the reconstructions a user gets: FIRENET with its defaults (depth by its stopping rules)
    defaults = {"FIRENET": lambda F: reconstruction_map("firenet", F),
                **{k: v for k, v in methods.items() if k != REFERENCE}}
    t0 = time.perf_counter()
    say(progress, "[1/5] impossibility table (quick: reduced LISTA training) ...")
    tab = table.run(quick=True, progress=progress)
    seconds["table"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say(progress, "      the training-data barrier (K = 3, L = 2, R = 64) ...")
    barrier = samples.run()
    seconds["barrier"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say(progress, "[2/5] reconstructions of Shepp-Logan and the photograph (256x256, 25%) ...")
    recs = accuracy(defaults, acquisitions({"Shepp-Logan": data.shepp_logan(256), "photograph": data.camera(256)}))
    seconds["reconstruction"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say(progress, "[3/5] worst-case perturbations, hallucination attacks and maps (held-out phantom, 128x128) ...")
    bat = run(makers, {"ellipses:20000": data.ellipses(128, seed=20_000)},
              stages=("perturbation", "hallucination-attack", "hallucination"), budget=budget, progress=progress)
    seconds["battery"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say(progress, "[4/5] a small structural change (text in Shepp-Logan) ...")
    x = data.shepp_logan(256)
    detail = data.insert_detail(x, "text", text="CAN U SEE IT", centre=(150, 128), size=14, intensity=0.15)
    struct = run(methods, {"Shepp-Logan": x}, stages=("structural",), detail=detail)
    seconds["structural"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    say(progress, "[5/5] the positive control: a network unstable by theorem, attacked with the same budget ...")
    ctrl = run(methods, {"Shepp-Logan": x}, stages=("positive-control",), budget=budget, progress=progress)
    seconds["positive-control"] = time.perf_counter() - t0
    return DemoResult(tab, recs, bat, struct, seconds, ctrl, barrier)
