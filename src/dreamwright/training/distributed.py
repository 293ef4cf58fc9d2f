"""Data parallelism: joining the torchrun process group, wrapping the model, and the collectives the
trainer needs (a mean loss, a summed score, the gathered RNN state). With one process every function is a
no-op, so the trainer calls them unconditionally."""

from __future__ import annotations

import os

import torch

from dreamwright.training.evaluate import Score


def init() -> None:
    """Join the process group when launched by torchrun (gloo on CPU, NCCL on CUDA)."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available() and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")


def rank_world() -> tuple[int, int]:
    """This process's rank and the number of processes (0, 1 without a process group)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def local_device(device: torch.device, world: int) -> torch.device:
    """Under data parallelism on CUDA, this process's own GPU (``LOCAL_RANK``)."""
    if device.type == "cuda" and world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    return device


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """``model`` in DistributedDataParallel (gradients all-reduced in backward)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def mean(value: float, device: torch.device, world: int) -> float:
    """The mean of ``value`` over all processes."""
    if world == 1:
        return value
    import torch.distributed as dist

    t = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return float(t[0]) / world


def sum_score(score: Score, device: torch.device, world: int) -> Score:
    """Every process's share of a validation score, added up."""
    if world == 1:
        return score
    import torch.distributed as dist

    t = torch.tensor([score.nats, score.tokens, score.chars], dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return Score(float(t[0]), int(t[1]), float(t[2]))


def gather_rows(tensors: dict[str, torch.Tensor], world: int) -> dict[str, torch.Tensor]:
    """Concatenate each ``[layers, rows, hidden]`` tensor over processes along the rows (in rank order)."""
    if world == 1:
        return tensors
    import torch.distributed as dist

    gathered = {}
    for key, t in tensors.items():
        parts = [torch.empty_like(t) for _ in range(world)]
        dist.all_gather(parts, t.contiguous())
        gathered[key] = torch.cat(parts, dim=1)
    return gathered


def barrier(world: int) -> None:
    """Wait for every process."""
    if world > 1:
        import torch.distributed as dist

        dist.barrier()
