"""The stability battery on held-out phantoms: FIRENET (reference depth), the U-Net, the deep cascade
and zero-filling with one attack budget, the Gaussian-noise control, a small detail, more samples
and generalisation (``experiments.run``, the stages `firenets audit` runs).

    python benchmarks/stability.py [--size 128] [--images 2] [--norms 0.001,0.01,0.03] [--steps 100]

Images: ellipse phantoms with seeds 20_000 + i (never seen in training); Gaussian mask, 25% (the
shipped networks' setting). The fixed-norm ascent of ``stability.worst_case`` with the battery's
stopping rule; per map and size: the mean worst-case ratio over the images, the mean noise ratio,
whether every attack converged, the mean iterations of the best start, and seconds per attack.
"""

from __future__ import annotations

import argparse
import statistics

import torch


def report(size: int, images: int, norms: tuple[float, ...], steps: int) -> None:
    import firenets as fn
    from firenets import experiments

    makers = experiments.reference_makers()
    budget = experiments.Budget(norms=norms, steps=steps)
    runs = []
    for i in range(images):
        x = fn.data.ellipses(size, seed=20_000 + i)
        stages = ("perturbation", "structural", "more-samples") if i == 0 else ("perturbation",)
        runs.append(experiments.run(makers, {f"ellipses:{20_000 + i}": x}, stages=stages, budget=budget))
    print(f"worst-case ratio ||f(A(x+r)) - f(Ax)|| / ||r|| (fixed-norm ascent, cap {steps} steps per start, tol "
          f"{budget.tol:g} over {budget.patience} steps, {budget.restarts} random direction(s) of both signs) and "
          f"Gaussian noise of the same norm (max of {budget.noise_trials} draws); {images} held-out {size}x{size} "
          "phantoms, Gaussian 25%")
    head = "  ".join(f"worst@{r:g} noise@{r:g}" for r in norms)
    print(f"{'map':14} {head}  {'converged':>9} {'iters':>6} {'s/attack':>8}")
    for label in makers:
        perts = [b.perturbation[label] for b in runs]
        worst = [statistics.mean(p.worst.stages[j].ratio for p in perts) for j in range(len(norms))]
        noise = [statistics.mean(p.noise.stages[j].ratio for p in perts) for j in range(len(norms))]
        conv = all(p.worst.converged for p in perts)
        iters = statistics.mean(s.iteration for p in perts for s in p.worst.stages)
        secs = statistics.mean(b.seconds["perturbation"] / len(makers) for b in runs)
        cells = "  ".join(f"{w:8.3f} {n:9.3f}" for w, n in zip(worst, noise, strict=True))
        print(f"{label:14} {cells}  {str(conv):>9} {iters:6.1f} {secs:8.1f}")
    verdicts = [b.verdicts for b in runs]
    for label in verdicts[0]:
        factors = ", ".join(f"{v[label].factor:.2f}" for v in verdicts)
        print(f"{label}: worst case / zero-filling's = {factors} ({'unstable' if verdicts[0][label].unstable else 'no instability found'} on the first image)")
    first = runs[0]
    print("\nsmall detail (ellipse) and more samples (nested Gaussian 15..40%), first image:")
    for label in makers:
        sc, ms = first.structural[label], first.more_samples[label]
        print(f"{label:14} contrast {sc.contrast:6.3f} (zero-filled {sc.zero_filled_contrast:6.3f}) recovered "
              f"{sc.recovered!s:5}  more-samples stable {ms.stable!s:5} PSNR {[round(r['psnr'], 2) for r in ms.results]}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--images", type=int, default=2)
    parser.add_argument("--norms", default="0.001,0.01,0.03")
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report(args.size, args.images, tuple(float(v) for v in args.norms.split(",")), args.steps)


if __name__ == "__main__":
    main()
