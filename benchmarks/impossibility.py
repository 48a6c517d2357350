"""Timings of the impossibility table: `firenets table --quick`, and the full table against its floor.

The full table trains 9 LISTA networks (m = 21, N = 22, 10 layers) for 4000 epochs of 8 Adam steps
on batches of 1000, in float64, as batched computations: one group of networks per thread. Its floor is the FLOP count of the
matrix products that training must do, divided by the best float64 matrix-product rate this
machine reaches on those products' own shapes (tried as they are and in other layouts and
groupings), both measured in this run; the actual cost per epoch is measured interleaved with the
rate measurements (the same machine state) and extrapolated to 4000 epochs.

    python benchmarks/impossibility.py [--threads 2] [--rounds 7] [--cpu-clock (with --threads 1)]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from firenets.barriers import omega, table
from firenets.barriers.lista_training import train
from firenets.nets.lista import LISTA

G, L, M_ROWS, N_COLS, BATCH, VALIDATION, STEPS = 9, 10, 21, 22, 1000, 100, 8


def quick() -> float:
    """Seconds for the whole quick table (as `firenets table --quick` computes it)."""
    t0 = time.perf_counter()
    result = table.run(quick=True, progress=False)
    assert all(result.claims().values()), result.claims()
    return time.perf_counter() - t0


def step_flops(G: int = G, L: int = L, m: int = M_ROWS, N: int = N_COLS, B: int = BATCH) -> dict[str, int]:
    """FLOPs (2 per multiply-add) of the matrix products one training step must do, by product.

    Forward: all W_k^T y (G, L N, m) x (G, m, B); M_k^T = I - c W_k^T A (G, L N, m) x (G, m, N);
    layers 1 .. L-1: M_k^T x_k (G, N, N) x (G, N, B) (layer 0 is W_0^T y alone, x_0 = 0).
    Backward: d x_k = M_k gu_k and d M_k^T = gu_k x_k^T for layers 1 .. L-1, the y part of dW,
    y gu^T (G, m, B) x (G, B, L N), and the correction A dM_k^T (G, m, N) x (G, N, N), layers 1 .. L-1.
    The folded form M_k^T x_k costs 2 N^2 B per layer against 4 m N B for W_k^T (y - c A x_k).
    """
    return {
        "W^T y (all layers)": 2 * G * L * N * m * B,
        "M^T = I - c W^T A": 2 * G * L * N * m * N,
        "forward M_k^T x_k": 2 * G * (L - 1) * N * N * B,
        "backward M_k gu_k": 2 * G * (L - 1) * N * N * B,
        "backward gu_k x_k^T": 2 * G * (L - 1) * N * N * B,
        "backward y gu^T": 2 * G * L * N * m * B,
        "backward A dM_k^T": 2 * G * (L - 1) * m * N * N,
    }


def validation_flops(G: int = G, L: int = L, m: int = M_ROWS, N: int = N_COLS, B: int = VALIDATION) -> int:
    """FLOPs of the per-epoch validation forward pass on B vectors (its M^T included)."""
    return 2 * G * L * N * m * B + 2 * G * L * N * m * N + 2 * G * (L - 1) * N * N * B


def epoch_flops() -> int:
    return STEPS * sum(step_flops().values()) + validation_flops()


def product_candidates() -> dict[str, tuple[callable, int]]:
    """The table's products, as they are and in other layouts and groupings: name -> (run, FLOPs)."""
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    m, N, B = M_ROWS, N_COLS, BATCH
    WT, y, A = r(G, L * N, m), r(G, m, B), r(G, m, N)
    yr = y.transpose(1, 2).contiguous()
    MT, X, GU = r(G, L, N, N), r(G, L, N, B), r(G, L, N, B)
    Xr, GUr = X.transpose(2, 3).contiguous(), GU.transpose(2, 3).contiguous()
    out_wy, out_wyr = torch.empty(G, L * N, B, dtype=torch.float64), torch.empty(G, B, L * N, dtype=torch.float64)
    out_l, out_lr = torch.empty(G, N, B, dtype=torch.float64), torch.empty(G, B, N, dtype=torch.float64)
    out_o = torch.empty(G * L, N, N, dtype=torch.float64)
    out_dw, out_dwr = torch.empty(G, m, L * N, dtype=torch.float64), torch.empty(G, L * N, m, dtype=torch.float64)
    big_a, big_b, big_o = r(G * L * N, m), r(m, B), torch.empty(G * L * N, B, dtype=torch.float64)
    fl_wy, fl_layer, fl_outer = 2 * G * L * N * m * B, 2 * G * N * N * B, 2 * G * L * N * N * B
    MT3 = MT[:, 3].contiguous()

    def loop_mm(a, b, o):
        def run():
            for i in range(a.shape[0]):
                torch.mm(a[i], b[i], out=o[i])
        return run

    return {
        "W^T y: bmm (G, LN, m) x (G, m, B)": (lambda: torch.bmm(WT, y, out=out_wy), fl_wy),
        "W^T y: bmm, samples as rows (G, B, m) x (G, m, LN)": (
            lambda: torch.bmm(yr, WT.transpose(1, 2), out=out_wyr), fl_wy),
        "W^T y: G separate mm (LN, m) x (m, B)": (loop_mm(WT, y, out_wy), fl_wy),
        "W^T y grouped: one mm (G LN, m) x (m, B)": (lambda: torch.mm(big_a, big_b, out=big_o), fl_wy),
        "layer: bmm (G, N, N) x (G, N, B)": (lambda: torch.bmm(MT3, X[:, 3], out=out_l), fl_layer),
        "layer: baddbmm in place (G, N, N) x (G, N, B)": (lambda: X[:, 5].baddbmm_(MT3, X[:, 3], beta=0), fl_layer),
        "layer: bmm, samples as rows (G, B, N) x (G, N, N)": (
            lambda: torch.bmm(Xr[:, 3], MT3.transpose(1, 2), out=out_lr), fl_layer),
        "outer: bmm (G L, N, B) x (G L, B, N)": (
            lambda: torch.bmm(GU.view(G * L, N, B), X.view(G * L, N, B).transpose(1, 2), out=out_o), fl_outer),
        "outer: bmm, samples as rows (G L, N, B) x (G L, B, N)": (
            lambda: torch.bmm(GU.view(G * L, N, B), Xr.view(G * L, B, N), out=out_o), fl_outer),
        "outer: bmm rows^T (G L, N, B) x (G L, B, N)": (
            lambda: torch.bmm(GUr.view(G * L, B, N).transpose(1, 2), Xr.view(G * L, B, N), out=out_o), fl_outer),
        "y gu^T: bmm (G, m, B) x (G, B, LN)": (
            lambda: torch.bmm(y, GU.view(G, L * N, B).transpose(1, 2), out=out_dw), fl_wy),
        "gu y^T: bmm (G, LN, B) x (G, B, m)": (
            lambda: torch.bmm(GU.view(G, L * N, B), yr, out=out_dwr), fl_wy),
        "M^T = W^T A: bmm (G, LN, m) x (G, m, N)": (lambda: torch.bmm(WT, A), 2 * G * L * N * m * N),
    }


def _median_seconds(fn, repeat: int, clock=time.perf_counter) -> float:
    samples = []
    for _ in range(repeat):
        t0 = clock()
        fn()
        samples.append(clock() - t0)
    return statistics.median(samples)


def _full_table_data():
    insts = [omega.instance(K, n) for K in table.KS for n in table.NS]
    sets = [omega.training_set(i) for i in insts]

    def stack(name, idx):
        return torch.stack([getattr(sets[i], name) for i in idx])

    lr = torch.tensor([2e-4 * 10 ** (-i.K / 3) for i in insts], dtype=torch.float64)
    return insts, stack, lr


def floor_and_actual(rounds: int = 7, repeat: int = 5, cpu_clock: bool = False) -> dict:
    """Per round: every product candidate's rate (median of ``repeat`` calls), then the training of
    the full table's 9 networks, as ``train`` runs it (the networks split into one group per thread)
    and as one group; an epoch is the difference of a 3-epoch and a 1-epoch call, over 2, so the
    set-up is not counted. Medians over the rounds, and the fastest round's numbers. With
    ``cpu_clock`` (one thread only) everything is timed by this thread's CPU time, which a busy
    machine's other processes do not inflate."""
    clock = time.thread_time if cpu_clock else time.perf_counter
    insts, stack, lr = _full_table_data()
    every = list(range(len(insts)))
    data = [stack(n, every) for n in ("x", "y", "x_val", "y_val")]
    net = LISTA(torch.stack([i.A_n.M for i in insts]))
    cands = product_candidates()
    for fn, _ in cands.values():  # warm-up
        fn()
    train(net, *data, lr=lr, epochs=1, progress=False)

    def epoch_seconds(workers):
        t0 = clock()
        train(net, *data, lr=lr, epochs=1, progress=False, workers=workers)
        t1 = clock()
        train(net, *data, lr=lr, epochs=3, progress=False, workers=workers)
        return ((clock() - t1) - (t1 - t0)) / 2

    seconds = {name: [] for name in cands}
    epoch, epoch_one = [], []
    for _ in range(rounds):
        for name, (fn, _) in cands.items():
            seconds[name].append(_median_seconds(fn, repeat, clock))
        epoch.append(epoch_seconds(None))
        epoch_one.append(epoch_seconds(1))
    rates = {name: cands[name][1] / statistics.median(s) for name, s in seconds.items()}
    peak = {name: cands[name][1] / min(s) for name, s in seconds.items()}  # the fastest round
    best, best_peak = max(rates, key=rates.get), max(peak, key=peak.get)
    flops = epoch_flops()
    return {"rates": rates, "best": best, "epoch_flops": flops, "floor_epoch": flops / rates[best],
            "epoch": statistics.median(epoch), "epoch_one_group": statistics.median(epoch_one),
            "peak_rate": peak[best_peak], "best_peak": best_peak,
            "floor_epoch_peak": flops / peak[best_peak], "epoch_min": min(epoch)}


def fixed_parts() -> dict:
    """Seconds of the table's parts that do not scale with the epochs: FIRENET, the interior-point
    method and the training sets."""
    from firenets import reference
    from firenets.nets import FIRENET

    out = {}
    t0 = time.perf_counter()
    insts = [omega.instance(K, n) for K in table.KS for n in table.NS]
    for inst in insts:
        Ln = torch.linalg.matrix_norm(inst.A_n.M, ord=2).item()
        with torch.no_grad():
            FIRENET(inst.A_n, lam=omega.LAM, L_A=Ln, **table.FIRENET_SETTINGS)(inst.y_n)
    out["firenet"] = time.perf_counter() - t0
    import warnings

    t0 = time.perf_counter()
    for inst in insts:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reference.solve(inst.inexact_problem, polish=False)
    out["interior_point"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    for inst in insts:
        omega.training_set(inst)
    out["training sets"] = time.perf_counter() - t0
    return out


def sequential(epochs: int = 2) -> float:
    """Seconds per epoch for the same 9 networks trained one after another."""
    insts, stack, lr = _full_table_data()
    t0 = time.perf_counter()
    for i in range(len(insts)):
        train(LISTA(insts[i].A_n.M), stack("x", [i]), stack("y", [i]), stack("x_val", [i]), stack("y_val", [i]),
              lr=lr[i], epochs=epochs, progress=False)
    return (time.perf_counter() - t0) / epochs


def report(rounds: int = 7, cpu_clock: bool = False) -> None:
    q = quick()
    fa = floor_and_actual(rounds, cpu_clock=cpu_clock)
    fixed = fixed_parts()
    seq = sequential()
    E = table.FULL_EPOCHS
    steps = step_flops()
    print("impossibility table" + ("   (timed by CPU time of one thread)" if cpu_clock else "   (timed by wall clock)"))
    print(f"  firenets table --quick ({table.QUICK_EPOCHS} epochs): {q:6.1f} s   (goal < 60 s)")
    print(f"  FLOPs of one training step (G = {G}, L = {L}, m = {M_ROWS}, N = {N_COLS}, B = {BATCH}), matrix products:")
    for name, f in steps.items():
        print(f"    {name:28s} {f / 1e6:9.3f} MFLOP")
    print(f"    {'step total':28s} {sum(steps.values()) / 1e6:9.3f} MFLOP; validation per epoch "
          f"{validation_flops() / 1e6:.3f} MFLOP; epoch ({STEPS} steps + validation) {fa['epoch_flops'] / 1e9:.4f} GFLOP")
    print("  float64 product rates on the table's shapes (median, measured interleaved with training):")
    for name, rate in sorted(fa["rates"].items(), key=lambda kv: -kv[1]):
        print(f"    {name:56s} {rate / 1e9:7.1f} GFLOP/s{'   <- best' if name == fa['best'] else ''}")
    floor, actual = fa["floor_epoch"], fa["epoch"]
    fixed_total = sum(fixed.values())
    print(f"  {'':36s} {'per epoch':>11s} {f'{E} epochs':>12s}")
    print(f"  {'floor (FLOPs / best rate)':36s} {floor * 1e3:8.1f} ms {floor * E:10.1f} s")
    print(f"  {'LISTA training, measured (median)':36s} {actual * 1e3:8.1f} ms {actual * E:10.1f} s   "
          f"(fastest round {fa['epoch_min'] * 1e3:.1f} ms)")
    print(f"  {'ratio actual / floor':36s} {actual / floor:8.2f}      (goal <= 2)")
    one = fa["epoch_one_group"]
    print(f"  {'the 9 networks as one group':36s} {one * 1e3:8.1f} ms {one * E:10.1f} s   "
          f"(ratio {one / floor:.2f}; train splits them into {min(torch.get_num_threads(), G)} groups, one per thread)")
    print(f"  fastest rounds only: best rate {fa['peak_rate'] / 1e9:.1f} GFLOP/s ({fa['best_peak']}), floor "
          f"{fa['floor_epoch_peak'] * 1e3:.1f} ms, fastest epoch {fa['epoch_min'] * 1e3:.1f} ms, ratio "
          f"{fa['epoch_min'] / fa['floor_epoch_peak']:.2f}")
    print("  fixed parts: " + ", ".join(f"{k} {v:.1f} s" for k, v in fixed.items()))
    print(f"  full table, extrapolated: {(actual * E + fixed_total) / 60:.1f} min; floor of its training "
          f"{floor * E / 60:.1f} min; ratio with the fixed parts {(actual * E + fixed_total) / (floor * E):.2f}")
    print(f"  9 networks one after another: {seq:.3f} s per epoch (x{seq / actual:.2f} the batched)")
    print()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--cpu-clock", action="store_true",
                        help="time floor and training by thread CPU time (needs --threads 1): robust on a busy machine")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads\n")
    if args.cpu_clock and args.threads != 1:
        parser.error("--cpu-clock needs --threads 1 (CPU time of one thread)")
    report(args.rounds, args.cpu_clock)


if __name__ == "__main__":
    main()
