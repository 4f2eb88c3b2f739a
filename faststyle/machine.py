"""This machine's CPU as far as speed goes: its model and the vector extensions that decide which
kernels run. Benchmarks print it (a time compares only on one host); --compile auto keys its
remembered measurement by it."""

from __future__ import annotations

import os
import platform
from pathlib import Path

VECTOR_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile",
                "avx_vnni")


def cpu_model_and_flags() -> tuple[str, list[str]]:
    model, flags = platform.processor() or platform.machine() or "unknown CPU", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return model, [f for f in VECTOR_FLAGS if f in flags]


def cpu_summary() -> str:
    """e.g. 'AMD EPYC 7B13; avx2 fma' (what benchmarks print)."""
    model, flags = cpu_model_and_flags()
    return f"{model}; " + " ".join(flags)


def cpu_identity() -> str:
    """The summary with the core count: the key for choices measured on this machine."""
    return f"{cpu_summary()} x{os.cpu_count()}"


def busy_cpu_seconds() -> float | None:
    """CPU seconds every program on this machine has run since boot (Linux's /proc/stat: all but
    idle and I/O wait, over all cores), or None where there is no such file."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return None
    idle = sum(fields[3:5])  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")
