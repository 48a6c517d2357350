"""The whole story on one page: the impossibility table, reconstructions, worst-case perturbations,
a small structural change and hallucination maps, for FIRENET, the U-Net and the deep cascade.

Everything runs on built-in images and the shipped weights; numbers and sentences on the page are
computed from this run, not written in advance.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..reconstruction import REFERENCE_FIRENET
from .figures import attack_figure, grid_figure
from .page import write

METHODS = ("firenet", "unet", "cascade")
LABELS = {"firenet": "FIRENET", "unet": "U-Net", "cascade": "deep cascade", "zero-filled": "zero-filled"}


def _depth(f) -> str:
    """'regulariser, R restarts x p layers' of an MRIFirenet (from its configuration)."""
    c = f.config
    return f"{c['regulariser']}, {c['restarts']} restarts x {c['inner']} layers"


def _say(log: Callable[[str], None] | None, text: str) -> None:
    if log is not None:
        log(text)


def table_section(out: Path, *, progress: bool, log) -> tuple[dict, dict]:
    """The impossibility table (quick mode) with the published numbers and the notes."""
    from ..barriers import table

    _say(log, "[1/5] impossibility table (quick: reduced LISTA training) ...")
    result = table.run(quick=True, progress=progress)
    table.write(result, out / "table")
    def published(v: float | None) -> str:
        return "-" if v is None else f"{v:.7f}"

    rows = [[r.K, r.n, f"{r.lista:.7g}", f"{r.firenet:.7g}", f"{r.interior_point:.7g}",
             published(r.published_lista), published(r.published_firenet)] for r in result.rows]
    claims = result.claims()
    text = [
        "For the class Omega_K every method is given the inexact input (A_n, y_n), accurate to 2^-n, "
        "and we measure the distance of its output to the minimisers Xi(A, y) of the exact problem.",
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


def reconstruction_section(out: Path, *, log) -> tuple[dict, dict]:
    """FIRENET, U-Net, cascade and zero-filling on Shepp-Logan 256x256, Gaussian 25%."""
    from .. import data, reconstruct

    _say(log, "[2/5] reconstructions of Shepp-Logan and the cameraman photograph (256x256, 25%) ...")
    record: dict[str, Any] = {}
    rows = []
    for name, image in (("Shepp-Logan", data.shepp_logan(256)), ("photograph", data.camera(256))):
        results = {m: reconstruct(image, m, rate=0.25, seed=0) for m in ("zero-filled", *METHODS)}
        target = results["firenet"].acquisition.target
        panels = [("ground truth", target)] + [
            (f"{LABELS[m]}: {r.metrics['psnr']:.1f} dB", r.magnitude) for m, r in results.items()]
        errors = [("error maps (x3)", torch.zeros_like(target) + target.max())] + [
            (f"|{LABELS[m]} - truth|", (3 * (r.magnitude - target).abs()).clamp(max=float(target.max())))
            for m, r in results.items()]
        rows += [(name, panels), (f"{name}: errors", errors)]
        record[name] = {m: {**r.metrics, "seconds": r.seconds} for m, r in results.items()}
    grid_figure(out / "reconstructions.png", rows)
    table_rows = [[img, LABELS[m], v["psnr"], v["ssim"], v["nmse"], v["seconds"]]
                  for img, per in record.items() for m, v in per.items()]
    best = {img: max(METHODS, key=lambda m, p=per: p[m]["psnr"]) for img, per in record.items()}
    gain = {img: per["firenet"]["psnr"] - per["zero-filled"]["psnr"] for img, per in record.items()}
    text = [
        "k-space is sampled at 25% with a Gaussian variable-density mask; the networks were trained on "
        "random-ellipse phantoms at 128x128 with that mask and rate, and are applied here at 256x256.",
        f"Highest PSNR: {LABELS[best['Shepp-Logan']]} on Shepp-Logan, {LABELS[best['photograph']]} on the "
        f"photograph. FIRENET gains {gain['Shepp-Logan']:.1f} dB and {gain['photograph']:.1f} dB over "
        "zero-filling; it is computed from the sampling operator, not trained.",
    ]
    section = {"title": "2. Reconstructions", "text": text,
               "tables": [{"caption": "metrics with fastMRI conventions (data range = ground-truth max)",
                           "columns": ["image", "method", "PSNR dB", "SSIM", "NMSE", "seconds"],
                           "rows": table_rows}],
               "figures": [{"file": "reconstructions.png", "data": record,
                            "caption": "ground truth, zero-filled, FIRENET, U-Net, deep cascade; error maps x3"}]}
    return section, record


def perturbation_section(out: Path, *, log, steps: int = 5) -> tuple[dict, dict]:
    """Worst-case perturbations of each network on a held-out phantom, with the noise control."""
    from .. import data, stability
    from ..reconstruction import acquire, reconstruction_map

    _say(log, "[3/5] worst-case perturbations (held-out phantom, 128x128) ...")
    x = data.ellipses(128, seed=20_000)
    acq = acquire(x, mask="gaussian", rate=0.25)
    A = acq.operator
    record: dict[str, Any] = {}
    figures = []
    for m in ("unet", "cascade"):
        f = reconstruction_map(m, A)
        wc = stability.worst_case(f, A, x, lam=0.01, lr=0.01, records=(20, 40, 60))
        nc = stability.noise_control(f, A, x, [s.r_norm for s in wc.stages])
        attack_figure(out / f"attack-{m}.png", x, wc.recon,
                      [(x + s.r, s.recon, s.r, s.summary()) for s in wc.stages], method=LABELS[m])
        record[m] = {"stages": [s.summary() for s in wc.stages], "noise": nc.summary()}
        figures.append({"file": f"attack-{m}.png", "data": record[m],
                        "caption": f"{LABELS[m]}: original and perturbed images (top), their reconstructions "
                                   "(middle), the perturbations (bottom)"})
    norms = sorted({s["r_norm"] for m in ("unet", "cascade") for s in record[m]["stages"][:2]})
    fire = reconstruction_map("firenet", A, **REFERENCE_FIRENET)
    depth = _depth(fire)
    fw = stability.worst_case(fire, A, x, norms=norms, steps=steps)
    fn_ = stability.noise_control(fire, A, x, norms)
    record["firenet"] = {"stages": [s.summary() for s in fw.stages], "noise": fn_.summary(),
                         "layers": fire.num_layers, "config": fire.config}
    attack_figure(out / "attack-firenet.png", x, fw.recon,
                  [(x + s.r, s.recon, s.r, s.summary()) for s in fw.stages], method=f"FIRENET ({depth})")
    figures.append({"file": "attack-firenet.png", "data": record["firenet"],
                    "caption": f"FIRENET ({depth}) at the networks' perturbation sizes"})
    rows = []
    for m in ("unet", "cascade", "firenet"):
        for s, c in zip(record[m]["stages"], record[m]["noise"], strict=True):
            rows.append([LABELS[m], s["r_rel"], s["out_diff"], s["ratio"], c["ratio"], s["psnr"]])
    worst = {m: max(s["ratio"] for s in record[m]["stages"]) for m in record}
    noise = {m: max(c["ratio"] for c in record[m]["noise"]) for m in record}
    text = [
        "A perturbation r of the image is sought that changes the reconstruction most: heavy-ball ascent on "
        "1/2 ||f(A(x+r)) - f(Ax)||^2 - lam/2 ||r||^2 (Antun et al., PNAS 2020). The ratio "
        "||f(A(x+r)) - f(Ax)|| / ||r|| bounds the local Lipschitz constant from below; Gaussian noise of the "
        "same norm is the control.",
        *[f"{LABELS[m]}: worst-case ratio {worst[m]:.2f}, Gaussian noise {noise[m]:.2f} "
          f"({worst[m] / noise[m]:.1f}x)." for m in record],
        "Read each worst-case ratio against its noise ratio: a large gap means instability to specific, "
        f"not random, perturbations. The budgets differ: 60 ascent iterations for each network, {steps} per "
        f"perturbation size for FIRENET ({depth}, to keep the page fast); FIRENET's worst case here "
        f"({worst['firenet']:.2f}) is therefore a weaker lower bound than the networks'.",
    ]
    section = {"title": "3. Worst-case perturbations", "text": text,
               "tables": [{"caption": "per stage: relative size of r, output change, ratios, PSNR of f(A(x+r)) "
                                      "against x + r",
                           "columns": ["method", "||r||/||x||", "output change", "worst-case ratio",
                                       "noise ratio", "PSNR dB"], "rows": rows}],
               "figures": figures}
    return section, record


def structural_section(out: Path, *, log) -> tuple[dict, dict]:
    """A small text detail ("CAN U SEE IT") inserted in Shepp-Logan: is it recovered?"""
    from .. import data, stability
    from ..reconstruction import acquire, reconstruction_map

    _say(log, "[4/5] small structural change (text in Shepp-Logan) ...")
    x = data.shepp_logan(256)
    xd, support = data.insert_detail(x, "text", text="CAN U SEE IT", centre=(150, 128), size=14, intensity=0.15)
    acq = acquire(x, mask="gaussian", rate=0.25)
    record = {}
    panels = [("with detail", xd)]
    for m in METHODS:
        f = reconstruction_map(m, acq.operator)
        sc = stability.structural_change(f, acq.operator, x, xd, support)
        record[m] = sc.summary()
        panels.append((f"{LABELS[m]}: contrast {sc.contrast:.2f}", sc.recon.abs()))
    record["zero-filled"] = {"contrast": record["firenet"]["zero_filled_contrast"]}
    rows_, cols = torch.nonzero(support, as_tuple=True)
    r0, r1 = int(rows_.min()) - 12, int(rows_.max()) + 12
    c0, c1 = int(cols.min()) - 12, int(cols.max()) + 12
    crop = [(t, img[max(r0, 0):r1, max(c0, 0):c1]) for t, img in panels]
    grid_figure(out / "structural.png", [("full image", panels), ("zoom on the detail", crop)])
    text = [
        "The text 'CAN U SEE IT' (intensity +0.15) is added to the image before sampling. The recovered "
        "contrast is mean over the text of |f(A x_d)| - |f(A x)| divided by the inserted contrast "
        "(1: fully visible, 0: invisible); at least 0.5 counts as recovered.",
        *[f"{LABELS[m]}: contrast {record[m]['contrast']:.2f} ({'recovered' if record[m]['recovered'] else 'lost'})."
          for m in METHODS],
        f"Zero-filling keeps {record['zero-filled']['contrast']:.2f} of it.",
    ]
    section = {"title": "4. A small structural change", "text": text, "tables": [],
               "figures": [{"file": "structural.png", "data": record,
                            "caption": "reconstructions of the image with the inserted text, and a zoom"}]}
    return section, record


def hallucination_section(out: Path, *, log) -> tuple[dict, dict]:
    """Error, measurement-space and null-space maps of every method on a held-out phantom."""
    from .. import data, stability
    from ..reconstruction import acquire, reconstruction_map

    _say(log, "[5/5] hallucination maps ...")
    x = data.ellipses(128, seed=20_001)
    acq = acquire(x, mask="gaussian", rate=0.25)
    rows, record = [], {}
    for m in METHODS:
        maps = stability.hallucination_maps(reconstruction_map(m, acq.operator), acq.operator, x)
        record[m] = maps.summary()
        rows.append((LABELS[m], [("error |f^ - x|", maps.error), ("measurement space", maps.measurement),
                                 ("null space", maps.null)]))
    grid_figure(out / "hallucination.png", rows, shared_scale=False, cmap="inferno")
    text = [
        "Following Bhadra et al. (IEEE TMI 2021): the measurement-space map |A^*A f^ - A^*y| shows where the "
        "reconstruction disagrees with the data it was given; the null-space map |(f^)_null - x_null| shows "
        "what it invented in the part of the image the samples do not see (each map on its own scale).",
        *[f"{LABELS[m]}: relative error {record[m]['relative_error']:.3f}, measurement-space "
          f"{record[m]['relative_measurement']:.3f}, null-space {record[m]['relative_null']:.3f}." for m in METHODS],
    ]
    section = {"title": "5. Hallucination maps", "text": text, "tables": [],
               "figures": [{"file": "hallucination.png", "data": record,
                            "caption": "rows: FIRENET, U-Net, cascade; columns: error, measurement-space, "
                                       "null-space maps"}]}
    return section, record


def demo(out: str | Path, *, progress: bool = True, log: Callable[[str], None] | None = print) -> dict[str, Any]:
    """Run the five parts and write ``out/index.html`` (last) with figures and JSON beside it."""
    import firenets

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    sections, record, seconds = [], {}, {}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=5, desc="firenets demo", unit="part", position=1, leave=False)
    for name, part in (("table", lambda: table_section(out, progress=progress, log=log)),
                       ("reconstruction", lambda: reconstruction_section(out, log=log)),
                       ("perturbation", lambda: perturbation_section(out, log=log)),
                       ("structural", lambda: structural_section(out, log=log)),
                       ("hallucination", lambda: hallucination_section(out, log=log))):
        t0 = time.perf_counter()
        section, record[name] = part()
        seconds[name] = time.perf_counter() - t0
        sections.append(section)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    summary = [
        "1. The barrier: " + ("every method stays more than 10^-K from the exact minimisers and FIRENET "
                              "within 10^-(K-1), as the theory says." if all(record["table"]["claims"].values())
                              else "a claim of the table failed in this run; see section 1."),
        "2. Reconstructions: " + sections[1]["text"][1],
        "3. Perturbations: " + " ".join(sections[2]["text"][1:4])
        + " (FIRENET was attacked with a smaller budget; with equal budgets its ratios exceed the networks' "
        "at perturbations of 1% and 3% of ||x||: section 3 and docs/stability.md).",
        "4. Small detail: " + " ".join(sections[3]["text"][1:4]),
        "5. Hallucinations: the null-space maps show what each method added that the samples cannot confirm.",
    ]
    results = {"title": "firenets: can this network be trusted to reconstruct an image?", "summary": summary,
               "sections": sections,
               "meta": {"firenets": firenets.__version__, "torch": str(torch.__version__),
                        "seconds": round(time.perf_counter() - start, 1)}}
    results["record"] = record
    results["seconds"] = seconds
    write(results, out)
    return results


class UserMap(torch.nn.Module):
    """A user's network as a reconstruction map y -> complex image for the operator A.

    input "adjoint": net(A^* y) with A^* y complex (B, H, W); input "kspace": net(y) with y the
    (B, m) samples. A real output is read as a (magnitude) image.
    """

    def __init__(self, net: torch.nn.Module, A: Any, input: str = "adjoint"):
        super().__init__()
        if input not in ("adjoint", "kspace"):
            raise ValueError(f"input must be 'adjoint' or 'kspace'; got {input!r}")
        self.net, self.A, self.input = net, A, input

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        single = y.ndim == 1
        yb = y[None] if single else y
        out = self.net(self.A.adjoint(yb) if self.input == "adjoint" else yb)
        if not isinstance(out, torch.Tensor):
            raise TypeError(f"the model returned {type(out).__name__}, not a torch.Tensor")
        if out.ndim == 4 and out.shape[1] == 1:
            out = out[:, 0]
        if tuple(out.shape[-2:]) != tuple(self.A.in_shape):
            raise ValueError(f"the model returned shape {tuple(out.shape)}; expected (B, {self.A.in_shape[0]}, "
                             f"{self.A.in_shape[1]})")
        out = out.to(torch.complex128)  # a real output is an image with zero imaginary part
        return out[0] if single else out


def _psnrs(more: dict[str, Any]) -> str:
    return ", ".join(f"{r['psnr']:.1f}" for r in more["results"])


def load_model(spec: str, weights: str | Path | None = None) -> torch.nn.Module:
    """The module built by FACTORY in PKG.MODULE (``spec`` = "PKG.MODULE:FACTORY"), weights loaded safely."""
    import importlib

    if not isinstance(spec, str) or spec.count(":") != 1 or not all(spec.split(":")):
        raise ValueError(f"--model must look like PKG.MODULE:FACTORY; got {spec!r}")
    module_name, factory_name = spec.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"--model: cannot import {module_name!r}: {exc}") from exc
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise ValueError(f"--model: {module_name} has no callable {factory_name!r}")
    net = factory()
    if not isinstance(net, torch.nn.Module):
        raise ValueError(f"--model: {spec}() returned {type(net).__name__}, not a torch.nn.Module")
    if weights is not None:
        try:
            state = torch.load(weights, weights_only=True, map_location="cpu")
        except Exception as exc:
            raise ValueError(f"--weights {weights} cannot be read safely (weights_only): {exc}") from exc
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        try:
            net.load_state_dict(state)
        except (RuntimeError, TypeError, AttributeError) as exc:
            raise ValueError(f"--weights {weights} do not fit the model: {exc}") from exc
    return net.eval()


def audit(
    net: torch.nn.Module,
    out: str | Path,
    *,
    images: list[Any] | None = None,
    input: str = "adjoint",
    mask: str = "gaussian",
    rate: float = 0.25,
    name: str = "your network",
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """The battery on a user's network, FIRENET beside it, written as a page in ``out``."""
    import firenets

    from .. import data, metrics, stability
    from ..reconstruction import acquire, reconstruction_map

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    loaded = [data.load(s) if isinstance(s, (str, Path)) else data.LoadedImage(s, None, "array", {})
              for s in (images or ["ellipses:20000", "shepp-logan"])]
    xs = [im.image for im in loaded]
    shape = tuple(xs[0].shape)
    if any(tuple(x.shape) != shape for x in xs):
        raise ValueError(f"all images must have one shape for one network; got {[tuple(x.shape) for x in xs]}")

    def user(F):
        return UserMap(net, F, input)

    def fire(F):
        return reconstruction_map("firenet", F, **REFERENCE_FIRENET)

    maps = {name: user, "FIRENET": fire}
    _say(log, "[1/5] accuracy ...")
    acc_rows, record = [], {"accuracy": {}}
    panels = []
    for im, x in zip(loaded, xs, strict=True):
        acq = acquire(x, mask=mask, rate=rate)
        row = [("truth", x)]
        for label, make in maps.items():
            with torch.no_grad():
                rec = make(acq.operator)(acq.y)
            m = metrics.evaluate(x, rec.abs())
            record["accuracy"][f"{im.source}/{label}"] = m
            acc_rows.append([im.source, label, m["psnr"], m["ssim"], m["nmse"]])
            row.append((f"{label}: {m['psnr']:.1f} dB", rec.abs()))
        zf = metrics.evaluate(x, acq.zero_filled.abs())
        acc_rows.append([im.source, "zero-filled", zf["psnr"], zf["ssim"], zf["nmse"]])
        panels.append((im.source, row))
    grid_figure(out / "accuracy.png", panels)

    _say(log, "[2/5] worst-case perturbations with noise control ...")
    x = xs[0]
    acq = acquire(x, mask=mask, rate=rate)
    A = acq.operator
    f = user(A)
    # fixed sizes: a penalised ascent's sizes depend on the image's scale and the network's gain
    xn = float(torch.linalg.vector_norm(x))
    wc = stability.worst_case(f, A, x, norms=[rho * xn for rho in stability.RELATIVE_NORMS], steps=20)
    norms = [s.r_norm for s in wc.stages]
    fw = stability.worst_case(fire(A), A, x, norms=norms, steps=5)
    pert_rows = []
    for label, res, m in ((name, wc, f), ("FIRENET", fw, fire(A))):
        nc = stability.noise_control(m, A, x, norms)
        record[f"perturbation/{label}"] = {"stages": [s.summary() for s in res.stages], "noise": nc.summary()}
        pert_rows += [[label, s.r_rel, s.out_diff, s.ratio, c.ratio, s.psnr]
                      for s, c in zip(res.stages, nc.stages, strict=True)]
    attack_figure(out / "attack.png", x, wc.recon, [(x + s.r, s.recon, s.r, s.summary()) for s in wc.stages],
                  method=name)

    _say(log, "[3/5] small structural change and more samples ...")
    xd, support = data.insert_detail(x, "ellipse")
    struct = {label: stability.structural_change(make(A), A, x, xd, support).summary() for label, make in maps.items()}
    more = {label: stability.more_samples(make, x, kind=mask, rates=(0.15, 0.2, 0.25, 0.3, 0.4)).summary()
            for label, make in maps.items()}
    record["structural"], record["more_samples"] = struct, more

    _say(log, "[4/5] generalisation ...")
    others = {"shepp-logan": [data.shepp_logan(shape)], "camera": [data.camera(shape)]}
    acqs = {"radial": {"mask": "radial", "rate": rate}, "lower rate": {"mask": mask, "rate": round(rate * 0.6, 3)},
            "noise 0.01": {"mask": mask, "rate": rate, "noise": 0.01}}
    gen_rows = []
    for label, make in maps.items():
        g = stability.generalisation(make, xs, others=others, acquisitions=acqs, baseline={"mask": mask, "rate": rate})
        record[f"generalisation/{label}"] = g.summary()
        gen_rows += [[label, r["images"], r["acquisition"], r["psnr"], r["psnr_drop"]] for r in g.table()]

    _say(log, "[5/5] hallucination maps ...")
    rows = []
    for label, make in maps.items():
        hm = stability.hallucination_maps(make(A), A, x)
        record[f"hallucination/{label}"] = hm.summary()
        rows.append((label, [("error", hm.error), ("measurement space", hm.measurement), ("null space", hm.null)]))
    grid_figure(out / "hallucination.png", rows, shared_scale=False, cmap="inferno")

    worst_user = max(s.ratio for s in wc.stages)
    worst_fire = max(s.ratio for s in fw.stages)
    sections = [
        {"title": "1. Accuracy", "text": [f"{name} and FIRENET ({_depth(fire(acq.operator))}) on the given images, "
                                          f"{mask} mask at {rate:.0%}."],
         "tables": [{"columns": ["image", "method", "PSNR dB", "SSIM", "NMSE"], "rows": acc_rows}],
         "figures": [{"file": "accuracy.png", "caption": "truth and reconstructions", "data": record["accuracy"]}]},
        {"title": "2. Worst-case perturbations", "text": [
            f"Worst-case ratio {worst_user:.2f} for {name}, {worst_fire:.2f} for FIRENET at the same sizes "
            "(ascent on the spheres ||r|| = " + ", ".join(f"{rho:.0%}" for rho in stability.RELATIVE_NORMS)
            + " of ||x||); compare each with its Gaussian-noise ratio: a large gap means instability to "
            "specific perturbations."],
         "tables": [{"columns": ["method", "||r||/||x||", "output change", "worst-case ratio", "noise ratio", "PSNR dB"],
                     "rows": pert_rows}],
         "figures": [{"file": "attack.png", "caption": f"{name}: perturbed images and reconstructions",
                      "data": record[f"perturbation/{name}"]}]},
        {"title": "3. Small structural change and more samples", "text": [
            *[f"{label}: detail contrast {v['contrast']:.2f} ({'recovered' if v['recovered'] else 'lost'})."
              for label, v in struct.items()],
            *[f"{label}: more samples {'never cost' if v['stable'] else 'COST'} more than 0.5 dB "
              f"(PSNR {_psnrs(v)} at 15..40%)." for label, v in more.items()]],
         "tables": [], "figures": []},
        {"title": "4. Generalisation", "text": ["Mean PSNR per image set and acquisition; drop from the given "
                                                "images at the given mask and rate."],
         "tables": [{"columns": ["method", "images", "acquisition", "PSNR dB", "drop dB"], "rows": gen_rows}],
         "figures": []},
        {"title": "5. Hallucination maps", "text": ["Error, measurement-space and null-space maps (Bhadra et al. 2021)."],
         "tables": [], "figures": [{"file": "hallucination.png", "caption": f"{name} (top) and FIRENET (bottom)",
                                    "data": {k: v for k, v in record.items() if k.startswith("hallucination")}}]},
    ]
    results = {"title": f"firenets audit: {name}", "summary": [s["text"][0] for s in sections], "sections": sections,
               "meta": {"firenets": firenets.__version__, "seconds": round(time.perf_counter() - start, 1)},
               "record": record}
    write(results, out)
    return results
