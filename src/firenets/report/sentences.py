"""The sentences of the pages, each computed from one measurement's result object (a verdict, an
attack, a control, a map over a dataset): no sentence states a number it was not given."""

from __future__ import annotations

from typing import Any

__all__ = ["control_sentence", "dataset_sentence", "depth", "lesion_sentence", "local_sentence", "threat_sentence",
           "verdict_sentence"]


def depth(config: dict | None) -> str:
    """'regulariser, R restarts x p layers' of an MRIFirenet configuration."""
    if not config:
        return ""
    return f"{config['regulariser']}, {config['restarts']} restarts x {config['inner']} layers"


def verdict_sentence(v: Any) -> str:
    """One map's verdict, from its ``experiments.verdicts.Verdict``."""
    head = (f"{v.label}: unstable at these sizes" if v.unstable else f"{v.label}: no instability found at these sizes")
    text = (f"{head}: worst-case ratio {v.ratio:.3g}, {v.factor:.2f}x zero-filling's ({v.control_ratio:.4f}; "
            f"the threshold is {v.threshold:g}x) and {v.ratio / v.noise_ratio:.2f}x its Gaussian-noise ratio "
            f"({v.noise_ratio:.3g}). A perturbation of {v.r_rel:.2%} of ||x|| moves the output by {v.out_rel:.2%} "
            f"of ||x||; the error to the truth goes from {v.error_unperturbed:.2%} to {v.error:.2%} of ||x||.")
    return text + (" Every stage converged." if v.converged
                   else " A stage hit the step cap: its ratio is a weaker lower bound.")


def local_sentence(label: str, wc: Any) -> str | None:
    """One map's local worst case beside its sphere ratios, from its ``stability.WorstCase`` (None
    without one). The local value is the worst case only as ||r|| -> 0; it is never called the worst
    case where a sphere holds more."""
    lw = wc.local
    if lw is None:
        return None
    top = max(wc.stages, key=lambda s: s.ratio)
    how = (f"Lanczos on J^T J, {lw.products} products, residual {lw.residuals[0]:.1e} of sigma_max^2"
           + ("" if lw.converged else f", above the tolerance {lw.tol:g}: not converged, a lower bound"))
    head = (f"{label}: the Jacobian of r -> f(A(x + r)) at r = 0 has sigma_max {lw.sigma:.3g} ({how}), the "
            f"worst-case ratio as ||r|| -> 0")
    if top.ratio > lw.sigma * (1 + 1e-6):
        return (head + f"; the sphere ||r|| = {top.r_rel:.2%} ||x|| holds more, {top.ratio:.3g}: the map is "
                "nonlinear there, and the local value is not its worst case.")
    found = f"; on the spheres searched the largest ratio found is {top.ratio:.3g} (at {top.r_rel:.2%} of ||x||)"
    if top.ratio < lw.sigma * (1 - 1e-6):
        return head + found + ": at these sizes the map amplifies less than its linearisation at x."
    return head + found + ", the local value to 1e-6: at these sizes the map amplifies as its linearisation at x."


THREAT_NAMES = {"kspace": "k-space (||e|| relative to the samples ||A x||, as Genzel et al.)",
                "coil": "per-coil (||e_c|| relative to each coil's samples, as Morshuis et al.)",
                "full-kspace": "full k-space (||e|| relative to the fully sampled k-space ||k||, as Darestani et al.)"}


def threat_sentence(label: str, t: Any) -> str:
    """One map under one k-space threat at its largest budget, from its ``stability.threats.ThreatAttack``."""
    r = t.rows()[-1]
    return (f"{label}, {t.threat} threat: a perturbation of the samples of {r['eta']:.2%} "
            f"({r['e_over_y']:.2%} of ||A x||, {r['e_over_k']:.2%} of ||k||, {r['e_over_x']:.2%} of ||x||) raises the "
            f"error to the truth from {r['unperturbed']:.2%} to {r['error']:.2%} of ||x||; Gaussian noise of that norm "
            f"gives {r['noise_error']:.2%}" + ("." if t.converged else " (the attack hit its step cap: a lower bound)."))


def lesion_sentence(label: str, a: Any, x_max: float) -> str:
    """What the targeted attack of one map created, from its ``stability.targeted.RegionAttack`` (threat
    image: r in the image; kspace: e on the samples, beside the truth plus the adjoint image of e)."""
    centre = a.summary()["region_centre"]
    on_samples = getattr(a, "threat", "image") == "kspace"
    size = (f"a perturbation of the samples of {a.rho_rel:.2%} of ||A x|| ({a.rho_over_x:.2%} of ||x||)" if on_samples
            else f"a perturbation of {a.rho_rel:.2%} of ||x||")
    truth = "the truth plus the adjoint image of the perturbation" if on_samples else "the perturbed truth itself"
    return (f"{label}: {size} makes the output gain contrast {a.contrast:.3g} "
            f"({a.contrast / x_max:.1%} of the image's maximum) in a disc of {int(a.region.sum())} pixels at "
            f"({centre[0]:.0f}, {centre[1]:.0f}), where {truth} changes by {a.input_contrast:.3g}"
            + (f": {a.contrast - a.input_contrast:.3g} more than the truth shows" if a.contrast > a.input_contrast
               else ": no more than the truth shows")
            + f"; Gaussian noise of that norm adds {a.noise_contrast:.3g} there"
            + ("." if a.converged else " (the attack hit its step cap: a lower bound)."))


def control_sentence(label: str, pc: Any) -> str:
    """What the positive control shows for one map, from its ``stability.control.PositiveControl``."""
    xn = pc.errors  # absolute errors; the bound's eta is the larger
    # a bound of at most 1 forces nothing: zero-filling, the negative control, has Lipschitz constant 1
    if pc.bound > 1:
        theorem = (f"accurate enough on both images that every such map must have a local Lipschitz constant of at "
                   f"least {pc.bound:.3g} (the accuracy-stability bound)")
    elif pc.bound_difference > 1:
        theorem = (f"its whole-image errors make the classical bound vacuous, but its errors on x and x' differ so "
                   f"little that its Lipschitz constant must be at least {pc.bound_difference:.3g}")
    else:
        theorem = (f"it does not recover the lesion (the bounds are {pc.bound:.3g} and {pc.bound_difference:.3g}, "
                   "at most zero-filling's 1), so no theorem forces instability on it")
    forced = max(pc.bound, pc.bound_difference)
    ratio_vs = ("" if forced <= 1 else " (at least that bound)" if pc.feasible_ratio >= forced
                else " (BELOW that bound: a measurement error)")
    found = ("the attack found " + (f"{pc.attack_ratio:.3g}, at least the feasible ratio" if pc.found
                                    else f"only {pc.attack_ratio:.3g}, below the feasible ratio")
             + (" (converged)" if pc.attack_converged else " (step cap)"))
    return (f"{label}: errors {xn[0]:.3g} on x and {xn[1]:.3g} on x' (||x - x'|| = {pc.lesion_norm:.3g}); "
            f"{theorem}. The perturbation r = A^*A(x' - x), {pc.r_rel:.2%} of ||x||, has ratio "
            f"{pc.feasible_ratio:.3g}{ratio_vs}; {found}. Added to x it changes the mean magnitude in the "
            f"lesion's disc by {pc.appear:+.3g} (the lesion's own contrast there is {pc.lesion_contrast:.3g}), "
            f"and -r added to x' by {pc.vanish:+.3g} (x + r has the samples of x', and x' - r those of x); "
            "parts of r: " + ", ".join(f"{t:g} r ({t * pc.r_rel:.2%} of ||x||) {g:+.3g}" for t, g in pc.partial) + ".")


def dataset_sentence(m: Any) -> str:
    """What the rows of one map show over the images, from its ``experiments.verdicts.MapOverImages``:
    medians and ranges, the worst image, on how many images it is unstable, convergence."""
    p, w, u, c = m.psnr, m.worst_ratio, m.unstable, m.converged
    parts = [
        p and f"PSNR median {p[0]:.2f} dB (from {p[1]:.2f} to {p[2]:.2f})",
        w and f"worst-case ratio median {w[0]:.3g}, largest {w[1]:.3g} on {w[2]}",
        m.noise_quotient is not None and f"{m.noise_quotient:.3g} times its Gaussian-noise ratio (median)",
        m.contrast is not None and f"hallucination contrast median {m.contrast:.3g}",
        u and f"unstable at these sizes (worst case above {m.threshold:g}x zero-filling's) on {u[0]} of {u[1]} images",
        m.contradicted and f"the samples it was given contradict the contrast its targeted attack invented on "
                           f"{m.contradicted[0]} of {m.contradicted[1]} images (region bounds)",
        c and f"its attacks converged on {c[0]} of {c[1]} images" + (
            "" if c[0] == c[1] else f" (on the {c[1] - c[0]} other{'s' if c[1] - c[0] != 1 else ''} the step cap "
                                    "ended them: their ratios are weaker lower bounds)"),
    ]
    parts = [t for t in parts if t]
    return f"{m.label} on {m.images} images: " + ("; ".join(parts) if parts else "no measurement completed") + "."


def faithfulness_sentence(label: str, b: Any, *, where: str = "the attacked disc",
                          before: str = "before the attack", samples: str = "the perturbed samples") -> str:
    """What the samples a map was given allow on a disc (by default its attacked disc), from its
    ``stability.RegionBounds``."""
    lo, hi = b.interval
    span = "any value (the disc meets the kernel of A and no prior bounds it)" if b.unbounded else \
        f"a mean of {b.measure} in [{lo:.3g}, {hi:.3g}]"
    conv = "" if b.converged in (True, None) else " (a solve hit its cap: the interval is certified but wider)"
    return (f"{label}: on {where} the output's mean is {b.value:.3g} and it was {b.background:.3g} {before}; "
            f"{samples} (eta {b.eta:.3g}) and the prior ({b.prior}, slack {b.slack:g}) allow "
            f"{span}{conv}: {b.verdict}.")
