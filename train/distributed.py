"""Data-parallel training over processes with torch.distributed: NCCL on GPUs, gloo on CPUs.

Every rank holds full copies of G, D and G_ema and processes its slice of the global batch; after each phase the
gradients are averaged with one all-reduce of a flat vector (what DDP does, but it also works for R1 and path
length, whose double backward DDP's hooks do not support), so every optimiser step is identical on all ranks.
Only rank 0 writes files. `sgx train --gpus N` spawns the N processes itself; under `torchrun` the ranks come
from the environment.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn

TORCHRUN_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


@dataclass
class Dist:
    """This process's place in the job; with one process every collective is a no-op."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def sum(self, t: torch.Tensor) -> torch.Tensor:
        """Sum over ranks, on the backend's device (NCCL wants CUDA tensors); a new tensor on t's device."""
        if not self.active:
            return t
        out = t.detach().to(self.device, copy=True)
        dist.all_reduce(out)
        return out.to(t.device)

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        return self.sum(t) / self.world_size if self.active else t

    def any(self, flag: bool) -> bool:
        """True on every rank if it is True on any rank (e.g. a Ctrl+C seen by one of them)."""
        if not self.active:
            return flag
        return bool(self.sum(torch.tensor([float(flag)], device=self.device)).item() > 0)

    def from_main(self, value: int) -> int:
        """Rank 0's value on every rank."""
        if not self.active:
            return value
        t = torch.tensor([value], device=self.device)
        dist.broadcast(t, src=0)
        return int(t.item())

    def barrier(self) -> None:
        if self.active:
            dist.barrier()

    def divergence(self, modules: list[nn.Module]) -> float:
        """Largest |difference| between any rank's parameters/buffers and rank 0's (0.0 when in sync)."""
        if not self.active:
            return 0.0
        flat = torch.cat([t.detach().float().flatten() for m in modules for t in [*m.parameters(), *m.buffers()]])
        ref = flat.clone()
        dist.broadcast(ref, src=0)
        diff = (flat - ref).abs().max().reshape(1)
        dist.all_reduce(diff, op=dist.ReduceOp.MAX)
        return float(diff)

    def broadcast_module(self, module: nn.Module) -> None:
        """Make every rank start from rank 0's parameters and buffers."""
        if self.active:
            for t in [*module.parameters(), *module.buffers()]:
                dist.broadcast(t.data, src=0)

    @property
    def device(self) -> torch.device:
        if dist.is_initialized() and dist.get_backend() == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")


def average_gradients(params: list[nn.Parameter], d: Dist) -> None:
    """Average .grad over ranks in one all-reduce, then zero NaN/Inf as NVlabs does (nan 0, +-inf +-1e5)."""
    params = [p for p in params if p.grad is not None]
    if not params:
        return
    flat = torch.cat([p.grad.flatten() for p in params])
    if d.active:
        dist.all_reduce(flat)
        flat /= d.world_size
    torch.nan_to_num(flat, nan=0.0, posinf=1e5, neginf=-1e5, out=flat)
    for p, g in zip(params, flat.split([p.numel() for p in params]), strict=True):
        p.grad.copy_(g.reshape(p.shape))


def backend_for(device: torch.device) -> str:
    return "nccl" if device.type == "cuda" else "gloo"


def from_torchrun() -> bool:
    return all(v in os.environ for v in TORCHRUN_VARS)


def init(rank: int, world_size: int, local_rank: int, device: torch.device, init_method: str = "env://") -> Dist:
    """Join the process group (if there is more than one process) and pin this rank's GPU."""
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
    if world_size > 1:
        dist.init_process_group(backend_for(device), init_method=init_method, rank=rank, world_size=world_size)
    return Dist(rank, world_size, local_rank)


def init_from_env(device: torch.device) -> Dist:
    """Ranks as torchrun sets them (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT)."""
    return init(int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"]), int(os.environ["LOCAL_RANK"]), device)


def shutdown() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _entry(rank: int, fn: Callable, world_size: int, port: int, args: tuple) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world_size),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world_size))
    fn(*args)


def launch(fn: Callable, world_size: int, args: tuple = ()) -> None:
    """Run fn(*args) in `world_size` fresh processes that find each other like torchrun's (env:// on localhost).

    Each child sees the torchrun variables, so `fn` calls `init_from_env` either way.
    """
    if world_size == 1:
        fn(*args)
        return
    import torch.multiprocessing as mp

    # Ctrl+C reaches every process of the terminal: the ranks stop cleanly on their own (final snapshot), so the
    # parent must not tear them down meanwhile. The ranks install their own handlers when training starts.
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        mp.spawn(_entry, args=(fn, world_size, free_port(), args), nprocs=world_size, join=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def threads_per_rank(local_world_size: int) -> int:
    """CPU ranks on one machine share its cores."""
    return max(1, (os.cpu_count() or 1) // max(local_world_size, 1))
