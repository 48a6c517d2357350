"""More than one process: the ranks of a ``torchrun`` launch (``torch.distributed``, gloo on CPU, nccl on
GPU), the share of a list each rank takes, and the few collective steps a sharded run needs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import timedelta
from typing import Any


@dataclass(frozen=True)
class Ranks:
    """This process's rank among ``world`` processes (world 1: no torchrun, nothing distributed)."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def main(self) -> bool:
        return self.rank == 0

    def share(self, items: list) -> list:
        """The items this rank takes: every world-th, starting at its rank (a fixed, even split)."""
        return items[self.rank::self.world]


def start(device: str = "cpu", *, timeout_s: float = 6 * 3600) -> Ranks:
    """Join the process group torchrun describes (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR/PORT in the
    environment); without WORLD_SIZE > 1 this is a single process and nothing is initialised."""
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if world <= 1:
        return Ranks()
    import torch
    import torch.distributed as dist

    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    backend = "nccl" if str(device).startswith("cuda") else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(local)
    if not dist.is_initialized():
        dist.init_process_group(backend=backend, timeout=timedelta(seconds=timeout_s))
    return Ranks(rank, world, local, backend)


def broadcast(value: Any, ranks: Ranks) -> Any:
    """Rank 0's ``value`` on every rank (plain data)."""
    if ranks.world == 1:
        return value
    import torch.distributed as dist

    box = [value if ranks.main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def gather(value: Any, ranks: Ranks) -> list:
    """Every rank's ``value``, in rank order, on every rank."""
    if ranks.world == 1:
        return [value]
    import torch.distributed as dist

    out: list = [None] * ranks.world
    dist.all_gather_object(out, value)
    return out


def stop(ranks: Ranks) -> None:
    """Leave the process group."""
    if ranks.world > 1:
        import torch.distributed as dist

        if dist.is_initialized():
            dist.destroy_process_group()
