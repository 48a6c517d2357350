"""``firenets attack``: the worst case of one map with its noise control and hallucination maps, and
optionally the measurement-domain attack and other maps attacked alike."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .._progress import Progress
from ..report import attack as attack_report
from ..report.records import write_json
from ..stability.budget import Budget
from ..stability.constrained import MeasurementAttack, measurement_attack
from ..stability.hallucination import HallucinationMaps, hallucination_maps
from ..stability.perturbation import Perturbation, WorstCase, penalised_perturbation, perturbation
from .maps import MapFactory

__all__ = ["AttackResult", "attack"]


@dataclass(frozen=True, eq=False)
class AttackResult:
    """The map's worst case and noise control, hallucination maps unperturbed and under its worst
    perturbation, and optionally the measurement-domain attack and other maps attacked with the same
    budget at the same sizes; ``meta`` describes the run (image, method, acquisition, seconds)."""

    perturbation: Perturbation
    maps: HallucinationMaps
    maps_worst: HallucinationMaps
    measurement: MeasurementAttack | None
    compared: dict[str, Perturbation]
    meta: dict[str, Any]

    @property
    def worst(self) -> WorstCase:
        return self.perturbation.worst

    def record(self) -> dict[str, Any]:
        """The JSON record (``report.attack.attack_record``)."""
        return attack_report.attack_record(self, self.meta)

    def text(self) -> list[str]:
        """The terminal summary (``report.attack.attack_text``)."""
        return attack_report.attack_text(self, self.meta)

    def write(self, out: str | Path) -> list[Path]:
        """attack.png, hallucination.png, then attack.json (last: the run's completion marker)."""
        files = attack_report.attack_files(self, out, method=self.meta["method"])
        return [*files, write_json(Path(out) / "attack.json", self.record())]


def attack(f: torch.nn.Module, A: Any, x: torch.Tensor, *, budget: Budget | None = None,
           penalised: dict[str, Any] | None = None, measurement: Sequence[float] = (),
           measurement_steps: int = 100, measurement_rule: Mapping[str, float] | None = None,
           compare: Mapping[str, MapFactory] | None = None, meta: Mapping[str, Any] | None = None,
           progress: Progress | None = None) -> AttackResult:
    """The perturbation stage for one map: with ``budget`` (fixed sizes, the default) or with
    ``penalised`` settings of the paper's penalised ascent (``stability.worst_case`` arguments lam,
    lr, momentum, records, seed), then the noise control at the sizes found. ``compare`` maps are
    attacked the same way with the same settings. ``measurement_rule``: tol and patience of the
    measurement-domain attack (default: the budget's)."""
    if budget is not None and penalised is not None:
        raise ValueError("give budget (fixed sizes) or penalised (the penalised ascent), not both")
    if penalised is None:
        budget = Budget() if budget is None else budget
    if measurement_rule is None:
        b = budget or Budget()
        measurement_rule = {"tol": b.tol, "patience": b.patience}

    # every compared map gets the attacked map's method and settings: the fixed-norm budget, or the
    # same penalised ascent (whose sizes then differ from map to map, as that ascent's do)
    def run_one(g: Any) -> Perturbation:
        if budget is not None:
            return perturbation(g, A, x, budget, progress=progress)
        return penalised_perturbation(g, A, x, progress=progress, **penalised)

    pert = run_one(f)
    wc = pert.worst
    maps = hallucination_maps(f, A, x)
    worst = max(wc.stages, key=lambda s: s.ratio)
    maps_worst = hallucination_maps(f, A, x + worst.r)
    ma = None
    if measurement:
        seed = budget.seed if budget is not None else penalised.get("seed", 0)
        ma = measurement_attack(f, A, x, rels=[0.0, *measurement], steps=measurement_steps, seed=seed,
                                progress=progress, **measurement_rule)
    compared = {label: run_one(make(A)) for label, make in (compare or {}).items()}
    return AttackResult(pert, maps, maps_worst, ma, compared, dict(meta or {}))
