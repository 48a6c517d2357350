"""Typed sections of a page, each built from a result object: title, text, tables, figures, the JSON
record it contributes to results.json, and the one line it contributes to the page's summary (chosen
here from the section's own subject, never found by searching text). Builders draw their figures into
``out``; nothing here runs an experiment."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .figures import (
    attack_figure,
    faithfulness_figure,
    grid_figure,
    hallucination_attack_figure,
    staircase_figure,
)
from .sentences import (
    THREAT_NAMES,
    control_sentence,
    depth,
    faithfulness_sentence,
    lesion_sentence,
    local_sentence,
    threat_sentence,
    verdict_sentence,
)

__all__ = ["Figure", "Section", "Table", "accuracy_section", "barrier_section", "faithfulness_section", "generalisation_section",
           "hallucination_attack_section",
           "hallucination_section", "perturbation_section", "positive_control_section", "settings_line", "slug",
           "stages_section", "structural_section", "table_section", "threats_section"]


@dataclass
class Table:
    """A table: column names, rows of cells (a cell {"text", "href"} links a file of the run), a caption."""

    columns: list[str]
    rows: list[list[Any]]
    caption: str = ""


@dataclass
class Figure:
    """A PNG file of the run, its caption and the data it was drawn from (written beside it as JSON)."""

    file: str
    caption: str
    data: Any = None


@dataclass
class Section:
    """One section of a page; ``summary`` is its line in the page's summary (None: it has none), ``record``
    what results.json holds for it, ``lead`` the sentence that opens it (its question answered)."""

    title: str
    text: list[str]
    summary: str | None = None
    tables: list[Table] = field(default_factory=list)
    figures: list[Figure] = field(default_factory=list)
    record: Any = None
    lead: str | None = None

    def numbered(self, n: int) -> Section:
        return replace(self, title=f"{n}. {self.title}")

    def as_dict(self) -> dict[str, Any]:
        """The section as ``report.page.render`` takes it."""
        return {"title": self.title, "lead": self.lead or "", "text": list(self.text),
                "tables": [{"caption": t.caption, "columns": t.columns, "rows": t.rows} for t in self.tables],
                "figures": [{"file": f.file, "caption": f.caption, "data": f.data} for f in self.figures]}


def slug(label: str) -> str:
    """A file-name-safe form of a label."""
    return re.sub(r"[^a-z0-9]+", "-", label.lower()).strip("-") or "map"


def settings_line(settings: dict) -> str:
    """The image, acquisition and attack budget every map of a battery got."""
    b = settings["budget"]
    return (f"Image {settings['attacked_image']} ({settings['shape'][0]}x{settings['shape'][1]}), "
            f"{settings['mask']} mask at {settings['rate']:.0%}, seed {settings['seed']}. Every map gets the same "
            f"attack: fixed-norm ascent on the spheres ||r|| = "
            + ", ".join(f"{rho:g}" for rho in b["norms"])
            + f" ||x||, each from {max(b['restarts'], 1)} random direction(s) of both signs (from the second sphere "
            f"on, {b['restarts']} and the previous sphere's best direction), until the best ratio rises by less than a factor 1 + {b['tol']:g} over {b['patience']} steps "
            f"(cap {b['steps']} steps per start); Gaussian noise of the same norms, largest of {b['noise_trials']} "
            "draws, is the control.")


def table_section(result: Any) -> Section:
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
    return Section(
        "The barrier: no method computes the minimiser to K digits", text,
        summary=("every method stays more than 10^-K from the exact minimisers and FIRENET within 10^-(K-1), as "
                 "the theory says." if all(claims.values()) else "a claim of the table failed in this run; see "
                                                                   "section 1."),
        tables=[Table(["K", "n", "LISTA", "FIRENET", "interior point", "LISTA (published)", "FIRENET (published)"],
                      rows, "dist(output, Xi(A, y)); published columns from Colbrook, Antun, Hansen, PNAS 2022")],
        record={"claims": claims, "rows": [r.__dict__ for r in result.rows]},
        lead="Can a method compute the minimisers to K digits from inexact input? "
             + ("No: every method measured stays more than 10^-K from them, and FIRENET comes within 10^-(K-1)."
                if all(claims.values()) else "A claim of the table FAILED in this run: see the claims below."))


def barrier_section(result: Any, out: Path, *, title: str) -> Section:
    """The training-data part of the barrier (``barriers.samples.BarrierResult``): per M the algorithms'
    samples read, worst error over the class and correct digits; the pairs that no algorithm reading
    fewer samples tells apart; the success probabilities; the staircase figure."""
    staircase_figure(out / "barrier.png", result)
    record = result.summary()
    claims = result.claims()
    K, L, R = result.K, result.L, result.R
    rows = [[K, R, M, r.algorithm, r.read, r.worst_error, "exact" if r.digits is None else r.digits]
            for M, rs in result.rows.items() for r in rs]
    coarse = next(iter(result.pairs.values()))
    text = [
        f"A class built for the theorem's training-data parts, certified in rational arithmetic "
        f"(docs/barriers.md): a fine block whose two branches put the minimiser {result.fine_pair.distance:.3g} "
        f"apart (K = {K}) and a coarse block whose branches put it {coarse.distance:.3g} apart, both invisible "
        f"in A read to 2^-n (n up to {max(result.precisions)}); every training sample but the M-th of R = {R} is "
        "the same for both coarse branches, and the M-th reveals it. Worst errors over both branches of both "
        f"blocks and n in {', '.join(map(str, result.precisions))}.",
        *[f"{'Holds' if ok else 'FAILS'}: {name}." for name, ok in claims.items()],
        *[f"Where float64 runs: {r.algorithm}, {r.note}." for rs in result.rows.values() for r in rs if r.note],
    ]
    summary = (f"from at most L = {L} samples the midpoint network gets {K - 2} digits, the network that reads "
               f"up to the revealing sample M gets {K - 1} with M samples, no algorithm that leaves sample M unread "
               f"gets {K - 1} on both members of a certified pair, and none gets {K}"
               if all(claims.values()) else "a claim of the training-data barrier failed in this run; see its section")
    lead = ("How many training samples do K - 1 and K - 2 digits need? "
            + (f"K - 2 = {K - 2} digits need none; K - 1 = {K - 1} need the sample that reveals the branch, the "
               f"M-th (M = {', '.join(map(str, result.rows))} here); K = {K} no algorithm gets."
               if all(claims.values())
               else "A claim FAILED in this run: see the claims below."))
    return Section(title, text, summary,
                   [Table(["K", "R", "M", "algorithm", "samples read", "worst error over the class", "digits"], rows,
                          "worst error over the class: both branches of both blocks, every n; digits: the largest k "
                          "with error <= 10^-k, decided in rational arithmetic for the exact networks")],
                   [Figure("barrier.png", "correct digits against samples read (left); the success probability "
                                          "of reading q samples at random, exact and simulated (right)", record)],
                   record, lead)


def accuracy_section(acc: Any, out: Path, *, title: str, file: str, settings: str,
                     subject: str | None = None) -> Section:
    """Truth, zero-filled and every map's reconstruction per image, error maps (x3), and the metrics;
    the summary line gives ``subject``'s metrics (default: every map's, per image)."""
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
    lines = []
    for img, per in acc.metrics.items():
        best = max(maps, key=lambda m, p=per: p[m]["psnr"])
        lines.append(f"{img}: highest PSNR {per[best]['psnr']:.2f} dB ({best}); "
                     + ", ".join(f"{m} {per[m]['psnr']:.2f}" for m in maps)
                     + f"; zero-filled {per['zero-filled']['psnr']:.2f} dB.")
    for img, per in acc.reference.items():
        lines.append(f"{img} against the file's stored reconstruction on its centre crop (fastMRI's convention): "
                     + ", ".join(f"{m} PSNR {v['psnr']:.2f} dB, SSIM {v['ssim']:.3f}" for m, v in per.items()) + ".")
    summary = " ".join(lines) if subject is None else f"{subject}: " + "; ".join(
        f"PSNR {per[subject]['psnr']:.2f} dB, SSIM {per[subject]['ssim']:.3f} on {img} (zero-filled "
        f"{per['zero-filled']['psnr']:.2f} dB)" for img, per in acc.metrics.items()) + "."
    return Section(title, [settings, *lines], summary,
                   [Table(["image", "method", "PSNR dB", "SSIM", "NMSE", "seconds"], table_rows,
                          "metrics with fastMRI conventions (data range = ground-truth max)")],
                   [Figure(file, "ground truth, zero-filled and each map; error maps x3", acc.summary())],
                   acc.summary())


def perturbation_section(bat: Any, out: Path, *, title: str, subject: str | None = None) -> Section:
    """Per map and sphere: ratio, noise ratio, their quotient, errors to the truth, iterations and
    convergence; the verdicts against zero-filling (``bat.verdicts``); one attack figure per map. The
    summary line is ``subject``'s verdict (default: every verdict)."""
    perts, verdict = bat.perturbation, bat.verdicts
    rows, figures, record = [], [], {}
    for label, p in perts.items():
        for s, c in zip(p.worst.stages, p.noise.stages, strict=True):
            rows.append([label, s.r_rel, s.out_diff / (s.r_norm / s.r_rel), s.ratio, c.ratio, s.ratio / c.ratio,
                         p.error, s.error, s.error_perturbed, s.iteration, bool(s.converged)])
        record[label] = p.summary()
        if label in verdict:
            record[label]["verdict"] = verdict[label].summary()
        file = f"attack-{slug(label)}.png"
        d = depth(p.config)
        attack_figure(out / file, p.worst.x.abs(), p.worst.recon.abs(),
                      [((p.worst.x + s.r).abs(), s.recon.abs(), s.r.abs(), s.summary()) for s in p.worst.stages],
                      method=label + (f" ({d})" if d else ""))
        figures.append(Figure(file, f"{label}: original and perturbed images (top), their reconstructions "
                                    "(middle), the perturbations (bottom)", record[label]))
    sentences = [verdict_sentence(v) for v in verdict.values()]
    local = [(label, p.worst) for label, p in perts.items() if p.worst.local is not None]
    text = [
        settings_line(bat.settings)
        + "".join(f" {m}: {depth(p.config)}, a fixed depth." for m, p in perts.items() if p.config),
        "The ratio ||f(A(x+r)) - f(Ax)|| / ||r|| bounds the local Lipschitz constant from below. Zero-filling "
        "is the negative control: its worst case is exactly 1 (an orthogonal projection), so a map whose "
        "worst case is many times zero-filling's amplifies some perturbation of the samples that much.",
        *sentences,
        *[local_sentence(label, wc) for label, wc in local],
    ]
    summary = " ".join(sentences) if subject is None else (
        verdict_sentence(verdict[subject]) if subject in verdict else None)
    return Section(title, text, summary,
                   [Table(["map", "||r||/||x||", "change/||x||", "worst-case ratio", "noise ratio", "quotient",
                           "error f(Ax)", "error f(A(x+r))", "error to x+r", "iterations", "converged"], rows,
                          "per map and sphere: ||r||/||x||, output change / ||x||, worst-case and noise ratios and "
                          "their quotient, errors to the truth (unperturbed, perturbed, and to x + r) / ||x||, "
                          "iterations of the best start, converged"),
                    *([local_table(local)] if local else [])],
                   figures, {"maps": record, "verdicts": {k: v.summary() for k, v in verdict.items()}})


def local_table(local: list[tuple[str, Any]]) -> Table:
    """Per map: the local worst case sigma_max of the Jacobian at x beside the largest sphere ratio."""
    rows = []
    for label, wc in local:
        lw, top = wc.local, max(wc.stages, key=lambda s: s.ratio)
        rows.append([label, lw.sigma, top.ratio, top.r_rel, lw.residuals[0], lw.products, lw.converged,
                     sum(s.evaluations for s in wc.stages), wc.settings.get("precision", "complex128")])
    return Table(["map", "local worst case sigma_max(J)", "largest sphere ratio", "at ||r||/||x||",
                  "residual / sigma_max^2", "Jacobian products", "converged", "search evaluations", "search in"],
                 rows, "per map: sigma_max of the Jacobian of r -> f(A(x + r)) at r = 0 (the worst-case ratio as "
                       "||r|| -> 0; its top singular vector is the first start of the sphere search), the largest "
                       "ratio the spheres hold, Lanczos' residual and products, the forward and backward passes "
                       "the sphere search took, and its precision (ratios re-evaluated in complex128)")


def threats_section(bat: Any, *, title: str, subject: str | None = None) -> Section:
    """Every map under the k-space threat models of the published studies (``bat.threats``): per threat and
    budget eta, ||e|| relative to ||A x||, ||k|| and ||x||, the worst error to the truth the attack found, the
    Gaussian control's and the unperturbed error; the summary line gives ``subject``'s at each threat's
    largest budget."""
    rows, text, mine = [], [], []
    for threat, per in bat.threats.items():
        for label, t in per.items():
            rows += [[label, threat, r["eta"], r["e_over_y"], r["e_over_k"], r["e_over_x"], r["error"], r["noise_error"],
                      r["unperturbed"], r["iterations"], r["converged"]] for r in t.rows()]
            sentence = threat_sentence(label, t)
            text.append(sentence)
            if label == subject:
                mine.append(sentence)
    b = bat.settings["budget"]
    intro = ("Perturbations of the measured samples, as the published robustness studies of MRI networks make them: "
             + "; ".join(THREAT_NAMES[t] for t in bat.threats) + ". For each budget the attack seeks the largest "
             "error to the truth ||f(A x + e) - x|| (projected Adam from the previous budget's best and at least two "
             "random starts, the best polished by projected normalised-gradient ascent, until the error rises by "
             f"less than a factor 1 + {b['tol']:g} over {b['patience']} steps, "
             f"cap {b['steps']} steps per start); Gaussian e of the same norm is the control. Every budget is given "
             "relative to the samples, to the fully sampled k-space and to the image, so that a row can be set beside "
             "Genzel et al. (0.25 - 2.5% of ||A x||), Morshuis et al. (0.2 - 2.5% per coil) and Darestani et al. (4% "
             "and 8% of ||k||)" + (f"; ||k|| is {bat.settings['full_kspace']}." if "full_kspace" in bat.settings
                                  else "."))
    record = {t: {m: a.summary() for m, a in per.items()} for t, per in bat.threats.items()}
    return Section(title, [intro, *text], " ".join(mine) if subject is not None else " ".join(text),
                   [Table(["map", "threat", "eta", "||e||/||A x||", "||e||/||k||", "||e||/||x||", "error (attack)",
                           "error (noise)", "error (unperturbed)", "iterations", "converged"], rows,
                          "per map, threat and budget: the perturbation's size in the three normalisations, the "
                          "errors to the truth / ||x|| under the attack, under Gaussian noise of that norm and "
                          "unperturbed, iterations of the best start, converged")], [], record)


def hallucination_attack_section(bat: Any, out: Path, *, title: str, subject: str | None = None,
                                 threat: str = "image") -> Section:
    """The targeted attack of every map (its ``best`` size) under ``threat`` (image: ``bat.hallucination_attack``;
    kspace: ``bat.kspace_hallucination_attack``): contrast created in the worst of the screened discs, the
    truth's own change there, the Gaussian control, and a figure of the gains."""
    on_samples = threat == "kspace"
    atts = bat.kspace_hallucination_attack if on_samples else bat.hallucination_attack
    x = next(iter(atts.values())).x
    x_max = float(x.abs().max())
    rows, figs, record, text = [], [], {}, {}
    for label, h in atts.items():
        a = h.best
        record[label] = h.summary()
        c = a.summary()["region_centre"]
        rows.append([label, a.rho_rel, *([a.rho_over_x] if on_samples else []), f"({c[0]:.0f}, {c[1]:.0f})",
                     a.contrast, a.contrast / x_max, a.input_contrast, a.contrast - a.input_contrast, a.noise_contrast,
                     a.iterations, a.converged])
        r_x = a.image_perturbation
        figs.append((label, (x + r_x).abs(), a.recon.abs(), a.recon.abs() - h.recon.abs(), r_x.abs(),
                     {"rho_rel": a.rho_rel, "contrast": a.contrast, "region": a.region, "threat": a.threat}))
        text[label] = lesion_sentence(label, a, x_max)
    file = "hallucination-attack-kspace.png" if on_samples else "hallucination-attack.png"
    hallucination_attack_figure(out / file, figs)
    settings = next(iter(atts.values())).settings
    search = (f"over {settings['regions']} discs on the middle of the image (screened by {settings['screen_steps']} "
              "ascent steps each, the best attacked in full with the battery's stopping rule).")
    if on_samples:
        intro = (f"The targeted attack on the samples seeks, for each map, the perturbation e of the samples of norm at "
                 f"most {rows[0][1]:.2%} of ||A x|| (the largest budget of the k-space threat, as Genzel et al.) that "
                 f"makes the reconstruction brightest inside a small disc: the gain <|f(A x + e)|>_R - <|f(A x)|>_R, "
                 + search + " Beside it, the contrast of x + A^* e, the truth plus the adjoint image of e (for one "
                 "coil the image nearest x whose samples are A x + e; for coils the SENSE-combined image of e). A gain "
                 "far above it is structure the perturbed samples do not show.")
        head = ["map", "||e||/||A x||", "||e||/||x||", "disc", "contrast", "/ max|x|", "x + A^*e's change", "invented",
                "noise", "iterations", "converged"]
        caption = ("per map: ||e|| relative to ||A x|| and to ||x||, the disc's centre (row, column), contrast created, "
                   "as a fraction of max |x|, the change of x + A^* e there, the difference (invented), the Gaussian "
                   "control, iterations, converged")
    else:
        intro = (f"The targeted attack seeks, for each map, the perturbation of norm at most {rows[0][1]:.2%} of ||x|| "
                 "that makes the reconstruction brightest inside a small disc: the gain <|f(A(x+r))|>_R - <|f(Ax)|>_R, "
                 + search + " A gain far above the perturbed truth's own change in the disc is structure the samples "
                 "do not support.")
        head = ["map", "||r||/||x||", "disc", "contrast", "/ max|x|", "truth's change", "invented", "noise",
                "iterations", "converged"]
        caption = ("per map: ||r||/||x||, the disc's centre (row, column), contrast created, as a fraction of "
                   "max |x|, the perturbed truth's change there, the difference (invented), the Gaussian "
                   "control, iterations, converged")
    summary = " ".join(text.values()) if subject is None else text.get(subject)
    what = "x + A^* e, its reconstruction, the output's gain (the disc outlined) and |A^* e|" if on_samples else \
        "x + r, its reconstruction, the output's gain (the disc outlined) and |r|"
    return Section(title, [intro, *text.values()], summary, [Table(head, rows, caption)],
                   [Figure(file, "per map: " + what, record)], record)


def faithfulness_section(bat: Any, out: Path, *, title: str, subject: str | None = None) -> Section:
    """Is the targeted attack's invented contrast in the data? Per map (``bat.faithfulness``, the
    ``stability.RegionBounds`` of its attacked disc): the output's mean there, the unattacked output's,
    the certified interval the perturbed samples and the prior allow, the verdict; a figure per map."""
    rows, figs, record, text = [], [], {}, {}
    for label, b in bat.faithfulness.items():
        record[label] = b.summary()
        rows_, cols_ = torch.nonzero(b.region, as_tuple=True)
        centre = f"({float(rows_.double().mean()):.0f}, {float(cols_.double().mean()):.0f})"
        lo, hi = b.interval
        rows.append([label, centre, b.value, b.background, lo, hi, b.verdict, b.converged, b.seconds])
        file = f"faithfulness-{slug(label)}.png"
        faithfulness_figure(out / file, bat.hallucination_attack[label].best.recon.abs(), b,
                            title=f"{label}: attacked output")
        figs.append(Figure(file, f"{label}: the attacked output and its disc; the interval beside the output's mean "
                                 "and the unattacked mean; z_- and z_+ around the disc", record[label]))
        text[label] = faithfulness_sentence(label, b)
    first = next(iter(bat.faithfulness.values()))
    intro = ("Is the contrast the targeted attack made a map show supported by the samples the map was given? For "
             f"each map's attacked disc, the certified interval of the disc's mean of {first.measure} over every image "
             "that fits "
             f"those samples within eta ({first.eta_source}) and is as sparse as the attacked output (prior "
             f"{first.prior}, slack {first.slack:g}: each bound of the prior is 1 + slack times the output's own "
             "value). Supported: the unattacked level lies outside the interval, so the samples rule the disc's "
             "change in; not determined: inside, the samples allow the disc at its unattacked level; contradicted: "
             "the attacked output's own mean lies outside, no image as sparse that fits the samples has it. Each end "
             "is a dual bound, valid however early its solver stopped (docs/faithfulness.md)."
             + (" The images are complex, so the bounds are on the mean modulus: its lower end is exact (a convex "
                "minimum), its upper end the modulus's concave envelope over the prior's box, a valid bound that can "
                "be far above the maximum where the box reaches below 0 or far off the real axis "
                "(docs/faithfulness.md)." if first.quantity == "modulus" else ""))
    head = ["map", "disc", "attacked mean", "unattacked mean", "allowed from", "allowed to", "verdict", "converged",
            "seconds"]
    caption = (f"per map: the disc's centre (row, column), the attacked and unattacked outputs' means of {first.measure} "
               "on it, the certified interval, the verdict, whether both solves met their stopping rule, seconds")
    summary = " ".join(text.values()) if subject is None else text.get(subject)
    return Section(title, [intro, *text.values()], summary, [Table(head, rows, caption)], figs, record)


def structural_section(bat: Any, out: Path, *, title: str, detail: str, subject: str | None = None) -> Section:
    """Whether each map recovers the inserted detail: the contrast, full image and a zoom."""
    struct = bat.structural
    xd, support = bat.detail
    record = {m: sc.summary() for m, sc in struct.items()}
    panels = [("with detail", xd.abs() if xd.is_complex() else xd)] + [(f"{m}: contrast {sc.contrast:.2f}", sc.recon.abs())
                                            for m, sc in struct.items()]
    rows_, cols = torch.nonzero(support, as_tuple=True)
    r0, r1 = int(rows_.min()) - 12, int(rows_.max()) + 12
    c0, c1 = int(cols.min()) - 12, int(cols.max()) + 12
    crop = [(t, img[max(r0, 0):r1, max(c0, 0):c1]) for t, img in panels]
    grid_figure(out / "structural.png", [("full image", panels), ("zoom on the detail", crop)])
    zf = next(iter(struct.values())).zero_filled_contrast
    lines = {m: f"{m}: contrast {sc.contrast:.2f} ({'recovered' if sc.recovered else 'lost'})."
             for m, sc in struct.items()}
    text = [
        f"{detail} is added to the image before sampling. The recovered contrast is the mean over the detail "
        "of |f(A x_d)| - |f(A x)| divided by the inserted contrast (1: fully visible, 0: invisible); at least "
        "0.5 counts as recovered.",
        *lines.values(),
        *([] if "zero-filled" in struct else [f"Zero-filling keeps {zf:.2f} of it."]),
    ]
    summary = " ".join(text[1:]) if subject is None else lines.get(subject)
    return Section(title, text, summary, [],
                   [Figure("structural.png", "reconstructions of the image with the detail, and a zoom", record)],
                   record if "zero-filled" in record else {**record, "zero-filled": {"contrast": zf}})


def samples_lines(bat: Any) -> dict[str, str]:
    """Per map: whether more samples ever cost more than the tolerance, with the PSNRs."""
    out = {}
    for m, v in bat.more_samples.items():
        rates = ", ".join(f"{r['rate']:.0%}" for r in v.summary()["results"])
        psnrs = ", ".join(f"{r['psnr']:.1f}" for r in v.summary()["results"])
        out[m] = (f"{m}: more samples {'never cost' if v.stable else 'COST'} more than {v.tolerance_db:g} dB (PSNR "
                  f"{psnrs} dB at {rates}).")
    return out


def structural_and_samples_section(bat: Any, out: Path, *, title: str, subject: str) -> Section:
    """The small detail (``structural_section``) and the more-samples sweep in one section."""
    text, record, figures, mine = [], {}, [], []
    if bat.structural is not None:
        s = structural_section(bat, out, title="", detail="A small ellipse", subject=subject)
        record["structural"] = s.record
        text += s.text[1:]
        figures = s.figures
        mine += [s.summary] if s.summary else []
    if bat.more_samples is not None:
        record["more_samples"] = {m: v.summary() for m, v in bat.more_samples.items()}
        lines = samples_lines(bat)
        text += list(lines.values())
        mine += [lines[subject]] if subject in lines else []
    return Section(title, text, " ".join(mine) or None, [], figures, record)


def generalisation_section(bat: Any, *, title: str, subject: str | None = None) -> Section:
    """Mean PSNR per image set and acquisition, and the drop from the given images and acquisition; the
    summary line is ``subject``'s largest drop."""
    rows = [[m, r["images"], r["acquisition"], r["psnr"], r["psnr_drop"]]
            for m, g in bat.generalisation.items() for r in g.table()]
    summary = None
    mine = [r for r in rows if r[0] == subject and r[4] is not None]
    if mine:
        worst = max(mine, key=lambda r: r[4])
        summary = (f"{subject}: the largest PSNR drop off the given images and acquisition is {worst[4]:.2f} dB "
                   f"({worst[1]}, {worst[2]}: {worst[3]:.2f} dB).")
    return Section(title, ["Mean PSNR per image set and acquisition; drop from the given images at the given mask "
                           "and rate."], summary,
                   [Table(["method", "images", "acquisition", "PSNR dB", "drop dB"], rows)], [],
                   {m: g.summary() for m, g in bat.generalisation.items()})


def hallucination_section(bat: Any, out: Path, *, title: str, subject: str | None = None) -> Section:
    """Error, measurement-space and null-space maps of every map, each on its own scale."""
    maps = bat.hallucination
    record = {m: h.summary() for m, h in maps.items()}
    rows = [(m, [("error |f^ - x|", h.error), ("measurement space", h.measurement), ("null space", h.null)])
            for m, h in maps.items()]
    grid_figure(out / "hallucination.png", rows, shared_scale=False, cmap="inferno", colorbar=True)
    lines = {m: f"{m}: relative error {r['relative_error']:.3f}, measurement-space {r['relative_measurement']:.3f}, "
                f"null-space {r['relative_null']:.3f}." for m, r in record.items()}
    text = [
        "Following Bhadra et al. (IEEE TMI 2021): the measurement-space map |A^*A f^ - A^*y| shows where the "
        "reconstruction disagrees with the data it was given; the null-space map |(f^)_null - x_null| shows "
        "what it invented in the part of the image the samples do not see (each map on its own scale).",
        *lines.values(),
    ]
    summary = " ".join(lines.values()) if subject is None else lines.get(subject)
    # zero-filling puts nothing in the null space: its null-space error is ||P_null x||, the reference
    ranked = sorted((m for m in record if m != "zero-filled"), key=lambda m: record[m]["relative_null"])
    lead = ("What did each map put where the samples see nothing? " + (
        f"The most, a null-space error of {record[ranked[-1]]['relative_null']:.3g} of ||x||: {ranked[-1]}; the least, "
        f"{record[ranked[0]]['relative_null']:.3g}: {ranked[0]}" if ranked else "No map but zero-filling was drawn")
        + (f" (zero-filling, which adds nothing there, {record['zero-filled']['relative_null']:.3g})."
           if "zero-filled" in record else "."))
    return Section(title, text, summary, [],
                   [Figure("hallucination.png", "rows: " + ", ".join(maps) + "; columns: error, measurement-space, "
                                                "null-space maps", record)], record, lead)


def positive_control_section(ctrl: Any, out: Path, *, title: str) -> Section:
    """The positive control (``experiments.control.ControlResult``): per map its errors on the pair, the
    bounds, the ratio at the feasible r, the attack's ratio, and the lesion made to appear and vanish; the
    summary line is the control network's (the first map)."""
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
    sentences = [control_sentence(k, v) for k, v in ctrl.maps.items()]
    tables = [Table(["map", "error x", "error x'", "bound", "bound (difference)", "ratio at r", "attack ratio",
                     "found", "converged", "||r||/||x||", "appears", "vanishes"], rows,
                    "per map: errors ||f(Ax) - x|| and ||f(Ax') - x'||, the bound with eta the larger error, the "
                    "bound with the errors' difference, the ratio at r = A^*A(x' - x), the attack's ratio on "
                    "that sphere, whether it reached the ratio at r, converged, ||r||/||x||, the lesion "
                    "contrast r creates in x and -r removes from x'")]
    bounds = getattr(ctrl, "faithfulness", None)
    if bounds:
        first = next(iter(bounds.values()))
        sentences.append("Is the lesion a map shows from A(x + r) in those samples? The certified interval of the "
                         f"disc's mean of {first.measure} over every image with exactly those samples (eta 0) and as "
                         "sparse as "
                         f"the map's output (prior {first.prior}, slack {first.slack:g}; docs/faithfulness.md), "
                         "beside the map's mean there and its mean from A x.")
        sentences += [faithfulness_sentence(k, b, where="the lesion's disc", before="from A x (no lesion)",
                                            samples="the samples A(x + r)") for k, b in bounds.items()]
        tables.append(Table(["map", "mean from A(x + r)", "mean from A x", "allowed from", "allowed to", "verdict",
                             "converged", "seconds"],
                            [[k, b.value, b.background, *b.interval, b.verdict, b.converged, b.seconds]
                             for k, b in bounds.items()],
                            f"per map, on the lesion's disc: its output's mean of {first.measure} from A(x + r) and "
                            "from A x, the interval the samples A(x + r) and the prior allow, the verdict, whether both solves met "
                            "their stopping rule, seconds"))
    return Section(title, [intro, *sentences], sentences[0], tables,
                   [Figure("positive-control.png", "the pair and the lesion (top); per map its reconstructions of x, "
                                                   "x + r, x' and x' - r", ctrl.summary())], ctrl.summary())


def stages_section(bat: Any, *, title: str, failures: dict[str, str] | None = None) -> Section:
    """Which stages of a battery run completed, failed (with the error; ``failures``: the run's, default
    ``bat.failures``) or were not asked for (``bat.STAGES``)."""
    failures = bat.failures if failures is None else failures
    rows = []
    for stage in bat.STAGES:
        if stage in failures:
            rows.append([stage, "FAILED", bat.seconds.get(stage, 0.0), failures[stage]])
        elif stage in bat.seconds:
            rows.append([stage, "completed", bat.seconds[stage], ""])
        else:
            rows.append([stage, "not run", "-", ""])
    rows += [[part, "FAILED", "-", error] for part, error in failures.items() if part not in bat.STAGES]
    failed = list(failures)
    done = bat.completed_besides(failures)
    status = (f"{len(done)} of {len(bat.settings['stages'])} stages asked for completed"
              + (f"; {len(failed)} failed: {', '.join(failed)} (the error of each is below; the other stages ran)."
                 if failed else "."))
    text: list[str] = []  # the status is the lead
    for stage, per in getattr(bat, "map_seconds", {}).items():
        if per:
            text.append(f"{stage}, seconds per map: " + ", ".join(f"{m} {t:.1f}" for m, t in per.items()) + ".")
    return Section(title, text, status, [Table(["stage", "status", "seconds", "error"], rows)], lead=status)
