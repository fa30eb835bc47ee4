"""What the machine is and how busy it is: every load test reports both with its figures."""

from __future__ import annotations

import contextlib
import os
import platform
import shutil
import subprocess
from pathlib import Path

import psutil


def cpu_pressure() -> str:
    """The machine's load: other work on it skews every figure, so each run reports it."""
    load1, load5, _ = os.getloadavg()
    text = f"load average {load1:.2f} (1 min) {load5:.2f} (5 min) on {os.cpu_count()} CPUs"
    with contextlib.suppress(OSError, IndexError, ValueError):
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0]
        avg10 = float(some.split()[1].split("=")[1])
        text += f"; CPU pressure (some, 10 s) {avg10:.0f}%"
    return text


def machine_info() -> dict[str, object]:
    model = "unknown"
    mhz = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and model == "unknown":
                model = line.split(":", 1)[1].strip()
            elif line.startswith("cpu MHz") and mhz is None:
                mhz = line.split(":", 1)[1].strip()
    wrk = shutil.which("wrk")
    wrk_version = None
    if wrk:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [wrk, "-v"], capture_output=True, text=True, timeout=5, check=False
            )
            wrk_version = (out.stdout or out.stderr).splitlines()[0].split("[")[0].strip()
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "cpu_mhz": mhz,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": wrk_version,
    }
