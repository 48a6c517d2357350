"""The positive control: a U-Net trained to reconstruct phantoms with and without a lesion whose
samples nearly vanish (``stability.control``) must be unstable; the accuracy-stability bound says
by how much, and the attack must find it. FIRENET and zero-filling on the same pairs beside it.

    python benchmarks/positive_control.py [--train OUT | --weights FILE] [--pairs 4]

--train trains the control (``experiments.control.CONTROL``, minutes on 2 cores) into OUT and records
this command in it; --weights measures a control trained before; neither measures the shipped one
(``experiments.control.shipped_control``, trained by --train with the defaults). Pairs: held-out phantoms
ellipses:30000 + i, each with and without the leaky lesion. Per map and pair: its errors on x and
x', the bound (||x - x'|| - 2 eta) / ||A x - A x'|| with eta the larger error, the bound with the
errors' difference ||e' - e|| in place of 2 eta (bound d), the ratio at the
feasible r = A^*A (x' - x), the converged attack's ratio on the sphere ||r|| (random starts, the
battery's budget), and the lesion contrast r creates in the lesion-free image and -r removes.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch


def report(weights: Path | None, pairs: int) -> None:
    from firenets.experiments import control

    for i in range(pairs):
        res = control.control_stage(weights=weights, pair=i)
        c = res.settings
        if i == 0:
            print(f"{c['size']}x{c['size']}, {c['mask']} {c['rate']:.0%} (seed {c['mask_seed']}); lesion: disc radius "
                  f"{c['radius']} at {tuple(c['centre'])}, amplitude {c['amplitude']}, its kernel part plus leak "
                  f"{c['leak']}; ||A d_leak|| / ||d_leak|| = {c['leak_ratio']:.4f}; weights {c['weights']}")
            print(f"{'map':20} {'pair':>4} {'err x':>7} {'err x_':>7} {'bound':>7} {'bound d':>7} {'at r':>7} "
                  f"{'attack':>7} {'conv':>5} {'||r||/||x||':>11} {'appears':>8} {'vanishes':>9} {'lesion':>7} {'r/2':>7}")
        xn = float(res.x.norm())
        for label, pc in res.maps.items():
            print(f"{label:20} {i:4d} {pc.errors[0] / xn:7.4f} {pc.errors[1] / xn:7.4f} {pc.bound:7.2f} "
                  f"{pc.bound_difference:7.2f} {pc.feasible_ratio:7.2f} {pc.attack_ratio:7.2f} "
                  f"{str(pc.attack_converged)[0]:>5} {pc.r_rel:11.4%} {pc.appear:8.3f} {pc.vanish:9.3f} "
                  f"{pc.lesion_contrast:7.3f} {dict(pc.partial)[0.5]:7.3f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=None, help="train the control into this file first")
    parser.add_argument("--weights", default=None, help="a control written by --train (default: the shipped one)")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if args.train is not None and args.weights is not None:
        parser.error("give at most one of --train OUT and --weights FILE")
    torch.set_num_threads(args.threads)
    if args.train:
        from firenets.experiments import control

        cmd = "python benchmarks/positive_control.py " + " ".join(sys.argv[1:] if argv is None else argv)
        _, rec = control.train_control(args.train, command=cmd)
        print(f"trained in {rec['seconds']:.0f} s; best epoch {rec['best_epoch']}, val loss {rec['val_loss'][rec['best_epoch']]:.3e}")
    chosen = args.weights or args.train
    report(Path(chosen) if chosen else None, args.pairs)


if __name__ == "__main__":
    main()
