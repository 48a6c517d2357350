"""The files and summary of ``firenets attack``, rendered from an ``experiments.attack.AttackResult``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .figures import attack_figure, maps_figure
from .sentences import local_sentence


def attack_record(res, meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON record: ``meta`` (image, method, acquisition, seconds), the worst case and its noise
    control, hallucination maps, and what else was attacked."""
    wc = res.worst
    record = {**meta, "x_norm": float(wc.x.abs().square().sum().sqrt()), **res.perturbation.summary(),
              "hallucination": {"unperturbed": res.maps.summary(), "worst_perturbation": res.maps_worst.summary()}}
    if res.measurement is not None:
        record["measurement"] = res.measurement.summary()
    for label, p in res.compared.items():
        record[f"{label.lower()}_at_same_norms"] = p.summary()
        record[f"ratio_to_{label.lower()}"] = wc.max_ratio / p.max_ratio
    return record


def attack_files(res, out: str | Path, *, method: str) -> list[Path]:
    """attack.png (the layout of Antun et al. 2020) and hallucination.png."""
    out = Path(out)
    wc = res.worst
    worst = max(range(len(wc.stages)), key=lambda j: wc.stages[j].ratio)
    return [
        attack_figure(out / "attack.png", wc.x.abs(), wc.recon.abs(),
                      [((wc.x + s.r).abs(), s.recon.abs(), s.r.abs(), s.summary()) for s in wc.stages], method=method),
        maps_figure(out / "hallucination.png", {
            "error |f(Ax) - x|": res.maps.error, "measurement space": res.maps.measurement,
            "null space": res.maps.null, f"error under r_{worst + 1}": res.maps_worst.error,
        }, title=f"{method}: hallucination maps (Bhadra et al. 2021)"),
    ]


def attack_text(res, meta: dict[str, Any]) -> list[str]:
    """The terminal summary: one line per stage, then the measurement budgets and comparisons."""
    wc = res.worst
    noise = res.perturbation.noise.stages
    lines = [f"{meta['method']} on {meta['image']} ({meta['mask']}, rate {meta['rate']:.3f}), {meta['seconds']:.0f} s",
             f"{'stage':>5} {'||r||/||x||':>12} {'ratio':>8} {'noise ratio':>12} {'error':>8} {'PSNR':>7} "
             f"{'steps':>6} {'converged':>9}"]
    for j, (s, c) in enumerate(zip(wc.stages, noise, strict=True), start=1):
        conv = "-" if s.converged is None else ("yes" if s.converged else "NO (cap)")
        lines.append(f"{j:5d} {s.r_rel:12.4g} {s.ratio:8.3f} {c.ratio:12.3f} "
                     f"{s.error:8.4f} {s.psnr:7.2f} {s.iteration:6d} {conv:>9}")
    local = local_sentence(meta["method"], wc)
    if local is not None:
        lines.append(local)
    if res.measurement is not None:
        for b in res.measurement.results:
            lines.append(f"measurement budget {b.rel:.3g} ||y||: worst error {b.relative_error:.4g} ||x|| "
                         f"(PSNR {b.psnr:.2f}; {b.iterations} steps, {'converged' if b.converged else 'NOT converged'})")
    same = "at the same norms and budget" if wc.settings.get("mode") == "fixed norms" else \
        "with the same penalised ascent (its sizes differ by map)"
    for label, p in res.compared.items():
        lines.append(f"worst-case ratio {wc.max_ratio:.3f} = {wc.max_ratio / p.max_ratio:.2f} x {label}'s "
                     f"({p.max_ratio:.3f}) {same}")
    return lines
