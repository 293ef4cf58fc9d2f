"""Which torch device a command runs on: the one resolver that training, generation, serving and images share."""

from __future__ import annotations

import torch

from dreamwright.errors import InvalidArgument


def resolve_device(device: str | torch.device | None = None) -> torch.device:
    """``auto``/None: CUDA when present, else CPU; ``cpu``, ``cuda`` or ``cuda:N`` as given.

    Asking for CUDA on a machine without it is an error, not a silent fall back to the CPU.
    """
    if device is None or str(device).lower() == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(str(device).lower() if isinstance(device, str) else device)
    except RuntimeError:
        raise InvalidArgument(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N", param="device") from None
    if dev.type not in ("cpu", "cuda"):
        raise InvalidArgument(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N", param="device")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise InvalidArgument("--device cuda was asked for but no CUDA GPU is available; use --device cpu",
                              param="device")
    return dev
