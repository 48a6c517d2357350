"""The positive control: a U-Net trained to reconstruct phantoms with and without a lesion whose
samples nearly vanish (``stability.control``) must be unstable; the accuracy-stability bound says
by how much, and the attack must find it. FIRENET and zero-filling on the same pairs beside it.

    python benchmarks/positive_control.py (--train OUT | --weights FILE) [--pairs 4]

--train trains the control (``stability.control.CONTROL``, about 4 minutes on 2 cores) into OUT and
records this command in it; --weights measures a control trained before (none is shipped yet). Pairs: held-out phantoms
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


def report(weights: Path, pairs: int) -> None:
    import firenets as fn
    from firenets.nets import training
    from firenets.nets.mri import REFERENCE_FIRENET, AdjointInput, reconstruction_map
    from firenets.operators import Fourier2D
    from firenets.stability import control
    from firenets.stability.targeted import disc

    net, record = training.load(weights, kind="unet")
    c = {**control.CONTROL, **record["control"]}
    m = fn.masks.make(c["mask"], (c["size"], c["size"]), c["rate"], seed=c["mask_seed"]).mask
    A = Fourier2D(m)
    d, b = control.kernel_lesion(m, tuple(c["centre"]), c["radius"], c["amplitude"])
    lesion = control.leaky(d, b, c["leak"])
    region = disc(m.shape, tuple(c["centre"]), c["radius"])
    maps = {"U-Net (control)": AdjointInput(net, A),
            "FIRENET (reference)": reconstruction_map("firenet", A, **REFERENCE_FIRENET),
            "zero-filled": reconstruction_map("zero-filled", A)}
    print(f"{c['size']}x{c['size']}, {c['mask']} {c['rate']:.0%} (seed {c['mask_seed']}); lesion: disc radius "
          f"{c['radius']} at {tuple(c['centre'])}, amplitude {c['amplitude']}, its kernel part plus leak {c['leak']}; "
          f"||A d_leak|| / ||d_leak|| = {float(torch.linalg.vector_norm(A(lesion.to(torch.complex128)))) / float(torch.linalg.vector_norm(lesion)):.4f}")
    print(f"{'map':20} {'pair':>4} {'err x':>7} {'err x_':>7} {'bound':>7} {'bound d':>7} {'at r':>7} {'attack':>7} {'conv':>5} "
          f"{'||r||/||x||':>11} {'appears':>8} {'vanishes':>9} {'lesion':>7}")
    for i in range(pairs):
        x = fn.data.ellipses(c["size"], seed=30_000 + i)
        for label, f in maps.items():
            pc = control.positive_control(f, A, x, lesion, region)
            xn = float(torch.linalg.vector_norm(x))
            print(f"{label:20} {i:4d} {pc.errors[0] / xn:7.4f} {pc.errors[1] / xn:7.4f} {pc.bound:7.2f} {pc.bound_difference:7.2f} "
                  f"{pc.feasible_ratio:7.2f} {pc.attack_ratio:7.2f} {str(pc.attack_converged)[0]:>5} {pc.r_rel:11.4%} "
                  f"{pc.appear:8.3f} {pc.vanish:9.3f} {pc.lesion_contrast:7.3f}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", default=None, help="train the control into this file first")
    parser.add_argument("--weights", default=None, help="a control written by --train")
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    if (args.train is None) == (args.weights is None):
        parser.error("give one of --train OUT and --weights FILE")
    torch.set_num_threads(args.threads)
    if args.train:
        from firenets.stability import control

        cmd = "python benchmarks/positive_control.py " + " ".join(sys.argv[1:] if argv is None else argv)
        _, rec = control.train_control(args.train, command=cmd)
        print(f"trained in {rec['seconds']:.0f} s; best epoch {rec['best_epoch']}, val loss {rec['val_loss'][rec['best_epoch']]:.3e}")
    report(Path(args.weights or args.train), args.pairs)


if __name__ == "__main__":
    main()
