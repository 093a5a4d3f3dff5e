"""DDP plumbing for `torchrun --nproc_per_node=N vreg train ...`: process group, device, sharded sampler.

Without torchrun's environment (WORLD_SIZE unset) everything degrades to a single process: rank 0 of 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TypeVar, cast

import torch
import torch.distributed as dist
from torch.utils.data import DistributedSampler

from vreg_cli.errors import VregError
from vreg_cli.model.device import resolve_device

__all__ = ["DistInfo", "ResumableSampler"]


T = TypeVar("T")


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the run."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    launched: bool = False  # started by torchrun: in a process group even with one process

    @property
    def is_main(self) -> bool:
        """Only the main process writes files and prints progress."""
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        """In a process group (DDP, sharded sampler): under torchrun, or whenever there are several processes."""
        return self.launched or self.world > 1


def setup(device_name: str) -> tuple[DistInfo, torch.device]:
    """Join the process group when launched by torchrun (gloo on CPU, nccl on CUDA) and pick the device."""
    if "RANK" not in os.environ:  # not launched by torchrun
        return DistInfo(), resolve_device(device_name)
    world = int(os.environ.get("WORLD_SIZE", "1"))
    info = DistInfo(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")), launched=True)
    device = resolve_device(device_name, info.local_rank)
    if device.type == "mps":
        raise VregError("multi-process training (torchrun) is not supported on MPS; use cuda or cpu")
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=info.rank, world_size=world)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return info, device


def backend_note() -> str:
    """ ", nccl" or ", gloo" inside a process group, else "" (for the start-of-training line)."""
    return f", {dist.get_backend()}" if dist.is_available() and dist.is_initialized() else ""


def teardown(info: DistInfo) -> None:
    if info.enabled and dist.is_initialized():
        dist.destroy_process_group()


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()


def any_true(flag: bool, info: DistInfo, device: torch.device) -> bool:
    """True on every rank when ``flag`` is true on any rank (all ranks must take the same branch)."""
    if not info.enabled:
        return flag
    t = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def mean_over_ranks(value: float, info: DistInfo, device: torch.device) -> float:
    if not info.enabled:
        return value
    t = torch.tensor([value], dtype=torch.float64 if device.type == "cpu" else torch.float32, device=device)
    dist.all_reduce(t)
    return float(t.item()) / info.world


def gather_objects(obj: T, info: DistInfo) -> list[T]:
    """Every rank's ``obj`` (in rank order) on every rank."""
    if not info.enabled:
        return [obj]
    out: list[object] = [None] * info.world
    dist.all_gather_object(out, obj)
    return cast(list[T], out)  # every rank gathers the same kind of object


class ResumableSampler(DistributedSampler):
    """DistributedSampler (shuffled by seed + epoch, sharded by rank) that can start mid-epoch after a resume."""

    def __init__(self, dataset, info: DistInfo, seed: int, shuffle: bool = True) -> None:
        super().__init__(dataset, num_replicas=info.world, rank=info.rank, shuffle=shuffle, seed=seed, drop_last=False)
        self.start = 0

    def set_start(self, start: int) -> None:
        """Skip the first ``start`` indices of this rank's shard in the current epoch (reset by the next epoch)."""
        self.start = start

    def __iter__(self):
        indices = list(super().__iter__())[self.start :]
        return iter(indices)

    def __len__(self) -> int:
        return self.num_samples - self.start
