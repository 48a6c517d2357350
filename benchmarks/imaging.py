"""Image quality of zero-filling, FIRENET, U-Net and deep cascade, and FIRENET's wall time.

    python benchmarks/imaging.py [--phantoms 10] [--rates 0.15,0.25] [--size 128]

Held-out ellipse phantoms (seeds 10_000 + i: never seen in training, which uses
PhantomDataset seeds 1 and 2), Shepp-Logan and the cameraman photograph, Gaussian variable-
density masks. Metrics: PSNR, SSIM, NMSE of the magnitude, data_range = ground-truth max
(fastMRI conventions, ``firenets.metrics``), averaged over the images of each set. The learned
networks use the shipped weights (trained at 25%): at 15% they meet a rate they were not
trained for. FIRENET: the imaging defaults (reconstruction.FIRENET_DEFAULTS, docs/imaging.md).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

METHODS = ("zero-filled", "firenet", "unet", "cascade")


def quality(images: dict[str, list[torch.Tensor]], rates: list[float]) -> list[dict]:
    """One row per (image set, rate, method): mean PSNR, SSIM, NMSE and seconds per image."""
    import firenets as fn

    rows = []
    for name, imgs in images.items():
        for rate in rates:
            for method in METHODS:
                res = [fn.reconstruct(x, method, mask="gaussian", rate=rate, seed=i) for i, x in enumerate(imgs)]
                rows.append({
                    "images": name, "rate": rate, "method": method,
                    "psnr": statistics.mean(r.metrics["psnr"] for r in res),
                    "ssim": statistics.mean(r.metrics["ssim"] for r in res),
                    "nmse": statistics.mean(r.metrics["nmse"] for r in res),
                    "seconds": statistics.mean(r.seconds for r in res),
                })
    return rows


def firenet_time(size: int = 256, repeat: int = 3) -> dict[str, float]:
    """Median wall time of the default FIRENET reconstruction of a size x size image, set-up included."""
    import firenets as fn

    x = fn.data.shepp_logan(size)
    samples, layers = [], 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = fn.reconstruct(x, "firenet", rate=0.25)
        samples.append(time.perf_counter() - t0)
        layers = res.num_layers
    return {"seconds": statistics.median(samples), "network_seconds": res.seconds, "layers": layers}


def report(phantoms: int = 10, rates: tuple[float, ...] = (0.15, 0.25), size: int = 128) -> None:
    import firenets as fn

    images = {
        f"ellipses {size} (held out, n={phantoms})": [fn.data.ellipses(size, seed=10_000 + i) for i in range(phantoms)],
        f"shepp-logan {size}": [fn.data.shepp_logan(size)],
        "shepp-logan 256": [fn.data.shepp_logan(256)],
        "camera 256": [fn.data.camera(256)],
    }
    rows = quality(images, list(rates))
    print("image quality (Gaussian masks; learned networks trained on ellipses at 25%, 128x128)")
    print(f"{'images':36} {'rate':>5} {'method':12} {'PSNR dB':>8} {'SSIM':>6} {'NMSE':>9} {'s/img':>7}")
    for r in rows:
        print(f"{r['images']:36} {r['rate']:5.2f} {r['method']:12} {r['psnr']:8.2f} {r['ssim']:6.3f} "
              f"{r['nmse']:9.2e} {r['seconds']:7.3f}")
    t = firenet_time()
    print(f"\nFIRENET, 256x256, {t['layers']} layers: {t['seconds']:.2f} s with set-up "
          f"({t['network_seconds']:.2f} s in the network); goal < 10 s on 2 cores: ratio {t['seconds'] / 10:.2f}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantoms", type=int, default=10)
    parser.add_argument("--rates", default="0.15,0.25")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    report(args.phantoms, tuple(float(r) for r in args.rates.split(",")), args.size)


if __name__ == "__main__":
    main()
