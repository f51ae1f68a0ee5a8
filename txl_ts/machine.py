"""A description of the machine a measurement ran on, for every report: CPU model, cores,
library versions, GPU, git commit and load."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path
from typing import Any


def _git(args: list[str]) -> str | None:
    try:
        done = subprocess.run(["git", *args], capture_output=True, text=True, timeout=10,
                              cwd=Path(__file__).parent)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def machine_info() -> dict[str, Any]:
    """CPU model, cores, library versions and GPU name (if any) of this machine."""
    import torch

    cpu = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    commit, dirty = _git(["rev-parse", "HEAD"]), _git(["status", "--porcelain", "-uno", "."])
    return {"cpu": cpu, "cores": os.cpu_count(), "gpu": gpu, "torch": torch.__version__,
            "python": platform.python_version(), "platform": platform.platform(),
            "hostname": platform.node(), "git_commit": commit,
            "uncommitted_changes": dirty.splitlines() if dirty else [],
            "load_average_1m": os.getloadavg()[0]}
