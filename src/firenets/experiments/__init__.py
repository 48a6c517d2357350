"""What the commands run, each a function returning a result object that carries its own judgements:
``audit`` (``fn.audit``) and ``audit_dataset``, ``demo``, ``attack``; the reference maps, the shipped
positive control, the stage runner and the verdicts. Rendering a result is ``report``'s work
(``result.write(out)`` calls it)."""

from __future__ import annotations

from ..stability.budget import Budget
from .attack import AttackResult, attack
from .audit import AuditResult, audit
from .control import ControlResult, control_stage
from .dataset import DatasetResult, audit_dataset, dataset_items
from .demo import DemoResult, demo
from .maps import REFERENCE, ZERO_FILLED, reference_makers
from .scorecard import RULES, Cell, Scorecard, battery_scorecard, dataset_scorecard
from .stages import STAGES, BatteryResult, run
from .verdicts import UNSTABLE_FACTOR, Verdict, verdicts

__all__ = ["REFERENCE", "RULES", "STAGES", "UNSTABLE_FACTOR", "ZERO_FILLED", "AttackResult", "AuditResult",
           "BatteryResult", "Budget", "Cell", "ControlResult", "DatasetResult", "DemoResult", "Scorecard", "Verdict",
           "attack", "audit", "audit_dataset", "battery_scorecard", "control_stage", "dataset_items",
           "dataset_scorecard", "demo", "reference_makers", "run", "verdicts"]
