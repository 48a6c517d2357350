"""Stability of reconstruction maps, the mathematics only: the attack ``Budget``, worst-case
perturbations (image and measurement domain) with a noise control, targeted hallucination attacks,
hallucination maps, kernel pairs and the accuracy-stability bound, the positive control's lesion, small
details, more samples, generalisation, and certified bounds on what the data allow in a region
(faithfulness). ``experiments`` runs them on several maps alike.

A reconstruction map f takes k-space samples y, (m,) or (B, m), to a complex image; the operator
A is an ``operators.Fourier2D``. Antun et al., PNAS 2020; Bhadra et al., IEEE TMI 2021
(REFERENCE sections 5 and 6).
"""

from __future__ import annotations

from .budget import Budget
from .constrained import BudgetResult, MeasurementAttack, measurement_attack
from .faithfulness import RegionBounds, attack_bounds, noise_level, prior_set, region_bounds, ring
from .generalisation import Generalisation, generalisation
from .hallucination import (
    HallucinationMaps,
    KernelPair,
    accuracy_stability_bound,
    check_orthonormal_rows,
    hallucination_maps,
    kernel_pair,
    leaky,
    measurement_component,
    near_kernel_pair,
    null_component,
    pseudo_inverse,
)
from .perturbation import (
    RELATIVE_NORMS,
    NoiseControl,
    Perturbation,
    Stage,
    WorstCase,
    noise_control,
    penalised_perturbation,
    perturbation,
    worst_case,
)
from .sampling import MoreSamples, more_samples
from .structural import StructuralChange, structural_change
from .targeted import (
    TARGETED_THREATS,
    HallucinationAttack,
    RegionAttack,
    disc,
    disc_grid,
    hallucination_attack,
    lesion_regions,
)
from .threats import KSPACE_THREATS, THREAT_NORMS, THREATS, ThreatAttack, full_kspace_norm, threat_attack

__all__ = [
    "KSPACE_THREATS",
    "RELATIVE_NORMS",
    "TARGETED_THREATS",
    "THREATS",
    "THREAT_NORMS",
    "Budget",
    "BudgetResult",
    "Generalisation",
    "HallucinationAttack",
    "HallucinationMaps",
    "KernelPair",
    "MeasurementAttack",
    "MoreSamples",
    "RegionAttack",
    "NoiseControl",
    "Perturbation",
    "RegionBounds",
    "Stage",
    "StructuralChange",
    "ThreatAttack",
    "WorstCase",
    "accuracy_stability_bound",
    "attack_bounds",
    "check_orthonormal_rows",
    "disc",
    "disc_grid",
    "full_kspace_norm",
    "generalisation",
    "hallucination_attack",
    "hallucination_maps",
    "kernel_pair",
    "leaky",
    "lesion_regions",
    "measurement_attack",
    "measurement_component",
    "more_samples",
    "near_kernel_pair",
    "noise_control",
    "noise_level",
    "null_component",
    "prior_set",
    "pseudo_inverse",
    "penalised_perturbation",
    "perturbation",
    "region_bounds",
    "ring",
    "structural_change",
    "threat_attack",
    "worst_case",
]
