"""First-order iterations shared by the networks: proximal maps, primal-dual steps, restarts,
and the baselines (plain Chambolle-Pock, ISTA, FISTA)."""

from .chambolle_pock import chambolle_pock
from .ista import fista, ista
from .primal_dual import SaddlePoint, saddle_point
from .prox import dual_prox, project_ball, shrink_ball, soft_threshold
from .restart import next_eps, schedule, step_sizes

__all__ = [
    "SaddlePoint",
    "chambolle_pock",
    "dual_prox",
    "fista",
    "ista",
    "next_eps",
    "project_ball",
    "saddle_point",
    "schedule",
    "shrink_ball",
    "soft_threshold",
    "step_sizes",
]
