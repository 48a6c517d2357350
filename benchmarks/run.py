"""firenets benchmarks: one runner, one table of ratios measured in the same run.

    python benchmarks/run.py [--only operators,solvers,memory] [--size 256] [--repeat 30] [--threads 2]

Operators: forward + adjoint of Fourier2D, Wavelet2D and Fourier2D @ Wavelet2D.H on a
size x size complex128 image, against the bare torch FFT pair (fft2 + ifft2) of the same image,
and PyWavelets' wavedec2 + waverec2 (periodization) as an outside reference for the wavelet.
Ratios are to the bare FFT pair. Timings are the median of ``repeat`` runs after a warm-up.

Solvers (benchmarks/solvers.py): iterations and seconds for FIRENET, plain Chambolle-Pock, FISTA
and CVXPY to reach relative errors 1e-4 ... 1e-10, as ratios to FIRENET, and FIRENET's time per
iteration as a ratio to one forward + one adjoint application of the operator.
Memory: peak resident memory of FIRENET inference at 50 and 500 layers.
Table (benchmarks/impossibility.py): `firenets table --quick`, and the LISTA training of the full table.
Imaging (benchmarks/imaging.py): PSNR/SSIM/NMSE of zero-filling, FIRENET, U-Net and cascade at 15%
and 25%, and FIRENET's wall time at 256x256 against the 10 s goal.
Attack (benchmarks/attack.py): one attack iteration against one forward + backward pass of the
map (goal 1.3x), and the default `firenets attack` time on 256x256 (goal 2 minutes).
Faithfulness (benchmarks/faithfulness.py): seconds per certified region interval at 256x256 against
one FIRENET reconstruction of the same samples.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from timing import median_seconds


def operators(size: int, repeat: int, levels: int = 4, wavelet: str = "db4") -> list[tuple[str, float]]:
    """Seconds per forward + adjoint pair of each operator, on one size x size image."""
    import numpy as np
    import pywt

    import firenets as fn
    from firenets.operators import Fourier2D, Wavelet2D

    g = torch.Generator().manual_seed(0)
    x = torch.complex(torch.randn(size, size, generator=g, dtype=torch.float64),
                      torch.randn(size, size, generator=g, dtype=torch.float64))
    xr = x.real.contiguous()
    F = Fourier2D(fn.masks.gaussian((size, size), 0.25, seed=0).mask)
    W = Wavelet2D((size, size), wavelet=wavelet, levels=levels)
    A = F @ W.H
    y = F(x)
    xn = xr.numpy()

    rows = [
        ("bare torch fft2 + ifft2 (complex128)", median_seconds(lambda: torch.fft.ifft2(torch.fft.fft2(x)), repeat)),
        ("Fourier2D forward + adjoint", median_seconds(lambda: F.adjoint(F(x)), repeat)),
        (f"Wavelet2D {wavelet} L={levels} forward + adjoint (real)", median_seconds(lambda: W.adjoint(W(xr)), repeat)),
        (f"Wavelet2D {wavelet} L={levels} forward + adjoint (complex)", median_seconds(lambda: W.adjoint(W(x)), repeat)),
        (
            f"pywt wavedec2 + waverec2 {wavelet} L={levels} (real, NumPy)",
            median_seconds(lambda: pywt.waverec2(pywt.wavedec2(xn, wavelet, mode="periodization", level=levels),
                                        wavelet, mode="periodization"), repeat),
        ),
        ("Fourier2D @ Wavelet2D.H forward + adjoint", median_seconds(lambda: (A(xr), A.adjoint(y)), repeat)),
    ]
    del np
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="operators,solvers,memory,table,imaging,attack,faithfulness")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)

    sections = set(args.only.split(","))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    if "operators" in sections:
        rows = operators(args.size, args.repeat)
        floor = rows[0][1]
        width = max(len(name) for name, _ in rows)
        print(f"operators on a {args.size}x{args.size} image")
        print(f"{'what'.ljust(width)}  {'ms':>8}  {'ratio to bare FFT':>17}")
        for name, seconds in rows:
            print(f"{name.ljust(width)}  {seconds * 1e3:8.3f}  {seconds / floor:17.2f}")
        print()
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    if "table" in sections:
        import impossibility

        impossibility.report()
    if "imaging" in sections:
        import imaging

        imaging.report()
        print()
    if "attack" in sections:
        import attack

        attack.report()
        print()
    if "faithfulness" in sections:
        import faithfulness

        faithfulness.report(args.size)
        print()
    if "solvers" in sections or "memory" in sections:
        import solvers
    if "solvers" in sections:
        solvers.report(solvers.gaussian())
        solvers.report(solvers.imaging(size=args.size))
    if "memory" in sections:
        mem = solvers.memory()
        print("FIRENET inference memory (no_grad, 256x256, batch 8; one iterate is 8 MiB), process peak RSS, MiB:")
        for layers, mib in mem.items():
            print(f"  {layers:4d} layers: {mib:7.1f}")
        first, last = mem.values()
        print(f"  500 - 50 layers: {last - first:+.1f} MiB (storing 450 more iterates would add 3600 MiB)")


if __name__ == "__main__":
    main()
