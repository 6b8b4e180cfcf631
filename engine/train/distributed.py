"""Distributed set-up from torchrun's environment: one process per device, rank 0 owns output.

``torchrun --nproc_per_node N [--nnodes ... --rdzv_endpoint ...] $(which bert-engine) pretrain``
sets RANK, LOCAL_RANK and WORLD_SIZE; without them this is a single process.
"""

from __future__ import annotations

import datetime
import os
import platform
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistributedContext:
    rank: int
    local_rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def hardware(self) -> str:
        """What this job trains on, for the run's record: device model and how many."""
        if self.device.type == "cuda":
            return f"{self.world_size} x {torch.cuda.get_device_name(self.device)}"
        return cpu_hardware(self.world_size)

    def all_reduce_sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum a small tensor over ranks (identity in a single process)."""
        if self.distributed:
            values = values.to(self.device)
            dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values

    def broadcast_object(self, obj):
        """Rank 0's value of ``obj`` on every rank."""
        if not self.distributed:
            return obj
        holder = [obj]
        dist.broadcast_object_list(holder, src=0)
        return holder[0]

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()

    def close(self) -> None:
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()


def cpu_hardware(processes: int = 1) -> str:
    """This machine's CPU as a run records it: model, cores, and processes when more than one."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            model = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        model = platform.processor() or "unknown CPU"
    shared = f", {processes} processes" if processes > 1 else ""
    return f"{model}, {os.cpu_count()} cores{shared}, no GPU"


def setup(device: str | None) -> DistributedContext:
    """Join the process group if torchrun started us; pick this rank's device."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError("CUDA was asked for but this PyTorch sees no CUDA device")
        dev = torch.device("cuda", local_rank if world_size > 1 else (dev.index or 0))
        torch.cuda.set_device(dev)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo",
                                timeout=datetime.timedelta(minutes=30))
    return DistributedContext(rank=rank, local_rank=local_rank, world_size=world_size, device=dev)
