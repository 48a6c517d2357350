"""Timings of the impossibility table: `firenets table --quick`, and the full table's training.

The full table trains 9 LISTA networks for 4000 epochs of 8 batches of 1000. Here the batched
training (all 9 networks as one computation) is timed for a few epochs and set against training
the same networks one after another for as many epochs; the full table's time is extrapolated
from the measured cost per epoch.
"""

from __future__ import annotations

import time

import torch

from firenets.barriers import omega, table
from firenets.nets.lista import LISTA, train


def quick() -> float:
    """Seconds for the whole quick table (as `firenets table --quick` computes it)."""
    t0 = time.perf_counter()
    result = table.run(quick=True, progress=False)
    assert all(result.claims().values()), result.claims()
    return time.perf_counter() - t0


def training(epochs: int = 3) -> dict:
    """Seconds per epoch: 9 networks batched, and the same 9 trained one after another."""
    insts = [omega.instance(K, n) for K in table.KS for n in table.NS]
    sets = [omega.training_set(i) for i in insts]

    def stack(name, idx):
        return torch.stack([getattr(sets[i], name) for i in idx])

    lr = torch.tensor([2e-4 * 10 ** (-i.K / 3) for i in insts], dtype=torch.float64)
    every = list(range(len(insts)))
    t0 = time.perf_counter()
    train(LISTA(torch.stack([i.A_n.M for i in insts])), stack("x", every), stack("y", every),
          stack("x_val", every), stack("y_val", every), lr=lr, epochs=epochs, progress=False)
    batched = (time.perf_counter() - t0) / epochs
    t0 = time.perf_counter()
    for i in every:
        train(LISTA(insts[i].A_n.M), stack("x", [i]), stack("y", [i]), stack("x_val", [i]), stack("y_val", [i]),
              lr=lr[i], epochs=epochs, progress=False)
    sequential = (time.perf_counter() - t0) / epochs
    return {"batched": batched, "sequential": sequential}


def report() -> None:
    q = quick()
    t = training()
    full = t["batched"] * table.FULL_EPOCHS
    print("impossibility table")
    print(f"  firenets table --quick ({table.QUICK_EPOCHS} epochs): {q:6.1f} s   (goal < 60 s)")
    print(f"  LISTA training, 9 networks, per epoch: batched {t['batched']:.3f} s, one after another "
          f"{t['sequential']:.3f} s (x{t['sequential'] / t['batched']:.2f})")
    print(f"  full table ({table.FULL_EPOCHS} epochs), extrapolated: {full / 60:6.1f} min   (goal < 5 min)")
    print()


if __name__ == "__main__":
    report()
