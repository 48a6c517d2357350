"""FIRENET's accuracy-stability frontier: PSNR against the converged worst-case ratio and against
the targeted hallucination contrast, over depth, lam and regulariser, with the shipped networks
and zero-filling as points, all attacked with one budget on the same image, mask and seed.

    python benchmarks/frontier.py [--size 128] [--seed 20000] [--mask gaussian|das] [--rho 0.01]
                                  [--configs quick,extra,...] [--json out.json]
                                  [--figure out.png [--from a.json b.json ...]]

Image: the held-out ellipse phantom ellipses:SEED at SIZE x SIZE (never seen in training), mask at
25% (seed 0). Attacks: ``stability.Budget()`` (fixed-norm ascent, stopping rule tol 1e-3 over
10 steps, cap 100 per start, one random direction of both signs) at ||r|| = rho ||x||, and the
targeted hallucination attack at the same size on the 3 x 3 grid of discs. lam is a multiple of the
calibrated default (``nets.mri.default_lam``); depth is restarts x inner layers at a fixed depth.
"weighted" rows use weights in levels w_l = sqrt(s / s_l) (Colbrook, Antun, Hansen 2022) with s_l
the mean number of level-l coefficients among the N/8 largest of 8 training phantoms (ellipses:0-7,
never the benchmark's image), s = N/8; "tv" is the analysis FIRENET with isotropic total
variation. The shipped networks were trained on Gaussian masks; under --mask das they are points
off their training acquisition. Last, AI + FIRENET: the reference FIRENET warm-started at each
network's output (``WarmStarted``). --figure draws PSNR against the worst-case ratio and against
the hallucination contrast from the rows of this run or of the --from JSON files.
"""

from __future__ import annotations

import argparse
import json
import time

import torch

# (regulariser, restarts, inner, lam multiple, weights in levels)
QUICK = [
    ("wavelet", 5, 5, 1.0, False), ("wavelet", 5, 10, 1.0, False), ("wavelet", 10, 20, 1.0, False),
    ("wavelet", 5, 10, 4.0, False), ("wavelet", 5, 10, 20.0, False),
    ("undecimated", 5, 10, 1.0, False),
]
EXTRA = [("wavelet", 5, 10, 1.0, True), ("wavelet", 5, 5, 1.0, True), ("tv", 5, 10, 1.0, False),
         ("tv", 5, 10, 4.0, False)]
FULL = QUICK + EXTRA + [("wavelet", 10, 20, 4.0, False), ("wavelet", 10, 20, 20.0, False),
                        ("wavelet", 5, 5, 4.0, False), ("undecimated", 5, 5, 1.0, False),
                        ("undecimated", 5, 10, 4.0, False)]
ACROSS = [("wavelet", 5, 10, 1.0, False), ("wavelet", 5, 10, 1.0, True), ("tv", 5, 10, 1.0, False),
          ("undecimated", 5, 10, 1.0, False)]  # one of each regulariser, to run on a second mask
TRAINING_SEEDS = range(8)  # the phantoms the level sparsities come from


def point(label: str, make, A, x, budget) -> dict:
    import firenets as fn
    from firenets.experiments import stages
    from firenets.stability import perturbation

    f = make(A)
    with torch.no_grad():
        rec = f(A(x))
    psnr = float(fn.metrics.psnr(x.abs(), rec.abs()))
    t0 = time.perf_counter()
    pert = perturbation(f, A, x, budget)
    ha = stages.hallucination_attacks({label: make}, A, x, budget)[label].best
    return {"map": label, "psnr": psnr, "ratio": pert.max_ratio, "noise_ratio": pert.max_noise_ratio,
            "error": pert.error, "error_perturbed": pert.worst.stages[0].error, "converged": bool(pert.worst.converged),
            "contrast": ha.contrast, "contrast_max": ha.contrast / float(x.abs().max()),
            "input_contrast": ha.input_contrast, "noise_contrast": ha.noise_contrast,
            "contrast_converged": ha.converged, "seconds": time.perf_counter() - t0,
            "layers": getattr(f, "num_layers", None)}


def level_weights(size: int, regulariser: str) -> list[float]:
    """w_l = sqrt(s / s_l): s_l the mean count of level-l coefficients among the N/8 largest
    magnitudes of the training phantoms, s = N/8 (levels as ``MRIFirenet`` builds them)."""
    import firenets as fn
    from firenets.operators import Wavelet2D

    if regulariser != "wavelet":
        raise ValueError("weights in levels are measured here for the synthesis wavelet FIRENET only")
    f = fn.nets.mri.MRIFirenet(fn.operators.Fourier2D(torch.ones(size, size, dtype=torch.bool)), regulariser="wavelet")
    W = Wavelet2D((size, size), wavelet=f.config["wavelet"], levels=f.config["levels"], dtype=torch.float64)
    k = size * size // 8
    counts = torch.zeros(int(W.level_index.max()) + 1, dtype=torch.float64)
    for s in TRAINING_SEEDS:
        c = W(fn.data.ellipses(size, seed=s).to(torch.float64)).abs().reshape(-1)
        top = torch.topk(c, k).indices
        counts += torch.bincount(W.level_index.reshape(-1)[top], minlength=counts.numel()).to(torch.float64)
    counts = (counts / len(TRAINING_SEEDS)).clamp_min(1.0)
    return torch.sqrt(counts.sum() / counts).tolist()


def run(size: int, seed: int, mask: str, rho: float, configs: list, on_row=None) -> list[dict]:
    import firenets as fn
    from firenets.acquisition import acquire
    from firenets.experiments import reference_makers
    from firenets.nets.mri import default_lam, reconstruction_map
    from firenets.stability import Budget

    x0 = fn.data.ellipses(size, seed=seed)
    acq = acquire(x0, mask=mask, rate=0.25, seed=0)
    A, x = acq.operator, acq.target
    budget = Budget(norms=(rho,))  # the battery's default stopping rule and starts
    rows = []
    for reg, restarts, inner, mult, weighted in configs:
        lam = mult * default_lam(reg, (size, size))
        w = level_weights(size, reg) if weighted else None
        label = f"FIRENET {reg}{' weighted' if weighted else ''} {restarts}x{inner} lam x{mult:g}"

        def make(F, reg=reg, restarts=restarts, inner=inner, lam=lam, w=w):
            return reconstruction_map("firenet", F, regulariser=reg, restarts=restarts, inner=inner, lam=lam,
                                      tol=0, xtol=0, level_weights=w)

        rows.append({**point(label, make, A, x, budget), "regulariser": reg, "depth": f"{restarts}x{inner}",
                     "lam": lam, "lam_multiple": mult, "level_weights": w, "mask": mask})
        _done(rows, mask, on_row)
    for label, make in reference_makers().items():
        if label.startswith("FIRENET"):
            continue
        rows.append(point(label, make, A, x, budget))
        _done(rows, mask, on_row)
    # AI + FIRENET: the reference FIRENET started at each network's output (nets.mri.WarmStarted)
    from firenets.nets.mri import REFERENCE_FIRENET, WarmStarted

    for net in ("unet", "cascade"):
        def make(F, net=net):
            return WarmStarted(reconstruction_map(net, F), reconstruction_map("firenet", F, **REFERENCE_FIRENET))

        rows.append(point(f"{'U-Net' if net == 'unet' else 'cascade'} + FIRENET (reference)", make, A, x, budget))
        _done(rows, mask, on_row)
    return rows


def _done(rows: list[dict], mask: str, on_row) -> None:
    rows[-1].setdefault("mask", mask)
    print(_line(rows[-1]), flush=True)
    if on_row is not None:
        on_row(rows)


def _line(r: dict) -> str:
    return (f"{r['map']:38s} PSNR {r['psnr']:6.2f}  ratio {r['ratio']:6.2f} (noise {r['noise_ratio']:5.2f}, "
            f"conv {str(r['converged'])[0]})  error {r['error']:.3f} -> {r['error_perturbed']:.3f}  contrast "
            f"{r['contrast']:.4f} ({r['contrast_max']:.1%} of max; truth {r['input_contrast']:+.4f}, noise "
            f"{r['noise_contrast']:+.4f}, conv {str(r['contrast_converged'])[0]})  {r['seconds']:5.0f} s")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed", type=int, default=20_000)
    parser.add_argument("--mask", default="gaussian")
    parser.add_argument("--rho", type=float, default=0.01)
    parser.add_argument("--configs", default="quick",
                        help="FIRENET settings to run, one or more of quick, full, extra, across, none joined by "
                             "commas (extra: weights in levels and TV; across: one of each regulariser, for a second --mask; none: only the networks "
                             "and AI + FIRENET)")
    parser.add_argument("--json", default=None)
    parser.add_argument("--figure", default=None, help="draw the frontier into this PNG")
    parser.add_argument("--from", dest="sources", nargs="+", default=None,
                        help="with --figure: draw rows of earlier --json runs instead of running")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.sources:
        if not args.figure:
            parser.error("--from needs --figure")
        from firenets.report.figures import frontier_figure

        rows = [r for src in args.sources for r in json.load(open(src))]
        print("wrote", frontier_figure(args.figure, rows))
        return
    print(f"{args.size}x{args.size} ellipses:{args.seed}, {args.mask} 25% (seed 0), ||r|| = {args.rho:g} ||x||; "
          "one attack budget for every map", flush=True)
    sets = {"quick": QUICK, "full": FULL, "extra": EXTRA, "across": ACROSS, "none": []}
    chosen = args.configs.split(",")
    if not chosen or any(c not in sets for c in chosen):
        parser.error(f"--configs must be among {', '.join(sets)} joined by commas; got {args.configs!r}")
    configs = list(dict.fromkeys(c for name in chosen for c in sets[name]))
    def save(rows: list[dict]) -> None:  # after every row: a run cut short keeps what it measured
        if args.json:
            from firenets._io import atomic_write_text

            atomic_write_text(args.json, json.dumps(rows, indent=2))

    rows = run(args.size, args.seed, args.mask, args.rho, configs, on_row=save)
    if args.figure:
        from firenets.report.figures import frontier_figure

        print("wrote", frontier_figure(args.figure, rows))


if __name__ == "__main__":
    main()
