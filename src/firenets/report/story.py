"""The demo and audit pages, rendered from the battery's results (``stability.battery``).

Nothing here runs an experiment: every number and every sentence that states one is computed from
the result objects given, and the figures are drawn from their images.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from ..stability.control import CONTROL_LABEL
from .figures import attack_figure, grid_figure, hallucination_attack_figure
from .page import write

TITLE = "firenets: can this network be trusted to reconstruct an image?"


def _slug(label: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "map"


def _depth(config: dict | None) -> str:
    """'regulariser, R restarts x p layers' of an MRIFirenet configuration."""
    if not config:
        return ""
    return f"{config['regulariser']}, {config['restarts']} restarts x {config['inner']} layers"


def _settings_line(settings: dict) -> str:
    b = settings["budget"]
    return (f"Image {settings['attacked_image']} ({settings['shape'][0]}x{settings['shape'][1]}), "
            f"{settings['mask']} mask at {settings['rate']:.0%}, seed {settings['seed']}. Every map gets the same "
            f"attack: fixed-norm ascent on the spheres ||r|| = "
            + ", ".join(f"{rho:g}" for rho in b["norms"])
            + f" ||x||, each from {max(b['restarts'], 1)} random direction(s) of both signs (from the second sphere "
            f"on, {b['restarts']} and the previous sphere's best direction), until the best ratio rises by less than a factor 1 + {b['tol']:g} over {b['patience']} steps "
            f"(cap {b['steps']} steps per start); Gaussian noise of the same norms, largest of {b['noise_trials']} "
            "draws, is the control.")


def table_section(result) -> tuple[dict, dict]:
    """The impossibility table (``barriers.table.TableResult``) with the published numbers and notes."""
    def published(v: float | None) -> str:
        return "-" if v is None else f"{v:.7f}"

    rows = [[r.K, r.n, f"{r.lista:.7g}", f"{r.firenet:.7g}", f"{r.interior_point:.7g}",
             published(r.published_lista), published(r.published_firenet)] for r in result.rows]
    claims = result.claims()
    text = [
        "For the class Omega_K every method is given the inexact input (A_n, y_n), accurate to 2^-n, "
        "and we measure the distance of its output to the minimisers Xi(A, y) of the exact problem "
        f"(LISTA trained for {result.config['epochs']} epochs).",
        *[f"{'Holds' if ok else 'FAILS'}: {name}." for name, ok in claims.items()],
        *result.notes,
    ]
    section = {
        "title": "1. The barrier: no method computes the minimiser to K digits",
        "text": text,
        "tables": [{"caption": "dist(output, Xi(A, y)); published columns from Colbrook, Antun, Hansen, PNAS 2022",
                    "columns": ["K", "n", "LISTA", "FIRENET", "interior point", "LISTA (published)",
                                "FIRENET (published)"], "rows": rows}],
        "figures": [],
    }
    return section, {"claims": claims, "rows": [r.__dict__ for r in result.rows]}


def accuracy_section(acc, out: Path, *, title: str, file: str, settings: str) -> tuple[dict, dict]:
    """Truth, zero-filled and every map's reconstruction per image, error maps (x3), and the metrics."""
    rows, table_rows = [], []
    for img, recons in acc.recons.items():
        target = acc.images[img]
        panels = [("ground truth", target)] + [
            (f"{m}: {acc.metrics[img][m]['psnr']:.1f} dB", r) for m, r in recons.items()]
        errors = [("error maps (x3)", torch.zeros_like(target) + target.max())] + [
            (f"|{m} - truth|", (3 * (r - target).abs()).clamp(max=float(target.max()))) for m, r in recons.items()]
        rows += [(img, panels), (f"{img}: errors", errors)]
        table_rows += [[img, m, v["psnr"], v["ssim"], v["nmse"], acc.seconds[img][m]]
                       for m, v in acc.metrics[img].items()]
    grid_figure(out / file, rows)
    maps = [m for m in next(iter(acc.metrics.values())) if m != "zero-filled"]
    text = [settings]
    for img, per in acc.metrics.items():
        best = max(maps, key=lambda m, p=per: p[m]["psnr"])
        text.append(f"{img}: highest PSNR {per[best]['psnr']:.2f} dB ({best}); "
                    + ", ".join(f"{m} {per[m]['psnr']:.2f}" for m in maps)
                    + f"; zero-filled {per['zero-filled']['psnr']:.2f} dB.")
    section = {"title": title, "text": text,
               "tables": [{"caption": "metrics with fastMRI conventions (data range = ground-truth max)",
                           "columns": ["image", "method", "PSNR dB", "SSIM", "NMSE", "seconds"], "rows": table_rows}],
               "figures": [{"file": file, "data": acc.summary(),
                            "caption": "ground truth, zero-filled and each map; error maps x3"}]}
    return section, acc.summary()


def verdict_sentence(v) -> str:
    """One map's verdict, from its ``stability.battery.Verdict``."""
    head = (f"{v.label}: unstable at these sizes" if v.unstable else f"{v.label}: no instability found at these sizes")
    text = (f"{head}: worst-case ratio {v.ratio:.3g}, {v.factor:.2f}x zero-filling's ({v.control_ratio:.4f}; "
            f"the threshold is {v.threshold:g}x) and {v.ratio / v.noise_ratio:.2f}x its Gaussian-noise ratio "
            f"({v.noise_ratio:.3g}). A perturbation of {v.r_rel:.2%} of ||x|| moves the output by {v.out_rel:.2%} "
            f"of ||x||; the error to the truth goes from {v.error_unperturbed:.2%} to {v.error:.2%} of ||x||.")
    return text + (" Every stage converged." if v.converged
                   else " A stage hit the step cap: its ratio is a weaker lower bound.")


def perturbation_section(bat, out: Path, *, title: str) -> tuple[dict, dict]:
    """Per map and sphere: ratio, noise ratio, their quotient, errors to the truth, iterations and
    convergence; the verdicts against zero-filling; one attack figure per map."""
    from ..stability.battery import verdicts

    perts = bat.perturbation
    verdict = verdicts(perts)
    rows, figures, record = [], [], {}
    for label, p in perts.items():
        for s, c in zip(p.worst.stages, p.noise.stages, strict=True):
            rows.append([label, s.r_rel, s.out_diff / (s.r_norm / s.r_rel), s.ratio, c.ratio, s.ratio / c.ratio,
                         p.error, s.error, s.error_perturbed, s.iteration, bool(s.converged)])
        record[label] = p.summary()
        if label != "zero-filled":
            record[label]["verdict"] = verdict[label].summary()
        file = f"attack-{_slug(label)}.png"
        depth = _depth(p.config)
        attack_figure(out / file, p.worst.x.abs(), p.worst.recon.abs(),
                      [((p.worst.x + s.r).abs(), s.recon.abs(), s.r.abs(), s.summary()) for s in p.worst.stages],
                      method=label + (f" ({depth})" if depth else ""))
        figures.append({"file": file, "data": record[label],
                        "caption": f"{label}: original and perturbed images (top), their reconstructions (middle), "
                                   "the perturbations (bottom)"})
    text = [
        _settings_line(bat.settings)
        + "".join(f" {m}: {_depth(p.config)}, a fixed depth." for m, p in perts.items() if p.config),
        "The ratio ||f(A(x+r)) - f(Ax)|| / ||r|| bounds the local Lipschitz constant from below. Zero-filling "
        "is the negative control: its worst case is exactly 1 (an orthogonal projection), so a map whose "
        "worst case is many times zero-filling's amplifies some perturbation of the samples that much.",
        *[verdict_sentence(v) for v in verdict.values()],
    ]
    section = {"title": title, "text": text,
               "tables": [{"caption": "per map and sphere: ||r||/||x||, output change / ||x||, worst-case and noise "
                                      "ratios and their quotient, errors to the truth (unperturbed, perturbed, and to "
                                      "x + r) / ||x||, iterations of the best start, converged",
                           "columns": ["map", "||r||/||x||", "change/||x||", "worst-case ratio", "noise ratio",
                                       "quotient", "error f(Ax)", "error f(A(x+r))", "error to x+r", "iterations",
                                       "converged"], "rows": rows}],
               "figures": figures}
    return section, {"maps": record, "verdicts": {k: v.summary() for k, v in verdict.items()}}


def lesion_sentence(label: str, a, x_max: float) -> str:
    """What the targeted attack of one map created, from its ``stability.targeted.RegionAttack``."""
    centre = a.summary()["region_centre"]
    return (f"{label}: a perturbation of {a.rho_rel:.2%} of ||x|| makes the output gain contrast {a.contrast:.3g} "
            f"({a.contrast / x_max:.1%} of the image's maximum) in a disc of {int(a.region.sum())} pixels at "
            f"({centre[0]:.0f}, {centre[1]:.0f}), where the perturbed truth itself changes by {a.input_contrast:.3g}"
            + (f": {a.contrast - a.input_contrast:.3g} more than the truth shows" if a.contrast > a.input_contrast
               else ": no more than the truth shows")
            + f"; Gaussian noise of that norm adds {a.noise_contrast:.3g} there"
            + ("." if a.converged else " (the attack hit its step cap: a lower bound)."))


def hallucination_attack_section(bat, out: Path, *, title: str) -> tuple[dict, dict]:
    """The targeted attack of every map: contrast created in the worst of the screened discs, the
    perturbed truth's own change there, the Gaussian control, and a figure of the gains."""
    atts = bat.hallucination_attack
    x = next(iter(atts.values())).x
    x_max = float(x.abs().max())
    rows, figs, record, text = [], [], {}, []
    for label, h in atts.items():
        a = h.attacks[0]
        record[label] = h.summary()
        c = a.summary()["region_centre"]
        rows.append([label, a.rho_rel, f"({c[0]:.0f}, {c[1]:.0f})", a.contrast, a.contrast / x_max, a.input_contrast,
                     a.contrast - a.input_contrast, a.noise_contrast, a.iterations, a.converged])
        figs.append((label, (x + a.r).abs(), a.recon.abs(), a.recon.abs() - h.recon.abs(), a.r.abs(),
                     {"rho_rel": a.rho_rel, "contrast": a.contrast, "region": a.region}))
        text.append(lesion_sentence(label, a, x_max))
    hallucination_attack_figure(out / "hallucination-attack.png", figs)
    settings = next(iter(atts.values())).settings
    intro = (f"The targeted attack seeks, for each map, the perturbation of norm at most {rows[0][1]:.2%} of ||x|| "
             "that makes the reconstruction brightest inside a small disc: the gain <|f(A(x+r))|>_R - <|f(Ax)|>_R, "
             f"over {settings['regions']} discs on the middle of the image (screened by {settings['screen_steps']} "
             f"ascent steps each, the best attacked in full with the battery's stopping rule). A gain far above the "
             "perturbed truth's own change in the disc is structure the samples do not support.")
    section = {"title": title, "text": [intro, *text],
               "tables": [{"caption": "per map: ||r||/||x||, the disc's centre (row, column), contrast created, as a "
                                      "fraction of max |x|, the perturbed truth's change there, the difference (invented), "
                                      "the Gaussian control, iterations, converged",
                           "columns": ["map", "||r||/||x||", "disc", "contrast", "/ max|x|", "truth's change",
                                       "invented", "noise", "iterations", "converged"], "rows": rows}],
               "figures": [{"file": "hallucination-attack.png", "data": record,
                            "caption": "per map: x + r, its reconstruction, the output's gain (the disc outlined) "
                                       "and |r|"}]}
    return section, record


def structural_section(bat, out: Path, *, title: str, detail: str) -> tuple[dict, dict]:
    """Whether each map recovers the inserted detail: the contrast, full image and a zoom."""
    struct = bat.structural
    xd, support = bat.detail
    record = {m: sc.summary() for m, sc in struct.items()}
    panels = [("with detail", xd)] + [(f"{m}: contrast {sc.contrast:.2f}", sc.recon.abs()) for m, sc in struct.items()]
    rows_, cols = torch.nonzero(support, as_tuple=True)
    r0, r1 = int(rows_.min()) - 12, int(rows_.max()) + 12
    c0, c1 = int(cols.min()) - 12, int(cols.max()) + 12
    crop = [(t, img[max(r0, 0):r1, max(c0, 0):c1]) for t, img in panels]
    grid_figure(out / "structural.png", [("full image", panels), ("zoom on the detail", crop)])
    zf = next(iter(struct.values())).zero_filled_contrast
    text = [
        f"{detail} is added to the image before sampling. The recovered contrast is the mean over the detail "
        "of |f(A x_d)| - |f(A x)| divided by the inserted contrast (1: fully visible, 0: invisible); at least "
        "0.5 counts as recovered.",
        *[f"{m}: contrast {sc.contrast:.2f} ({'recovered' if sc.recovered else 'lost'})." for m, sc in struct.items()],
        *([] if "zero-filled" in struct else [f"Zero-filling keeps {zf:.2f} of it."]),
    ]
    section = {"title": title, "text": text, "tables": [],
               "figures": [{"file": "structural.png", "data": record,
                            "caption": "reconstructions of the image with the detail, and a zoom"}]}
    return section, record if "zero-filled" in record else {**record, "zero-filled": {"contrast": zf}}


def hallucination_section(bat, out: Path, *, title: str) -> tuple[dict, dict]:
    """Error, measurement-space and null-space maps of every map, each on its own scale."""
    maps = bat.hallucination
    record = {m: h.summary() for m, h in maps.items()}
    rows = [(m, [("error |f^ - x|", h.error), ("measurement space", h.measurement), ("null space", h.null)])
            for m, h in maps.items()]
    grid_figure(out / "hallucination.png", rows, shared_scale=False, cmap="inferno", colorbar=True)
    text = [
        "Following Bhadra et al. (IEEE TMI 2021): the measurement-space map |A^*A f^ - A^*y| shows where the "
        "reconstruction disagrees with the data it was given; the null-space map |(f^)_null - x_null| shows "
        "what it invented in the part of the image the samples do not see (each map on its own scale).",
        *[f"{m}: relative error {r['relative_error']:.3f}, measurement-space {r['relative_measurement']:.3f}, "
          f"null-space {r['relative_null']:.3f}." for m, r in record.items()],
    ]
    section = {"title": title, "text": text, "tables": [],
               "figures": [{"file": "hallucination.png", "data": record,
                            "caption": "rows: " + ", ".join(maps) + "; columns: error, measurement-space, "
                                       "null-space maps"}]}
    return section, record


def control_sentence(label: str, pc) -> str:
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


def positive_control_section(ctrl, out: Path, *, title: str) -> tuple[dict, dict]:
    """The positive control (``stability.control.ControlResult``): per map its errors on the pair, the
    bounds, the ratio at the feasible r, the attack's ratio, and the lesion made to appear and vanish."""
    c = ctrl.settings
    rows, panels = [], []
    for label, pc in ctrl.maps.items():
        rows.append([label, pc.errors[0], pc.errors[1], pc.bound, pc.bound_difference, pc.feasible_ratio,
                     pc.attack_ratio, pc.found, pc.attack_converged, pc.r_rel, pc.appear, pc.vanish])
        im = pc.images
        panels.append((label, [("f(Ax)", im["f(Ax)"]), ("f(A(x + r))", im["f(A(x+r))"]),
                               ("f(Ax')", im["f(Ax')"]), ("f(A(x' - r))", im["f(A(x'-r))"])]))
    truth = ("truth", [("x (no lesion)", ctrl.x), ("x + r", ctrl.x + ctrl.r),
                       ("x' = x + lesion", ctrl.x_lesion), ("lesion x' - x", (ctrl.x_lesion - ctrl.x).abs())])
    grid_figure(out / "positive-control.png", [truth, *panels])
    intro = (f"A network that must be unstable: the lesion d is a disc of amplitude {c['amplitude']:g} and radius "
             f"{c['radius']:g} at {tuple(c['centre'])} minus its projection onto the samples, plus a leak "
             f"{c['leak']:g} of that projection, so that ||A d|| / ||d|| = {c['leak_ratio']:.3g} on the "
             f"{c['size']}x{c['size']} {c['mask']} {c['rate']:.0%} mask (seed {c['mask_seed']}); the control U-Net "
             f"was trained to reconstruct phantoms with and without it ({c['n_train']} images, {c['epochs']} epochs). "
             f"On the held-out pair x = {c['pair']} and x' = x + d (||d|| = {c['lesion_rel']:.1%} of ||x||), "
             "a map eta-accurate on both has a local Lipschitz constant of at least (||x - x'|| - 2 eta) / "
             "||A x - A x'||, and r = A^*A(x' - x) is a perturbation of x whose samples equal x''s, so the attack, "
             "run with the same budget as above on the sphere ||r||, must find at least the ratio at r.")
    section = {"title": title, "text": [intro, *[control_sentence(k, v) for k, v in ctrl.maps.items()]],
               "tables": [{"caption": "per map: errors ||f(Ax) - x|| and ||f(Ax') - x'||, the bound with eta the larger "
                                      "error, the bound with the errors' difference, the ratio at r = A^*A(x' - x), the "
                                      "attack's ratio on that sphere, whether it reached the ratio at r, converged, "
                                      "||r||/||x||, the lesion contrast r creates in x and -r removes from x'",
                           "columns": ["map", "error x", "error x'", "bound", "bound (difference)", "ratio at r",
                                       "attack ratio", "found", "converged", "||r||/||x||", "appears", "vanishes"],
                           "rows": rows}],
               "figures": [{"file": "positive-control.png", "data": ctrl.summary(),
                            "caption": "the pair and the lesion (top); per map its reconstructions of x, x + r, x' "
                                       "and x' - r"}]}
    return section, ctrl.summary()


def _meta(seconds: float) -> dict:
    import firenets

    return {"firenets": firenets.__version__, "torch": str(torch.__version__), "seconds": round(seconds, 1)}


def demo_page(result, out: str | Path, *, seconds: float | None = None) -> dict[str, Any]:
    """Write the demo page (``stability.battery.DemoResult``) into ``out``: figures, JSON, the table's
    files in ``out/table``, ``index.html`` last. Returns the page's results."""
    from ..barriers import table

    out = Path(out)
    table.write(result.table, out / "table")
    bat, struct = result.battery, result.structural
    parts = [
        table_section(result.table),
        accuracy_section(result.reconstructions, out, title="2. Reconstructions", file="reconstructions.png",
                         settings="k-space is sampled at 25% with a Gaussian variable-density mask (seed 0); the "
                                  "networks were trained on random-ellipse phantoms at 128x128 with that mask and "
                                  "rate, and are applied here at 256x256. FIRENET is computed from the sampling "
                                  "operator, not trained; here with its defaults (depth chosen by its stopping "
                                  "rules); section 3 attacks the fixed-depth reference FIRENET."),
        perturbation_section(bat, out, title="3. Worst-case perturbations"),
        hallucination_attack_section(bat, out, title="4. Targeted hallucination attack"),
        structural_section(struct, out, title="5. A small structural change",
                           detail="The text 'CAN U SEE IT' (intensity +0.15)"),
        hallucination_section(bat, out, title="6. Hallucination maps"),
    ]
    if result.control is not None:
        parts.append(positive_control_section(result.control.positive_control, out,
                                              title="7. The positive control: a network unstable by theorem"))
    sections = [s for s, _ in parts]
    record = dict(zip(("table", "reconstruction", "perturbation", "hallucination_attack", "structural",
                       "hallucination", "positive_control"), (r for _, r in parts), strict=False))
    claims = record["table"]["claims"]
    summary = [
        "1. The barrier: " + ("every method stays more than 10^-K from the exact minimisers and FIRENET within "
                              "10^-(K-1), as the theory says." if all(claims.values())
                              else "a claim of the table failed in this run; see section 1."),
        "2. Reconstructions: " + " ".join(sections[1]["text"][1:]),
        "3. Perturbations: " + " ".join(sections[2]["text"][2:]),
        "4. Targeted hallucinations: " + " ".join(sections[3]["text"][1:]),
        "5. Small detail: " + " ".join(sections[4]["text"][1:]),
        "6. Hallucination maps: " + " ".join(sections[5]["text"][1:]),
        *(["7. Positive control: " + " ".join(sections[6]["text"][1:])] if len(sections) > 6 else []),
    ]
    total = seconds if seconds is not None else sum(result.seconds.values())
    results = {"title": TITLE, "summary": summary, "sections": sections, "meta": _meta(total),
               "record": record, "seconds": result.seconds}
    write(results, out)
    return results


def stages_section(bat, *, title: str, failures: dict[str, str] | None = None) -> dict:
    """Which stages of a battery run completed, failed (with the error; ``failures``: the run's, default
    ``bat.failures``) or were not asked for."""
    from ..stability.battery import STAGES

    failures = bat.failures if failures is None else failures
    rows = []
    for stage in STAGES:
        if stage in failures:
            rows.append([stage, "FAILED", bat.seconds.get(stage, 0.0), failures[stage]])
        elif stage in bat.seconds:
            rows.append([stage, "completed", bat.seconds[stage], ""])
        else:
            rows.append([stage, "not run", "-", ""])
    failed = list(failures)
    done = bat.completed_besides(failures)
    text = [f"{len(done)} of {len(bat.settings['stages'])} stages asked for completed"
            + (f"; {len(failed)} failed: {', '.join(failed)} (the error of each is below; the other stages ran)."
               if failed else ".")]
    for stage, per in getattr(bat, "map_seconds", {}).items():
        if per:
            text.append(f"{stage}, seconds per map: " + ", ".join(f"{m} {t:.1f}" for m, t in per.items()) + ".")
    return {"title": title, "text": text,
            "tables": [{"columns": ["stage", "status", "seconds", "error"], "rows": rows}], "figures": []}


def audit_page(bat, out: str | Path, *, name: str, seconds: float | None = None) -> dict[str, Any]:
    """Write the audit page of a ``stability.battery.BatteryResult`` (the user's map called ``name``):
    a section per stage that ran, the stages' status (a stage that failed, or whose section could not
    be drawn, is named with its error), ``index.html`` last."""
    out = Path(out)
    st = bat.settings
    sections, record = [], {"settings": st}
    drawn_failures: dict[str, str] = {}
    n = 0

    def title(text: str) -> str:
        nonlocal n
        n += 1
        return f"{n}. {text}"

    from ..nets.mri import REFERENCE_FIRENET

    depth = _depth(REFERENCE_FIRENET)
    where = (f"{st['mask']} mask at {st['rate']:.0%}, seed {st['seed']}"
             + (f", noise {st['noise']:g} per sample" if st.get("noise") else "")
             + f"; the reference FIRENET ({depth}, a fixed depth) beside it, zero-filling as the control.")

    def add(stage: str, key: str | None, draw) -> None:
        try:
            s, r = draw()
        except Exception as exc:  # a section that cannot be drawn is reported like a failed stage
            drawn_failures[stage] = f"drawing the page section: {type(exc).__name__}: {exc}"
            return
        sections.append(s)
        record.update({key: r} if key is not None else r)

    if bat.accuracy is not None:
        add("accuracy", "accuracy", lambda: accuracy_section(bat.accuracy, out, title=title("Accuracy"),
                                                             file="accuracy.png",
                                                             settings=f"{name} on the given images: " + where))
    if bat.perturbation is not None:
        add("perturbation", "perturbation",
            lambda: perturbation_section(bat, out, title=title("Worst-case perturbations")))
    if bat.hallucination_attack is not None:
        add("hallucination-attack", "hallucination_attack",
            lambda: hallucination_attack_section(bat, out, title=title("Targeted hallucination attack")))
    if bat.structural is not None or bat.more_samples is not None:
        add("structural" if bat.structural is not None else "more-samples", None,
            lambda: _structural_and_samples(bat, out, name, title("Small structural change and more samples")))
    if bat.generalisation is not None:
        add("generalisation", "generalisation", lambda: _generalisation_section(bat, title("Generalisation")))
    if bat.hallucination is not None:
        add("hallucination", "hallucination", lambda: hallucination_section(bat, out, title=title("Hallucination maps")))
    if bat.positive_control is not None:
        add("positive-control", "positive_control",
            lambda: positive_control_section(bat.positive_control, out, title=title(
                "The positive control: is the attack able to find instability?")))
    failures = {**drawn_failures, **bat.failures}  # the run's own error first where a stage has both
    summary = [next((t for t in s["text"][1:] if t.startswith(name)), s["text"][0]) for s in sections
               if "positive control" not in s["title"]]
    control = [t for s in sections if "positive control" in s["title"] for t in s["text"]
               if t.startswith(CONTROL_LABEL)]
    summary += control[:1]
    status = stages_section(bat, title=title("Stages"), failures=failures)
    summary.append(status["text"][0])
    sections.append(status)
    record["completed"] = bat.completed_besides(failures)
    record["failures"] = failures
    record["map_seconds"] = bat.map_seconds
    total = seconds if seconds is not None else sum(bat.seconds.values())
    results = {"title": f"firenets audit: {name}", "summary": summary, "sections": sections, "meta": _meta(total),
               "record": record, "seconds": bat.seconds}
    write(results, out)
    return results


def _structural_and_samples(bat, out: Path, name: str, heading: str) -> tuple[dict, dict]:
    text, record, figures = [], {}, []
    if bat.structural is not None:
        s, r = structural_section(bat, out, title="", detail="A small ellipse")
        record["structural"] = r
        text += s["text"][1:]
        figures = s["figures"]
    if bat.more_samples is not None:
        record["more_samples"] = {m: v.summary() for m, v in bat.more_samples.items()}
        for m, v in bat.more_samples.items():
            rates = ", ".join(f"{r['rate']:.0%}" for r in v.summary()["results"])
            psnrs = ", ".join(f"{r['psnr']:.1f}" for r in v.summary()["results"])
            text.append(f"{m}: more samples {'never cost' if v.stable else 'COST'} more than "
                        f"{v.tolerance_db:g} dB (PSNR {psnrs} dB at {rates}).")
    return {"title": heading, "text": text, "tables": [], "figures": figures}, record


def _generalisation_section(bat, heading: str) -> tuple[dict, dict]:
    rows = [[m, r["images"], r["acquisition"], r["psnr"], r["psnr_drop"]]
            for m, g in bat.generalisation.items() for r in g.table()]
    return ({"title": heading,
             "text": ["Mean PSNR per image set and acquisition; drop from the given images at the given mask and "
                      "rate."],
             "tables": [{"columns": ["method", "images", "acquisition", "PSNR dB", "drop dB"], "rows": rows}],
             "figures": []},
            {m: g.summary() for m, g in bat.generalisation.items()})


DATASET_PANELS = (("psnr", "PSNR (dB)"), ("worst_ratio", "worst-case ratio"),
                  ("noise_quotient", "worst-case / noise ratio"), ("contrast", "hallucination contrast"))


def _median(values: list[float]) -> float:
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def dataset_sentence(label: str, rows: list[dict], control: str = "zero-filled") -> str:
    """What the rows of one map show over the images: medians and ranges, the worst image, on how many
    images its worst case exceeds ``UNSTABLE_FACTOR`` times the control's (zero-filling's), convergence."""
    vals = {k: [(r["maps"][label][k], r["image"]) for r in rows
                if label in r.get("maps", {}) and r["maps"][label].get(k) is not None] for k, _ in DATASET_PANELS}
    parts = []
    if vals["psnr"]:
        p = [v for v, _ in vals["psnr"]]
        parts.append(f"PSNR median {_median(p):.2f} dB (from {min(p):.2f} to {max(p):.2f})")
    if vals["worst_ratio"]:
        w = [v for v, _ in vals["worst_ratio"]]
        top, where = max(vals["worst_ratio"])
        parts.append(f"worst-case ratio median {_median(w):.3g}, largest {top:.3g} on {where}")
    if vals["noise_quotient"]:
        parts.append(f"{_median([v for v, _ in vals['noise_quotient']]):.3g} times its Gaussian-noise ratio (median)")
    if vals["contrast"]:
        parts.append(f"hallucination contrast median {_median([v for v, _ in vals['contrast']]):.3g}")
    from ..stability.battery import UNSTABLE_FACTOR

    factors = [r["maps"][label]["worst_ratio"] / r["maps"][control]["worst_ratio"] for r in rows
               if label != control and r.get("maps", {}).get(label, {}).get("worst_ratio") is not None
               and r["maps"].get(control, {}).get("worst_ratio")]
    if factors:
        k = sum(f > UNSTABLE_FACTOR for f in factors)
        parts.append(f"unstable at these sizes (worst case above {UNSTABLE_FACTOR:g}x zero-filling's) on {k} of "
                     f"{len(factors)} images")
    conv = [r["maps"][label]["converged"] for r in rows
            if label in r.get("maps", {}) and r["maps"][label].get("converged") is not None]
    if conv:
        parts.append(f"its attacks converged on {sum(conv)} of {len(conv)} images"
                     + ("" if all(conv) else f" (on the {len(conv) - sum(conv)} other"
                                            f"{'s' if len(conv) - sum(conv) != 1 else ''} the step cap ended them: "
                                            "their ratios are weaker lower bounds)"))
    n = sum(1 for r in rows if label in r.get("maps", {}))
    return f"{label} on {n} images: " + ("; ".join(parts) if parts else "no measurement completed") + "."


def dataset_page(rows: list[dict], out: str | Path, *, name: str, settings: dict, control: Any = None,
                 seconds: float | None = None, ranks: int = 1) -> dict[str, Any]:
    """Write the page of a dataset audit (``rows``: one ``stability.battery.image_row`` per image, with its
    page's link) into ``out``: per-map sentences, box plots, the worst images linked to their pages and
    figures, a row per image and map, the positive control (``control``: a ControlResult, or the error
    of its stage), the stages' status; ``index.html`` last."""
    from ..nets.mri import REFERENCE_FIRENET
    from ..stability.battery import REFERENCE, STAGES
    from .figures import box_figure

    out = Path(out)
    labels = list(dict.fromkeys(m for r in rows for m in r.get("maps", {})))
    labels = [m for m in (name, REFERENCE, "zero-filled") if m in labels] + \
             [m for m in labels if m not in (name, REFERENCE, "zero-filled")]
    failed = [r for r in rows if r.get("failures")]
    where = (f"{settings['mask']} mask at {settings['rate']:.0%}, seed {settings['seed']}"
             + (f", noise {settings['noise']:g}" if settings.get("noise") else "")
             + f"; model in {settings['dtype']}; the reference FIRENET ({_depth(REFERENCE_FIRENET)}) beside it, "
             "zero-filling as the control; every image gets the same budget "
             f"(sizes {', '.join(f'{v:.0%}' for v in settings['budget']['norms'])} of ||x||, at most "
             f"{settings['budget']['steps']} steps per start, tol {settings['budget']['tol']:g} over "
             f"{settings['budget']['patience']} steps)" + (f"; {ranks} processes" if ranks > 1 else "") + ".")
    summary = [f"{len(rows)} images audited" + (f"; {len(failed)} with a failed stage or an unreadable file "
                                                f"({', '.join(r['image'] for r in failed[:5])}"
                                                + (", ..." if len(failed) > 5 else "") + ")." if failed else ".")]
    summary += [dataset_sentence(m, rows) for m in labels]
    sections = []
    panels = {title: {m: [r["maps"][m][k] for r in rows if m in r.get("maps", {})] for m in labels}
              for k, title in DATASET_PANELS}
    figures = []
    try:
        box_figure(out / "distributions.png", panels, title=f"{len(rows)} images")
        figures.append({"file": "distributions.png", "data": panels,
                        "caption": "per map, the distribution over the images (each image a dot)"})
    except ValueError:
        pass  # no stage measured anything
    sections.append({"title": "1. Distributions over the images", "text": [where, *summary[1:]], "tables": [],
                     "figures": figures})
    ranked = sorted((r for r in rows if r.get("maps", {}).get(name, {}).get("worst_ratio") is not None),
                    key=lambda r: -r["maps"][name]["worst_ratio"])
    worst_rows = []
    for r in ranked[:3]:
        page = r.get("page")
        base = page.rsplit("/", 1)[0] if page else None
        fig = f"{base}/attack-{_slug(name)}.png" if base and (out / base / f"attack-{_slug(name)}.png").is_file() \
            else None
        worst_rows.append([{"text": r["image"], "href": page} if page else r["image"], r["maps"][name]["worst_ratio"],
                           r["maps"][name].get("noise_quotient"), r["maps"][name].get("psnr"),
                           {"text": "figure", "href": fig} if fig else "-"])
    sections.append({"title": f"2. The images where {name} is least stable",
                     "text": [f"The {len(worst_rows)} images with the largest worst-case ratio of {name}; each links "
                              "to its own audit page and its attack figure." if worst_rows
                              else "No image completed the perturbation stage."],
                     "tables": [{"columns": ["image", "worst-case ratio", "/ noise ratio", "PSNR dB", "attack"],
                                 "rows": worst_rows}] if worst_rows else [], "figures": []})
    table = []
    for r in rows:
        link = {"text": r["image"], "href": r["page"]} if r.get("page") else r["image"]
        fails = "; ".join(f"{k}: {v}" for k, v in r.get("failures", {}).items())
        if not r.get("maps"):
            table.append([link, "-", None, None, None, None, None, None, None, fails])
        for m in labels:
            v = r.get("maps", {}).get(m)
            if v is None:
                continue
            table.append([link, m, v.get("psnr"), v.get("ssim"), v.get("worst_ratio"), v.get("noise_quotient"),
                          v.get("contrast"), v.get("truth_contrast"), v.get("converged"), fails])
    table = [[("-" if c is None else c) for c in row] for row in table]
    sections.append({"title": "3. Every image", "text": ["One row per image and map; the image links to its page."],
                     "tables": [{"columns": ["image", "map", "PSNR dB", "SSIM", "worst-case ratio", "/ noise ratio",
                                             "contrast", "truth's change", "converged", "failures"],
                                 "rows": table}], "figures": []})
    record: dict[str, Any] = {"settings": settings, "rows": rows}
    if control is not None:
        if isinstance(control, str):
            sections.append({"title": "4. The positive control", "text": [f"The positive control FAILED: {control}"],
                             "tables": [], "figures": []})
            summary.append(f"The positive control FAILED: {control}")
        else:
            s, rec = positive_control_section(control, out, title="4. The positive control: is the attack able to "
                                                                  "find instability?")
            sections.append(s)
            record["positive_control"] = rec
            summary += [t for t in s["text"] if t.startswith(CONTROL_LABEL)][:1]
    status = []
    for stage in STAGES:
        if stage not in settings["stages"]:
            continue
        if stage == "positive-control":
            ok = control is not None and not isinstance(control, str)
            status.append([stage, "once" if ok else 0, 0 if ok else 1, "" if ok else str(control)])
            continue
        done = sum(stage in r.get("completed", []) for r in rows)
        errors = [f"{r['image']}: {r['failures'][stage]}" for r in rows if stage in r.get("failures", {})]
        status.append([stage, done, len(errors), errors[0] if errors else ""])
    loads = [f"{r['image']}: {r['failures']['load']}" for r in rows if "load" in r.get("failures", {})]
    if loads:
        status.append(["load", len(rows) - len(loads), len(loads), loads[0]])
    sections.append({"title": f"{len(sections) + 1}. Stages",
                     "text": ["Per stage, the images on which it completed and failed, and the first error."],
                     "tables": [{"columns": ["stage", "completed", "failed", "first error"], "rows": status}],
                     "figures": []})
    total = seconds if seconds is not None else 0.0
    results = {"title": f"firenets audit: {name} on {len(rows)} images", "summary": summary, "sections": sections,
               "meta": _meta(total), "record": record}
    write(results, out)
    return results
