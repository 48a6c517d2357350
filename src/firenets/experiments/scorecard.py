"""The scorecard: one row per map, one cell per measure, each a number, a verdict word and a level,
judged by the rules below (defined once here and printed under every scorecard). A page and the
terminal render it (``report``); every number in a cell is the result object's own.

Levels: "pass" (nothing found at these sizes), "warn" (the data leave it open), "fail" (a finding),
"info" (a control or a number without a rule), "none" (not measured on this map).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..stability.faithfulness import VERDICTS
from ..stability.structural import RECOVERED_THRESHOLD
from .control import CONTROL_LABEL
from .maps import REFERENCE, ZERO_FILLED
from .verdicts import UNSTABLE_FACTOR, _median, is_unstable

__all__ = ["LEVELS", "MEASURES", "RULES", "Cell", "Scorecard", "battery_scorecard", "dataset_scorecard",
           "threat_gain"]

LEVELS = ("pass", "warn", "fail", "info", "none")

# measure -> (column heading, the question its section answers)
MEASURES: dict[str, tuple[str, str]] = {
    "accuracy": ("accuracy: PSNR, SSIM", "Is the reconstruction accurate?"),
    "worst_case": ("worst case: ratio, x zero-filling's, local",
                   "Does some small perturbation of the image change the output far more than zero-filling's?"),
    "threat:kspace": ("k-space threat: error at the largest budget",
                      "Does a perturbation of the samples (relative to ||A x||) raise the error to the truth?"),
    "threat:coil": ("per-coil threat: error at the largest budget",
                    "Does a per-coil perturbation of the samples raise the error to the truth?"),
    "threat:full-kspace": ("full k-space threat: error at the largest budget",
                           "Does a perturbation relative to the full k-space raise the error to the truth?"),
    "invented": ("targeted attack: contrast in a small disc",
                 "Can a small perturbation make a map show a detail that is not there?"),
    "invented:kspace": ("targeted attack on the samples: contrast",
                        "Can a small perturbation of the samples make a map show a detail that is not there?"),
    "in_data": ("is the attacked detail in the data?",
                "Do the samples the map was given support the contrast the targeted attack made it show?"),
    "small_detail": ("small detail", "Is a small detail added to the image recovered?"),
    "more_samples": ("more samples", "Do more samples ever make the reconstruction worse?"),
    "generalisation": ("generalisation: worst drop", "Does the map hold up off its images and acquisition?"),
    "positive_control": ("positive control: found / feasible",
                         "Does the attack find an instability that a theorem guarantees?"),
}

RULES: tuple[str, ...] = (
    f"worst case: unstable at these sizes when the largest worst-case ratio ||f(A(x+r)) - f(Ax)|| / ||r|| found on "
    f"the spheres exceeds {UNSTABLE_FACTOR:g} times zero-filling's (exactly 1, an orthogonal projection); the local "
    "value sigma_max of the Jacobian at x is the worst case only as ||r|| -> 0.",
    f"k-space threats: the error to the truth rises by more than {UNSTABLE_FACTOR:g} ||e|| / ||x|| at the largest "
    "budget (zero-filling's rises by at most ||e|| / ||x||, as ||A|| <= 1), so the output moved more than "
    f"{UNSTABLE_FACTOR:g} ||e||.",
    f"targeted attack: a map invents detail when the contrast it gains in the attacked disc exceeds {UNSTABLE_FACTOR:g} "
    "times zero-filling's at the same budget and exceeds the perturbed truth's own change there.",
    "in the data: the certified interval of the disc's mean over every image that fits the map's perturbed samples "
    "and is as sparse as its output; supported when the unattacked level lies outside it, not determined when "
    "inside (the samples do not show the detail), contradicted when the attacked output's own mean lies outside.",
    f"small detail: recovered when at least {RECOVERED_THRESHOLD:g} of the inserted contrast shows in the output.",
    "more samples: a loss when any larger nested mask gives a PSNR lower by more than the stage's tolerance.",
    "accuracy and generalisation: worse than doing nothing when the PSNR falls below zero-filling's on the same "
    "images and acquisition.",
    "positive control: found when the attack on the sphere of the feasible r reaches its ratio (within the "
    "stopping rule's tolerance); a map whose accuracy forces no Lipschitz constant above 1 is not judged.",
    "A search that hit its step cap reports a weaker lower bound: its cell says 'not converged'.",
    "Zero-filling is the control: its cells are shown beside the others and not judged. A NaN fails on every map.",
)


@dataclass(frozen=True)
class Cell:
    """One map's result on one measure: ``text`` the numbers, ``word`` the verdict, ``level`` (``LEVELS``),
    ``value`` the headline number as the result holds it, ``converged`` of the search behind it (None: no
    search), and for a dataset the worst image (its name and page)."""

    text: str
    word: str
    level: str
    value: Any = None
    converged: bool | None = None
    worst: str | None = None
    worst_page: str | None = None

    def summary(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("text", "word", "level", "value", "converged", "worst", "worst_page")}


NONE = Cell("-", "not run", "none")


@dataclass(frozen=True)
class Scorecard:
    """The maps (rows, the user's first), the measures (columns, ``MEASURES``' keys), the cells, and the
    rules; ``over`` names what a cell summarises (one image, or the median and worst over images)."""

    maps: list[str]
    measures: list[str]
    cells: dict[str, dict[str, Cell]]
    over: str
    rules: tuple[str, ...] = RULES
    notes: list[str] = field(default_factory=list)

    def cell(self, label: str, measure: str) -> Cell:
        return self.cells.get(label, {}).get(measure, NONE)

    def heading(self, measure: str) -> str:
        return MEASURES[measure][0]

    def lead(self, measure: str) -> str:
        """The sentence that opens the measure's section: its question, then the maps grouped by verdict."""
        groups: dict[str, list[str]] = {}
        for m in self.maps:
            c = self.cell(m, measure)
            if c.level in ("none",) or c.word == "control":
                continue
            groups.setdefault(c.word + ("" if c.converged in (True, None) else " (not converged)"), []).append(m)
        answer = "; ".join(f"{w}: {', '.join(ms)}" for w, ms in groups.items()) or "no map was measured"
        return f"{MEASURES[measure][1]} {answer[0].upper()}{answer[1:]}."

    def summary(self) -> dict[str, Any]:
        return {"over": self.over, "maps": self.maps, "measures": self.measures,
                "headings": {m: self.heading(m) for m in self.measures},
                "cells": {m: {k: self.cell(m, k).summary() for k in self.measures} for m in self.maps},
                "rules": list(self.rules), "notes": self.notes}


def threat_gain(error: float, unperturbed: float, e_over_x: float) -> float:
    """(||f(Ax + e) - x|| - ||f(Ax) - x||) / ||e||, all relative to ||x||: a lower bound on
    ||f(Ax + e) - f(Ax)|| / ||e|| (the triangle inequality)."""
    return (error - unperturbed) / e_over_x if e_over_x > 0 else 0.0


def _conv(text: str, converged: bool | None) -> str:
    return text if converged in (True, None) else text + "; not converged"


def _accuracy(acc: Any, label: str, key: str) -> Cell:
    per = [(img, m[key], m[ZERO_FILLED]) for img, m in acc.metrics.items() if key in m]
    if not per:
        return NONE
    text = (" / ".join(f"{v['psnr']:.2f}" for _, v, _ in per) + " dB, SSIM "
            + " / ".join(f"{v['ssim']:.3f}" for _, v, _ in per))
    if any(_nan(v["psnr"]) for _, v, _ in per):
        return _not_finite(Cell(text, "", "", per[0][1]["psnr"]))
    if label == ZERO_FILLED:
        return Cell(text, "control", "info", per[0][1]["psnr"])
    judged = [(img, v, z) for img, v, z in per if not _nan(z["psnr"])]  # zero-filling's NaN: not judged there
    if not judged:
        return Cell(text, "no control", "info", per[0][1]["psnr"])
    below = [img for img, v, z in judged if v["psnr"] < z["psnr"]]
    return Cell(text + (f"; below on {', '.join(below)}" if below and len(per) > 1 else ""),
                "below zero-filling" if below else "above zero-filling", "fail" if below else "pass", per[0][1]["psnr"])


def _worst_case(bat: Any, label: str) -> Cell:
    p = bat.perturbation.get(label)
    if p is None:
        return NONE
    local = p.worst.local
    loc = "" if local is None else f"; local {local.sigma:.3g}" + ("" if local.converged else " (not converged)")
    conv = bool(p.worst.converged)
    if _nan(p.max_ratio):
        return _not_finite(Cell(_conv(f"{p.max_ratio}{loc}", conv), "", "", p.max_ratio, conv))
    if label == ZERO_FILLED:
        return Cell(_conv(f"{p.max_ratio:.4g}{loc}", conv), "control", "info", p.max_ratio, conv)
    v = bat.verdicts.get(label)
    if v is None:
        return Cell(_conv(f"{p.max_ratio:.3g}{loc}", conv), "no control", "info", p.max_ratio, conv)
    return Cell(_conv(f"{v.ratio:.3g}, {v.factor:.2f}x{loc}", conv),
                "unstable" if v.unstable else "none found", "fail" if v.unstable else "pass", v.ratio, conv)


def _threat(t: Any, label: str) -> Cell:
    r = t.rows()[-1]
    conv = bool(t.converged)
    text = _conv(f"{r['error']:.2%} from {r['unperturbed']:.2%} (noise {r['noise_error']:.2%})", conv)
    if any(_nan(r[k]) for k in ("error", "unperturbed", "e_over_x")):
        return _not_finite(Cell(text, "", "", r["error"], conv))
    if label == ZERO_FILLED:
        return Cell(text, "control", "info", r["error"], conv)
    gain = threat_gain(r["error"], r["unperturbed"], r["e_over_x"])
    bad = gain > UNSTABLE_FACTOR
    return Cell(f"{text}; rise {gain:.2g} ||e||", "amplified" if bad else "not amplified", "fail" if bad else "pass",
                r["error"], conv)


def _invented(atts: Mapping[str, Any], label: str) -> Cell:
    h = atts.get(label)
    if h is None:
        return NONE
    a, conv = h.best, bool(h.converged)
    x_max = float(h.x.abs().max())
    share = f" ({a.contrast / x_max:.1%} of max)" if x_max > 0 else ""
    text = _conv(f"{a.contrast:.3g}{share}, truth {a.input_contrast:.3g}", conv)
    if _nan(a.contrast) or _nan(a.input_contrast):
        return _not_finite(Cell(text, "", "", a.contrast, conv))
    if label == ZERO_FILLED:
        return Cell(text, "control", "info", a.contrast, conv)
    zf = atts.get(ZERO_FILLED)
    if zf is None or not zf.best.contrast > 0:  # none, zero or NaN: nothing to compare with
        return Cell(text, "no control", "info", a.contrast, conv)
    factor = a.contrast / zf.best.contrast
    bad = factor > UNSTABLE_FACTOR and a.contrast > a.input_contrast
    return Cell(f"{text}; {factor:.2g}x zero-filling's", "invents detail" if bad else "not invented",
                "fail" if bad else "pass", a.contrast, conv)


_REGION_LEVEL = dict(zip(VERDICTS, ("pass", "warn", "fail"), strict=True))


def _in_data(b: Any) -> Cell:
    lo, hi = b.interval
    conv = None if b.converged is None else bool(b.converged)
    if _nan(float(lo)) or _nan(float(hi)):
        return _not_finite(Cell(f"[{lo}, {hi}]", "", "", b.verdict, conv))
    return Cell(_conv(f"[{lo:.3g}, {hi:.3g}], unattacked {b.background:.3g}", conv),
                b.verdict.replace(" by the data", ""), _REGION_LEVEL[b.verdict], b.verdict, conv)


def _small_detail(sc: Any, label: str) -> Cell:
    if _nan(sc.contrast):
        return _not_finite(Cell(f"contrast {sc.contrast}", "", "", sc.contrast))
    return Cell(f"contrast {sc.contrast:.2f}", "recovered" if sc.recovered else "lost",
                "pass" if sc.recovered else "fail", sc.contrast)


def _zero_filled_detail(sc: Any) -> Cell:
    ok = sc.zero_filled_recovered
    if _nan(sc.zero_filled_contrast):
        return _not_finite(Cell(f"contrast {sc.zero_filled_contrast}", "", "", sc.zero_filled_contrast))
    return Cell(f"contrast {sc.zero_filled_contrast:.2f}", "recovered" if ok else "lost", "info",
                sc.zero_filled_contrast)


def _more_samples(ms: Any) -> Cell:
    rs = ms.results
    text = f"PSNR {rs[0]['psnr']:.1f} to {rs[-1]['psnr']:.1f} dB ({rs[0]['rate']:.0%} to {rs[-1]['rate']:.0%})"
    loss = max((d[2] for d in ms.drops), default=0.0)
    if any(_nan(r["psnr"]) for r in rs):
        return _not_finite(Cell(text, "", "", loss))
    return Cell(text, "no loss" if ms.stable else f"loses {loss:.2f} dB", "pass" if ms.stable else "fail", loss)


def _generalisation(gs: Mapping[str, Any], label: str) -> Cell:
    rows = [r for r in gs[label].table() if r["psnr_drop"] is not None]
    if not rows:
        return NONE
    nan = next((r for r in rows if _nan(r["psnr_drop"])), None)
    if nan is not None:
        return _not_finite(Cell(f"NaN ({nan['images']}, {nan['acquisition']})", "", "", nan["psnr_drop"]))
    worst = max(rows, key=lambda r: r["psnr_drop"])
    text = f"{worst['psnr_drop']:.2f} dB ({worst['images']}, {worst['acquisition']})"
    if label == ZERO_FILLED or ZERO_FILLED not in gs:
        return Cell(text, "control" if label == ZERO_FILLED else "no control", "info", worst["psnr_drop"])
    zf = {(r["images"], r["acquisition"]): r["psnr"] for r in gs[ZERO_FILLED].table() if not _nan(r["psnr"])}
    if not zf:
        return Cell(text, "no control", "info", worst["psnr_drop"])
    below = [r for r in gs[label].table() if r["psnr"] < zf.get((r["images"], r["acquisition"]), float("-inf"))]
    return Cell(text + (f"; below on {len(below)} of {len(zf)} sets" if below else ""),
                "below zero-filling" if below else "above zero-filling", "fail" if below else "pass",
                worst["psnr_drop"])


def _positive_control(pc: Any) -> Cell:
    conv = bool(pc.attack_converged)
    text = _conv(f"{pc.attack_ratio:.3g} / {pc.feasible_ratio:.3g}", conv)
    if _nan(pc.attack_ratio) or _nan(pc.feasible_ratio):
        return _not_finite(Cell(text, "", "", pc.attack_ratio, conv))
    if max(pc.bound, pc.bound_difference) <= 1:
        return Cell(text, "nothing forced", "info", pc.attack_ratio, conv)
    return Cell(text, "found" if pc.found else "missed", "pass" if pc.found else "fail", pc.attack_ratio, conv)


def _nan(v: Any) -> bool:
    return isinstance(v, float) and v != v


def _not_finite(cell: Cell) -> Cell:
    """A NaN among a cell's numbers: a failure whatever the rule says of the rest."""
    return Cell(cell.text, "not finite", "fail", cell.value, cell.converged, cell.worst, cell.worst_page)


def _unjudged_control(cell: Cell) -> Cell:
    """Zero-filling is the control: its cells are shown, not judged (a NaN still fails)."""
    if cell.level in ("pass", "warn", "fail") and cell.word != "not finite":
        return Cell(cell.text, cell.word, "info", cell.value, cell.converged, cell.worst, cell.worst_page)
    return cell


def _order(labels: Sequence[str]) -> list[str]:
    """The maps examined first, then the reference FIRENET, zero-filling and the control network."""
    tail = [m for m in (REFERENCE, ZERO_FILLED, CONTROL_LABEL) if m in labels]
    return [m for m in labels if m not in tail] + tail


def battery_scorecard(bat: Any, *, accuracy: Any = None, structural: Any = None, control: Any = None,
                      aliases: Mapping[str, str] | None = None) -> Scorecard:
    """The scorecard of one battery (``stages.BatteryResult``): the stages that ran, per map; the demo's
    accuracy, structural battery and positive control come from its other runs (``accuracy``,
    ``structural``, ``control``), and ``aliases`` names the label a map has there (the demo's FIRENET with
    its defaults for the reference's accuracy)."""
    aliases = dict(aliases or {})
    acc = accuracy if accuracy is not None else bat.accuracy
    struct = structural if structural is not None else bat
    ctrl = control if control is not None else bat.positive_control
    columns: list[tuple[str, Callable[[str], Cell]]] = []
    labels = list(bat.settings["maps"])
    if acc is not None:
        maps_acc = next(iter(acc.metrics.values()))
        columns.append(("accuracy", lambda m: _accuracy(acc, m, aliases.get(m, m)) if aliases.get(m, m) in maps_acc
                        else NONE))
    if bat.perturbation is not None:
        columns.append(("worst_case", lambda m: _worst_case(bat, m)))
    for threat, per in bat.threats.items():
        columns.append((f"threat:{threat}", lambda m, per=per: _threat(per[m], m) if m in per else NONE))
    if bat.hallucination_attack is not None:
        columns.append(("invented", lambda m: _invented(bat.hallucination_attack, m)))
    if bat.kspace_hallucination_attack is not None:
        columns.append(("invented:kspace", lambda m: _invented(bat.kspace_hallucination_attack, m)))
    if bat.faithfulness is not None:
        columns.append(("in_data", lambda m: _in_data(bat.faithfulness[m]) if m in bat.faithfulness else NONE))
    if struct is not None and struct.structural is not None:
        sc = struct.structural
        first = next(iter(sc.values()))
        columns.append(("small_detail", lambda m: _small_detail(sc[m], m) if m in sc else
                        _zero_filled_detail(first) if m == ZERO_FILLED else NONE))
    if bat.more_samples is not None:
        columns.append(("more_samples", lambda m: _more_samples(bat.more_samples[m]) if m in bat.more_samples
                        else NONE))
    if bat.generalisation is not None:
        columns.append(("generalisation", lambda m: _generalisation(bat.generalisation, m) if m in bat.generalisation
                        else NONE))
    if ctrl is not None:
        columns.append(("positive_control", lambda m: _positive_control(ctrl.maps[m]) if m in ctrl.maps else NONE))
        labels += [m for m in ctrl.maps if m not in labels]
    if ZERO_FILLED not in labels:
        labels.append(ZERO_FILLED)
    maps = _order(labels)
    cells = {m: {key: _unjudged_control(build(m)) if m == ZERO_FILLED else build(m) for key, build in columns}
             for m in maps}
    notes = [f"{m}: the accuracy cell is that of {a} in the reconstructions (its own defaults); the other cells "
             f"are {m}'s." for m, a in aliases.items() if m in maps and acc is not None]
    image = bat.settings.get("attacked_image")
    over = f"the image {image}" if image else "one image"
    if acc is not None and list(acc.metrics) != [image]:  # the demo's reconstructions and detail are elsewhere
        over = f"attacks on {image}; accuracy on {' / '.join(acc.metrics)}"
    if struct is not bat and struct is not None and struct.structural is not None:
        over += f"; the small detail in {struct.settings.get('attacked_image')}"
    return Scorecard(maps, [k for k, _ in columns], cells, over, notes=notes)


def dataset_scorecard(res: Any) -> Scorecard:
    """The scorecard of a dataset audit (``dataset.DatasetResult``): per map and measure the median over
    the images and the worst image (linked to its page), the verdict counted over the images."""
    rows = [r for r in res.rows if r.get("maps")]
    labels = res.labels

    def get(r: dict, m: str, *keys: str) -> Any:
        v: Any = r["maps"].get(m, {})
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        return v

    def control(r: dict, *keys: str) -> Any:
        """Zero-filling's number on the same image; None where missing or NaN (nothing to judge against)."""
        v = get(r, ZERO_FILLED, *keys)
        return None if v is None or _nan(v) else v

    def conv_of(m: str, measure: str, ps: list[tuple[Any, dict]], *, attack: bool = True) -> list[bool]:
        out = []
        for _, r in ps:
            by = get(r, m, "converged_by")  # rows of an earlier version hold one flag for every attack
            c = by.get(measure) if isinstance(by, dict) else get(r, m, "converged") if attack else None
            if c is not None:
                out.append(bool(c))
        return out

    def cell(text: str, word: str, level: str, value: Any, row: dict, conv: list[bool]) -> Cell:
        converged = all(conv) if conv else None
        return Cell(_conv(text, converged), word, level, value, converged, row["image"], row.get("page"))

    def counted(m: str, measure: str, keys: tuple[str, ...] | Callable[[dict], Any], fmt: str,
                judge: Callable[[float, dict], bool | str | None], bad: str, good: str, *, worst: Callable = max,
                rank: Callable[[float, dict], Any] | None = None,
                describe: Callable[[float, dict], str] | None = None, unit: str = "", search: bool = True,
                compares: bool = True, unjudged: str = "no control") -> Cell:
        """The median and the worst image (by ``rank``, default the value) of the number at ``keys`` (or
        that a function of the row gives), and the images on which ``judge`` finds something ("nan": a
        NaN among the map's own numbers the rule uses; None: not judged there): "{bad} on k of n", or
        ``good`` formatted with n. A NaN on any image is a failure; zero-filling is the control where the
        rule ``compares`` with it, and otherwise shown unjudged."""
        of = keys if callable(keys) else (lambda r: get(r, m, *keys))
        ps = [(v, r) for r in rows if (v := of(r)) is not None]
        if not ps:
            return NONE
        conv = conv_of(m, measure, ps) if search else []
        judged = [(v, r, "nan" if _nan(v) else judge(v, r)) for v, r in ps]
        nans = [r for _, r, j in judged if j == "nan"]
        fin = [(v, r) for v, r, j in judged if j != "nan"]
        if nans:
            rest = f"; median {_median([v for v, _ in fin]):{fmt}}{unit} on the others" if fin else ""
            return cell(f"NaN on {len(nans)} of {len(ps)}{rest}", f"not finite on {len(nans)}", "fail",
                        float("nan"), nans[0], conv)
        score = rank or (lambda v, r: v)
        v, row = worst(fin, key=lambda t: score(*t))
        text = (f"median {_median([a for a, _ in fin]):{fmt}}{unit}, worst "
                + (describe(v, row) if describe else f"{v:{fmt}}{unit}"))
        if m == ZERO_FILLED and compares:
            return cell(text, "control", "info", v, row, conv)
        verdicts = [bool(j) for _, _, j in judged if j is not None]
        if not verdicts:
            return cell(text, unjudged, "info", v, row, conv)
        k = sum(verdicts)
        return cell(text, f"{bad} on {k} of {len(verdicts)}" if k else good.format(n=len(verdicts)),
                    "info" if m == ZERO_FILLED else "fail" if k else "pass", v, row, conv)

    def threat(m: str, name: str) -> Cell:
        """The error at the largest budget; the worst image is the one whose error rose most per ||e||
        (then the largest error). A row of an earlier version holds the first threat only, as kspace_*."""
        def of(r: dict) -> dict | None:
            t = get(r, m, "threats")
            if isinstance(t, dict):
                return t.get(name)
            if name == (get(r, m, "kspace_threat") or "kspace") and get(r, m, "kspace_error") is not None:
                return {k: get(r, m, f"kspace_{k}") for k in ("error", "unperturbed", "e_over_x")}
            return None

        def gain(v: float, r: dict) -> float | None:
            t = of(r) or {}
            if t.get("unperturbed") is None or t.get("e_over_x") is None:
                return None
            return threat_gain(v, t["unperturbed"], t["e_over_x"])

        def judged(v: float, r: dict) -> bool | str | None:
            g = gain(v, r)
            return None if g is None else "nan" if _nan(g) else g > UNSTABLE_FACTOR

        def rise(v: float, r: dict) -> tuple[float, float]:
            g = gain(v, r)
            return (float("-inf") if g is None else g, v)

        def describe(v: float, r: dict) -> str:
            g = gain(v, r)
            return f"{v:.2%}" + ("" if g is None else f" (rise {g:.2g} ||e||)")

        return counted(m, f"threat:{name}", lambda r: (of(r) or {}).get("error"), ".2%", judged, "amplified",
                       "not amplified on {n}", rank=rise, describe=describe, unjudged="not judged")

    def invented(m: str, measure: str, prefix: str) -> Cell:
        def judge(v: float, r: dict) -> bool | str | None:
            zf, truth = control(r, f"{prefix}contrast"), get(r, m, f"{prefix}truth_contrast")
            if truth is not None and _nan(truth):
                return "nan"
            if not (zf or 0) > 0 or truth is None:
                return None
            return v > UNSTABLE_FACTOR * zf and v > truth

        return counted(m, measure, (f"{prefix}contrast",), ".3g", judge, "invents", "invents on none of {n}")

    def in_data(m: str) -> Cell:
        vs = [(f, r) for r in rows if (f := get(r, m, "faithfulness")) in VERDICTS]
        if not vs:
            return NONE
        counts = {v: sum(f == v for f, _ in vs) for v in VERDICTS}
        worst = next(v for v in reversed(VERDICTS) if counts[v])
        row = next(r for f, r in vs if f == worst)
        text = ", ".join(f"{v.replace(' by the data', '')} {counts[v]}" for v in VERDICTS if counts[v])
        return cell(text + f" of {len(vs)}", worst.replace(" by the data", "") + f" on {counts[worst]}",
                    "info" if m == ZERO_FILLED else _REGION_LEVEL[worst], counts[VERDICTS[2]], row,
                    conv_of(m, "in_data", vs, attack=False))  # rows of an earlier version do not say

    def build(m: str, key: str) -> Cell:
        if key == "accuracy":
            return counted(m, key, ("psnr",), ".2f",
                           lambda v, r: None if control(r, "psnr") is None else v < control(r, "psnr"),
                           "below zero-filling", "above zero-filling on {n}", worst=min, unit=" dB", search=False)
        if key == "worst_case":
            return counted(m, key, ("worst_ratio",), ".3g",
                           lambda v, r: is_unstable(v, control(r, "worst_ratio")) if control(r, "worst_ratio")
                           else None, "unstable", "none found on {n}")
        if key.startswith("threat:"):
            return threat(m, key.split(":", 1)[1])
        if key == "invented":
            return invented(m, key, "")
        if key == "invented:kspace":
            return invented(m, key, "kspace_")
        if key == "in_data":
            return in_data(m)
        if key == "small_detail":
            return counted(m, key, ("detail_contrast",), ".2f",
                           lambda v, r: None if get(r, m, "detail_recovered") is None
                           else not get(r, m, "detail_recovered"), "lost", "recovered on {n}",
                           worst=min, search=False, compares=False)
        if key == "more_samples":
            def lost(v: float, r: dict) -> bool | None:
                return not get(r, m, "samples_stable") if get(r, m, "samples_stable") is not None else None
            return counted(m, key, ("samples_loss",), ".2f", lost, "loses PSNR", "no loss on {n}", unit=" dB",
                           search=False, compares=False)
        if key == "generalisation":
            return counted(m, key, ("generalisation_drop",), ".2f",
                           lambda v, r: None if get(r, m, "generalisation_below") is None
                           else get(r, m, "generalisation_below") > 0,
                           "below zero-filling", "above zero-filling on {n}", unit=" dB", search=False)
        raise AssertionError(key)

    def holds(*keys: str) -> bool:
        return any(get(r, m, *keys) is not None for r in rows for m in labels)

    # every threat of the rows; a row of an earlier version names its first threat in kspace_threat
    threats = list(dict.fromkeys(
        t for r in rows for v in r["maps"].values()
        for t in ((v.get("threats") or {}) if isinstance(v.get("threats"), dict)
                  else [v.get("kspace_threat") or "kspace"] if v.get("kspace_error") is not None else [])))
    measures = [k for k, keys in (("accuracy", ("psnr",)), ("worst_case", ("worst_ratio",)))
                if holds(*keys)]
    measures += [f"threat:{t}" for t in threats]
    measures += [k for k, keys in (("invented", ("contrast",)), ("invented:kspace", ("kspace_contrast",)),
                                   ("in_data", ("faithfulness",)), ("small_detail", ("detail_contrast",)),
                                   ("more_samples", ("samples_loss",)),
                                   ("generalisation", ("generalisation_drop",))) if holds(*keys)]
    cells = {m: {k: build(m, k) for k in measures} for m in labels}
    ctrl = res.control
    maps = list(labels)
    if ctrl is not None and not isinstance(ctrl, str):
        measures.append("positive_control")
        for m, pc in ctrl.maps.items():
            cells.setdefault(m, {})["positive_control"] = _positive_control(pc)
            if m not in maps:
                maps.append(m)
    notes = ["The positive control runs once, not per image."] if "positive_control" in measures else []
    return Scorecard(_order(maps), measures, cells, f"{len(res.rows)} images: median and worst image", notes=notes)
