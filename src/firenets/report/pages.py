"""The demo, audit and dataset pages, rendered from the experiments' result objects (``experiments``):
typed sections (``report.sections``), a summary made of each section's own line, ``index.html`` last.

Nothing here runs an experiment: every number and every sentence that states one is computed from the
result objects given, and the figures are drawn from their images.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from .. import __version__
from ..barriers import table
from ..nets.mri import REFERENCE_FIRENET
from .figures import box_figure
from .page import write
from .scorecard import scorecard_record, scorecard_text
from .sections import (
    Figure,
    Section,
    Table,
    accuracy_section,
    barrier_section,
    faithfulness_section,
    generalisation_section,
    hallucination_attack_section,
    hallucination_section,
    perturbation_section,
    positive_control_section,
    slug,
    stages_section,
    structural_and_samples_section,
    structural_section,
    table_section,
    threats_section,
)
from .sentences import dataset_sentence, depth

__all__ = ["TITLE", "Page", "audit_page", "dataset_page", "demo_page"]

TITLE = "firenets: can this network be trusted to reconstruct an image?"


@dataclass(frozen=True)
class Page:
    """A written page: its path, the summary lines, the record in results.json, the sections that could
    not be drawn (section -> error; the run's own results are left as they were), the scorecard as plain
    text, and one line per section naming the file to open."""

    path: Path
    summary: list[str]
    record: dict[str, Any]
    failures: dict[str, str] = field(default_factory=dict)
    scorecard: str = ""
    contents: list[str] = field(default_factory=list)
    status: list[str] = field(default_factory=list)

    def terminal(self) -> list[str]:
        """What a command prints: the scorecard and the run's status (what completed, what failed), then
        the sections with the files to open; without a scorecard, the summary."""
        return ([self.scorecard, "", *self.status] if self.scorecard else self.summary) + self.contents


def _directory(out: str | Path) -> Path:
    """The page's directory, made if missing (its figures go there first, ``index.html`` last)."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ValueError(f"out {out} exists and is not a directory")
    out.mkdir(parents=True, exist_ok=True)
    return out


def _meta(seconds: float) -> dict:
    return {"firenets": __version__, "torch": str(torch.__version__), "seconds": round(seconds, 1)}


def _write(title: str, sections: list[Section], out: Path, *, summary: list[str], record: dict[str, Any],
           total: float, failures: dict[str, str] | None = None, card: Any = None,
           measures: list[list[str]] | None = None, status: list[str] | None = None, **extra: Any) -> Page:
    """Write the page: with a scorecard (``card``, ``experiments.scorecard.Scorecard``), each section that
    shows measures (``measures``, aligned with ``sections``) opens with their lead sentences and the
    scorecard's cells link to it."""
    anchors: dict[str, str] = {}
    if card is not None:
        measures = measures or [[] for _ in sections]
        for i, (s, keys) in enumerate(zip(sections, measures, strict=True)):
            shown = [k for k in keys if k in card.measures]
            anchors.update({k: f"#s{i}" for k in shown})
            if shown:
                sections[i] = replace(s, lead=" ".join(card.lead(k) for k in shown))
    results = {"title": title, "summary": summary, "sections": [s.as_dict() for s in sections],
               "meta": _meta(total), "record": record, **extra}
    card_record = None
    if card is not None:
        card_record = scorecard_record(card, anchors)
        card_record["notes"] += list(status or [])  # what completed and what failed, under the rules
        results["scorecard"] = card_record
    path = write(results, out)
    contents = []
    for i, s in enumerate(sections):  # one line of at most 100 columns per section: its title, the file to open
        target = f"{path.name}#s{i}" + (f", {s.figures[0].file}" if s.figures else "")
        contents.append(f"{textwrap.shorten(s.title, max(20, 98 - len(target)), placeholder=' ...')}: {target}")
    return Page(path, summary, record, dict(failures or {}),
                scorecard_text(card_record) if card_record else "", contents, list(status or []))


def _judged(card: Any) -> tuple[Any, dict[str, str]]:
    """(the scorecard, failures): ``card`` itself, or what the callable ``card`` returns, judged here so
    that a scorecard that fails costs its table, not the page (its error in the failures)."""
    if not callable(card):
        return card, {}
    try:
        return card(), {}
    except Exception as exc:
        return None, {"scorecard": f"judging the scorecard: {type(exc).__name__}: {exc}"}


def demo_page(result: Any, out: str | Path, *, seconds: float | None = None, card: Any = None) -> Page:
    """Write the demo page (``experiments.demo.DemoResult``) into ``out``: the scorecard (``card``) first,
    figures, JSON, the table's files in ``out/table``, ``index.html`` last."""
    out = _directory(out)
    table.write(result.table, out / "table")
    bat, struct = result.battery, result.structural
    barrier = getattr(result, "barrier", None)
    sections = [
        table_section(result.table),
        *([barrier_section(barrier, out, title="The rest of the barrier: how many training samples K - 1 and "
                                              "K - 2 digits need")] if barrier is not None else []),
        accuracy_section(result.reconstructions, out, title="Reconstructions", file="reconstructions.png",
                         settings="k-space is sampled at 25% with a Gaussian variable-density mask (seed 0); the "
                                  "networks were trained on random-ellipse phantoms at 128x128 with that mask and "
                                  "rate, and are applied here at 256x256. FIRENET is computed from the sampling "
                                  "operator, not trained; here with its defaults (depth chosen by its stopping "
                                  "rules); the section on worst-case perturbations attacks the fixed-depth reference FIRENET."),
        perturbation_section(bat, out, title="Worst-case perturbations"),
        hallucination_attack_section(bat, out, title="Targeted hallucination attack"),
        faithfulness_section(bat, out, title="Is the attacked detail in the data? Region bounds"),
        structural_section(struct, out, title="A small structural change",
                           detail="The text 'CAN U SEE IT' (intensity +0.15)"),
        hallucination_section(bat, out, title="Hallucination maps"),
    ]
    keys = ["table", *(["barrier"] if barrier is not None else []), "reconstruction", "perturbation",
            "hallucination_attack", "faithfulness", "structural", "hallucination"]
    if result.control is not None:
        sections.append(positive_control_section(result.control.positive_control, out,
                                                 title="The positive control: a network unstable by theorem"))
        keys.append("positive_control")
    sections = [s.numbered(i) for i, s in enumerate(sections, start=1)]
    heads = ["The barrier", *(["Training samples"] if barrier is not None else []), "Reconstructions",
             "Perturbations", "Targeted hallucinations", "In the data?", "Small detail", "Hallucination maps",
             "Positive control"]
    # the demo's summary: every measured line of each section (the positive control's: of every map)
    b = 1 if barrier is not None else 0
    lines = [sections[0].summary, *([sections[1].summary] if b else []), " ".join(sections[1 + b].text[1:]),
             " ".join(sections[2 + b].text[2:]), *[" ".join(s.text[1:]) for s in sections[3 + b:]]]
    summary = [f"{i}. {h}: {t}" for i, (h, t) in enumerate(zip(heads, lines, strict=False), start=1)]
    total = seconds if seconds is not None else sum(result.seconds.values())
    shown = {"reconstruction": ["accuracy"], "perturbation": ["worst_case"], "hallucination_attack": ["invented"],
             "faithfulness": ["in_data"], "structural": ["small_detail"], "positive_control": ["positive_control"]}
    return _write(TITLE, sections, out, summary=summary, record={k: s.record for k, s in zip(keys, sections, strict=True)},
                  total=total, card=card, measures=[shown.get(k, []) for k in keys], seconds=result.seconds)


def audit_page(bat: Any, out: str | Path, *, seconds: float | None = None, card: Any = None) -> Page:
    """Write the audit page of an ``experiments.audit.AuditResult`` (its ``subject`` the user's map): the
    scorecard (``card``, or a callable returning it: if that raises, the page is drawn without it and
    the error is named among the failures) first, a section per stage that ran, the stages' status (a stage that failed, or whose section could not be
    drawn, is named with its error), ``index.html`` last."""
    out = _directory(out)
    st, name = bat.settings, bat.subject
    card, drawn = _judged(card)
    complex_images = st.get("complex_images", [])
    magnitudes = [n for n in st["images"] if n not in complex_images]
    where = (f"{st['mask']} mask at {st['rate']:.0%}, seed {st['seed']}"
             + (f", noise {st['noise']:g} per sample" if st.get("noise") else "")
             + f"; the reference FIRENET ({depth(REFERENCE_FIRENET)}, a fixed depth) beside it, zero-filling as the "
               "control."
             + (f" Complex images, sampled and attacked with their phase: {', '.join(complex_images)}."
                if complex_images else "")
             + (f" Magnitude images (the source holds no phase): {', '.join(magnitudes)}." if magnitudes else "")
             + (f" {st['coils']} receive coils: every stage samples y_c = P_M F (S_c x) through SENSE with "
                f"{st.get('coil_maps', 'given')} maps normalised to sum_c |S_c|^2 = 1 on the object; the truth is the "
                "complex coil-combined image, zero-filling the coil-combined adjoint A^* y and the reference FIRENET "
                "the SENSE FIRENET"
                + (f"; {', '.join(st['measured_kspace'])} sampled from the file's own k-space in the accuracy stage"
                   if st.get("measured_kspace") else "")
                + ". The positive control is single-coil: its network and the bound it must exceed are."
                if st.get("coils") else ""))
    builders: list[tuple[str, str | None, str, Callable[[str], Section]]] = []
    if bat.accuracy is not None:
        builders.append(("accuracy", "accuracy", "Accuracy", lambda t: accuracy_section(
            bat.accuracy, out, title=t, file="accuracy.png", settings=f"{name} on the given images: " + where,
            subject=name)))
    if bat.perturbation is not None:
        builders.append(("perturbation", "perturbation", "Worst-case perturbations",
                         lambda t: perturbation_section(bat, out, title=t, subject=name)))
    if bat.threats:
        builders.append(("perturbation", "threats", "Perturbations of the samples: the published threat models",
                         lambda t: threats_section(bat, title=t, subject=name)))
    if bat.hallucination_attack is not None:
        builders.append(("hallucination-attack", "hallucination_attack", "Targeted hallucination attack",
                         lambda t: hallucination_attack_section(bat, out, title=t, subject=name)))
    if bat.kspace_hallucination_attack is not None:
        builders.append(("hallucination-attack", "kspace_hallucination_attack",
                         "Targeted hallucination attack on the samples",
                         lambda t: hallucination_attack_section(bat, out, title=t, subject=name, threat="kspace")))
    if bat.faithfulness is not None:
        builders.append(("hallucination-attack", "faithfulness", "Is the attacked detail in the data? Region bounds",
                         lambda t: faithfulness_section(bat, out, title=t, subject=name)))
    if bat.structural is not None or bat.more_samples is not None:
        builders.append(("structural" if bat.structural is not None else "more-samples", None,
                         "Small structural change and more samples",
                         lambda t: structural_and_samples_section(bat, out, title=t, subject=name)))
    if bat.generalisation is not None:
        builders.append(("generalisation", "generalisation", "Generalisation",
                         lambda t: generalisation_section(bat, title=t, subject=name)))
    if bat.hallucination is not None:
        builders.append(("hallucination", "hallucination", "Hallucination maps",
                         lambda t: hallucination_section(bat, out, title=t, subject=name)))
    if bat.positive_control is not None:
        builders.append(("positive-control", "positive_control",
                         "The positive control: is the attack able to find instability?",
                         lambda t: positive_control_section(bat.positive_control, out, title=t)))
    sections: list[Section] = []
    record: dict[str, Any] = {"settings": st}
    shown = {"accuracy": ["accuracy"], "perturbation": ["worst_case"],
             "threats": [f"threat:{t}" for t in bat.threats], "hallucination_attack": ["invented"],
             "kspace_hallucination_attack": ["invented:kspace"], "faithfulness": ["in_data"],
             None: ["small_detail", "more_samples"], "generalisation": ["generalisation"],
             "positive_control": ["positive_control"]}
    measures: list[list[str]] = []
    for stage, key, title, build in builders:
        try:
            s = build(f"{len(sections) + 1}. {title}")
        except Exception as exc:  # a section that cannot be drawn is reported like a failed stage
            drawn[stage] = f"drawing the page section: {type(exc).__name__}: {exc}"
            continue
        sections.append(s)
        measures.append(shown.get(key, []))
        record.update({key: s.record} if key is not None else s.record)
    failures = {**drawn, **bat.failures}  # the run's own error first where a stage has both
    status = stages_section(bat, title=f"{len(sections) + 1}. Stages", failures=failures)
    sections.append(status)
    measures.append([])
    record.update(completed=bat.completed_besides(failures), failures=failures, map_seconds=bat.map_seconds)
    summary = [s.summary for s in sections if s.summary]
    total = seconds if seconds is not None else sum(bat.seconds.values())
    return _write(f"firenets audit: {name}", sections, out, summary=summary, record=record, total=total,
                  failures=drawn, card=card, measures=measures, status=[status.summary], seconds=bat.seconds)


DATASET_PANELS = (("psnr", "PSNR (dB)"), ("worst_ratio", "worst-case ratio"),
                  ("noise_quotient", "worst-case / noise ratio"), ("contrast", "hallucination contrast"))


def _every_image_columns(rows: list[dict], labels: list[str]) -> list[tuple[str, Any]]:
    """(heading, the cell from a map's row) for every number some row holds: accuracy, the worst case,
    each k-space threat, the targeted attacks, the region bounds, the small detail, more samples,
    generalisation, and which searches did not converge."""
    held = [v for r in rows for v in r.get("maps", {}).values()]
    threats = list(dict.fromkeys(t for v in held for t in (v.get("threats") or (
        [v.get("kspace_threat") or "kspace"] if v.get("kspace_error") is not None else []))))

    def key(k: str) -> Any:
        return lambda v: v.get(k)

    def threat_error(t: str) -> Any:  # a row of an earlier version holds its first threat as kspace_*
        return lambda v: (v["threats"].get(t, {}).get("error") if isinstance(v.get("threats"), dict)
                          else v.get("kspace_error") if (v.get("kspace_threat") or "kspace") == t else None)

    columns: list[tuple[str, Any]] = [(h, key(k)) for h, k in (
        ("PSNR dB", "psnr"), ("SSIM", "ssim"), ("worst-case ratio", "worst_ratio"),
        ("local sigma_max(J)", "local_ratio"), ("/ noise ratio", "noise_quotient"))]
    columns += [(f"error under {t}", threat_error(t)) for t in threats]
    columns += [(h, key(k)) for h, k in (
        ("contrast", "contrast"), ("truth's change", "truth_contrast"), ("k-space contrast", "kspace_contrast"),
        ("in the data?", "faithfulness"), ("small detail", "detail_contrast"), ("more samples: loss dB", "samples_loss"),
        ("generalisation: drop dB", "generalisation_drop"))]

    def converged(v: dict) -> Any:
        by = v.get("converged_by")
        if not isinstance(by, dict):
            return v.get("converged")
        missed = [k for k, c in by.items() if not c]
        return "yes" if not missed else "not: " + ", ".join(missed)

    columns.append(("converged", converged))
    return [(h, get) for h, get in columns if h == "converged" or any(get(v) is not None for v in held)]


def dataset_page(res: Any, out: str | Path, *, card: Any = None) -> Page:
    """Write the page of a dataset audit (``experiments.dataset.DatasetResult``) into ``out``: the scorecard
    over the images (``card``, or a callable returning it: if that raises, the page is drawn without it and
    says so) first, per-map sentences, box plots, the worst images linked to their pages and figures, a row per image and map,
    the positive control, the stages' status; ``index.html`` last."""
    out = _directory(out)
    rows, name, settings, control = res.rows, res.subject, res.settings, res.control
    card, drawn = _judged(card)
    labels = res.labels
    failed = res.failed
    where = (f"{settings['mask']} mask at {settings['rate']:.0%}, seed {settings['seed']}"
             + (f", noise {settings['noise']:g}" if settings.get("noise") else "")
             + f"; model in {settings['dtype']}; the reference FIRENET ({depth(REFERENCE_FIRENET)}) beside it, "
             "zero-filling as the control; every image gets the same budget "
             f"(sizes {', '.join(f'{v:.0%}' for v in settings['budget']['norms'])} of ||x||, at most "
             f"{settings['budget']['steps']} steps per start, tol {settings['budget']['tol']:g} over "
             f"{settings['budget']['patience']} steps)" + (f"; {res.ranks} processes" if res.ranks > 1 else "") + ".")
    summary = [f"{len(rows)} images audited" + (f"; {len(failed)} with a failed stage or an unreadable file "
                                                f"({', '.join(failed[:5])}" + (", ..." if len(failed) > 5 else "")
                                                + ")." if failed else ".")]
    summary += [f"The page's {k} FAILED: {v}" for k, v in drawn.items()]
    stats = res.maps
    summary += [dataset_sentence(stats[m]) for m in labels]
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
    sections.append(Section("1. Distributions over the images", [where, *summary[1:]],
                            figures=[Figure(f["file"], f["caption"], f["data"]) for f in figures]))
    ranked = sorted((r for r in rows if r.get("maps", {}).get(name, {}).get("worst_ratio") is not None),
                    key=lambda r: -r["maps"][name]["worst_ratio"])
    worst_rows = []
    for r in ranked[:3]:
        page = r.get("page")
        base = page.rsplit("/", 1)[0] if page else None
        fig = f"{base}/attack-{slug(name)}.png" if base and (out / base / f"attack-{slug(name)}.png").is_file() \
            else None
        worst_rows.append([{"text": r["image"], "href": page} if page else r["image"], r["maps"][name]["worst_ratio"],
                           r["maps"][name].get("noise_quotient"), r["maps"][name].get("psnr"),
                           {"text": "figure", "href": fig} if fig else "-"])
    sections.append(Section(
        f"2. The images where {name} is least stable",
        [f"The {len(worst_rows)} images with the largest worst-case ratio of {name}; each links to its own audit "
         "page and its attack figure." if worst_rows else "No image completed the perturbation stage."],
        tables=[Table(["image", "worst-case ratio", "/ noise ratio", "PSNR dB", "attack"], worst_rows)]
        if worst_rows else []))
    columns = _every_image_columns(rows, labels)
    every = []
    for r in rows:
        link = {"text": r["image"], "href": r["page"]} if r.get("page") else r["image"]
        fails = "; ".join(f"{k}: {v}" for k, v in r.get("failures", {}).items())
        if not r.get("maps"):
            every.append([link, "-", *(None for _ in columns), fails])
        for m in labels:
            v = r.get("maps", {}).get(m)
            if v is not None:
                every.append([link, m, *(get(v) for _, get in columns), fails])
    every = [[("-" if c is None else c) for c in row] for row in every]
    sections.append(Section("3. Every image", ["One row per image and map; the image links to its page. The local "
                                               "sigma_max(J) is the worst-case ratio as ||r|| -> 0 (the Jacobian at "
                                               "the image), not the worst case on the spheres. Under each k-space "
                                               "threat, the error to the truth / ||x|| at its largest budget; the "
                                               "k-space contrast is the targeted attack's on the samples. 'in the "
                                               "data?' is the region bounds' verdict on the attacked disc; "
                                               "'converged' names the searches that hit their step cap."],
                            tables=[Table(["image", "map", *(h for h, _ in columns), "failures"], every)]))
    record: dict[str, Any] = {"settings": settings, "rows": rows}
    if control is not None:
        if isinstance(control, str):
            sections.append(Section("4. The positive control", [f"The positive control FAILED: {control}"]))
            summary.append(f"The positive control FAILED: {control}")
        else:
            s = positive_control_section(control, out, title="4. The positive control: is the attack able to find "
                                                             "instability?")
            sections.append(s)
            record["positive_control"] = s.record
            summary.append(s.summary)
    status = []
    for stage in settings["stages"]:
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
    sections.append(Section(f"{len(sections) + 1}. Stages",
                            ["Per stage, the images on which it completed and failed, and the first error."],
                            tables=[Table(["stage", "completed", "failed", "first error"], status)]))
    measures = [["accuracy"], ["worst_case"], [k for k in card.measures if k not in ("accuracy", "worst_case",
                                                                                     "positive_control")]
                if card is not None else []]
    measures += [["positive_control"] if s.title.startswith("4. The positive control") else [] for s in sections[3:]]
    return _write(f"firenets audit: {name} on {len(rows)} images", sections, out, summary=summary, record=record,
                  total=res.seconds, card=card, measures=measures, failures=drawn,
                  status=[summary[0], *(s for s in summary if s.startswith("The positive control FAILED"))])
