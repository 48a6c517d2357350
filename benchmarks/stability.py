"""The stability battery on held-out phantoms: worst-case perturbations against Gaussian noise of
the same norm, for the learned networks and FIRENET at the same perturbation sizes, measurement-
domain attacks, a small detail, more samples, and generalisation.

    python benchmarks/stability.py [--size 128] [--images 2] [--steps 15]

Images: ellipse phantoms with seeds 20_000 + i (never seen in training); Gaussian mask, 25%
(the shipped networks' setting). Fixed-norm ascent (``stability.worst_case(norms=...)``) at
||r|| / ||x|| in {0.001, 0.01, 0.03}; the ratio is ||f(A(x+r)) - f(Ax)|| / ||r||.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

METHODS = {
    "unet": ("unet", {}),
    "cascade": ("cascade", {}),
    "firenet": ("firenet", {}),
    "firenet 5x10": ("firenet", {"restarts": 5, "inner": 10}),
    "zero-filled": ("zero-filled", {}),
}
RELS = (0.001, 0.01, 0.03)


def attacks(size: int, images: int, steps: int) -> dict[str, dict[str, list[float]]]:
    """Per method: mean worst-case ratio and mean noise ratio at each relative norm."""
    import firenets as fn
    from firenets.reconstruction import acquire, reconstruction_map

    out: dict[str, dict[str, list[float]]] = {}
    for name, (method, kw) in METHODS.items():
        worst, noise, secs = [[] for _ in RELS], [[] for _ in RELS], 0.0
        for i in range(images):
            x = fn.data.ellipses(size, seed=20_000 + i)
            acq = acquire(x, rate=0.25)
            f = reconstruction_map(method, acq.operator, **kw)
            norms = [r * float(x.norm()) for r in RELS]
            t0 = time.perf_counter()
            wc = fn.stability.worst_case(f, acq.operator, x, norms=norms, steps=steps, lr=0.5, momentum=0.5)
            secs += time.perf_counter() - t0
            nc = fn.stability.noise_control(f, acq.operator, x, norms, trials=3)
            for j in range(len(RELS)):
                worst[j].append(wc.stages[j].ratio)
                noise[j].append(nc.stages[j].ratio)
        out[name] = {"worst": [statistics.mean(w) for w in worst], "noise": [statistics.mean(n) for n in noise],
                     "seconds": [secs / images]}
    return out


def detail_and_samples(size: int) -> list[tuple[str, float, float, bool, bool]]:
    """(method, contrast of a small ellipse, zero-filled contrast, recovered, more-samples stable)."""
    import firenets as fn
    from firenets.reconstruction import acquire, reconstruction_map

    x = fn.data.ellipses(size, seed=20_000)
    xd, support = fn.data.insert_detail(x, "ellipse", size=max(size // 40, 2), intensity=0.3)
    rows = []
    for name, (method, kw) in METHODS.items():
        acq = acquire(x, rate=0.25)
        f = reconstruction_map(method, acq.operator, **kw)
        sc = fn.stability.structural_change(f, acq.operator, x, xd, support)
        ms = fn.stability.more_samples(lambda F, m=method, k=kw: reconstruction_map(m, F, **k), x,
                                       rates=(0.15, 0.2, 0.25, 0.3, 0.4))
        rows.append((name, sc.contrast, sc.zero_filled_contrast, sc.recovered, ms.stable,
                     [round(r["psnr"], 2) for r in ms.results]))
    return rows


def generalisation(size: int) -> list[dict]:
    """Mean PSNR per (image set, acquisition) and the drop from in-distribution, per method."""
    import firenets as fn
    from firenets.reconstruction import reconstruction_map

    ref = [fn.data.ellipses(size, seed=20_000 + i) for i in range(2)]
    others = {"shepp-logan": [fn.data.shepp_logan(size)], "camera": [fn.data.camera(size)]}
    acqs = {"radial 25%": {"mask": "radial", "rate": 0.25}, "gaussian 15%": {"mask": "gaussian", "rate": 0.15},
            "noise 0.01": {"mask": "gaussian", "rate": 0.25, "noise": 0.01}}
    rows = []
    for name, (method, kw) in METHODS.items():
        g = fn.stability.generalisation(lambda F, m=method, k=kw: reconstruction_map(m, F, **k), ref,
                                        others=others, acquisitions=acqs,
                                        baseline={"mask": "gaussian", "rate": 0.25})
        for row in g.table():
            rows.append({"method": name, **row})
    return rows


def report(size: int = 128, images: int = 2, steps: int = 15) -> None:
    res = attacks(size, images, steps)
    print(f"worst-case ratio ||f(A(x+r)) - f(Ax)|| / ||r|| (fixed-norm ascent, {steps} steps) and Gaussian")
    print(f"noise of the same norm (max of 3 draws); {images} held-out {size}x{size} phantoms, Gaussian 25%")
    head = "  ".join(f"worst@{r:g} noise@{r:g}" for r in RELS)
    print(f"{'method':14} {head}  {'s/attack':>8}")
    for name, r in res.items():
        cells = "  ".join(f"{w:8.3f} {n:9.3f}" for w, n in zip(r["worst"], r["noise"], strict=True))
        print(f"{name:14} {cells}  {r['seconds'][0]:8.1f}")
    fire = res["firenet"]["worst"]
    for name in ("unet", "cascade"):
        ratios = [a / b for a, b in zip(res[name]["worst"], fire, strict=True)]
        print(f"{name} / firenet worst-case ratio: " + ", ".join(f"{q:.2f}" for q in ratios))
    print("\nsmall detail (ellipse, +0.3) and more samples (nested Gaussian 15..40%):")
    for name, c, zc, rec, stable, psnrs in detail_and_samples(size):
        print(f"{name:14} contrast {c:6.3f} (zero-filled {zc:6.3f}) recovered {rec!s:5}  "
              f"more-samples stable {stable!s:5} PSNR {psnrs}")
    print("\ngeneralisation (mean PSNR, drop from in-distribution ellipses at Gaussian 25%):")
    for row in generalisation(size):
        print(f"{row['method']:14} {row['images']:12} {row['acquisition']:12} PSNR {row['psnr']:6.2f} "
              f"drop {row.get('psnr_drop', float('nan')):6.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--steps", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report(args.size, args.images, args.steps)


if __name__ == "__main__":
    main()
