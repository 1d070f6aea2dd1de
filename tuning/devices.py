"""Which GPUs this machine has, without importing TensorFlow."""

from __future__ import annotations

import os
import shutil
import subprocess

__all__ = ["visible_gpus"]


def visible_gpus() -> list[str]:
    """The GPU ids a child process may be given through ``CUDA_VISIBLE_DEVICES``.

    Honours an existing ``CUDA_VISIBLE_DEVICES``; otherwise asks ``nvidia-smi``.
    Returns an empty list on a machine without NVIDIA GPUs.
    """
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [gpu.strip() for gpu in visible.split(",") if gpu.strip() and gpu.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        listing = subprocess.run(
            ["nvidia-smi", "--query-gpu=index", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in listing.splitlines() if line.strip()]
