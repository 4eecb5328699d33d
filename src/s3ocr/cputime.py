"""The CPU time of this process and its descendants (Tesseract's workers): what a page or an invocation costs.

Lambda bills the time an instance runs at its memory size, one vCPU per 1,769 MB; the CPU-seconds a page takes
are what that time buys. The benchmarks measure pages by them (``bench.accuracy``, ``bench.loading``), and the
function counts every invocation's (the ``CpuSeconds`` metric), so that the figure can be read on the CPUs
Lambda gives as well as here.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable, Iterable
from pathlib import Path

PROC = Path("/proc")


def tree_cpu_seconds() -> float:
    """CPU time of this process, its reaped children and its live descendants (Tesseract's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime
    return total + sum(_cpu_of(stat) for stat in _descendants(os.getpid()))


def descendants_cpu_seconds(pid: int) -> float:
    """CPU time of another process's descendants, reaped and live, not its own: e.g. the Lambda runtime and
    Tesseract's workers under the Runtime Interface Emulator."""
    stat = _stat(pid)
    if stat is None:
        raise ProcessLookupError(pid)
    reaped = (int(stat[13]) + int(stat[14])) / os.sysconf("SC_CLK_TCK")
    return reaped + sum(_cpu_of(child) for child in _descendants(pid))


def _cpu_of(stat: list[str]) -> float:
    """A process's CPU seconds and those of its reaped children, from its ``/proc/PID/stat`` fields after the name."""
    return sum(int(field) for field in stat[11:15]) / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None  # it ended meanwhile


def _descendants(root: int) -> Iterable[list[str]]:
    """The ``stat`` fields of every live process under ``root``."""
    listed = (PROC / str(root) / "task" / str(root) / "children").exists()
    children = _children_listed if listed else _children_by_parent()
    stack = [root]
    while stack:
        for child in children(stack.pop()):
            stat = _stat(child)
            if stat is not None:
                yield stat
                stack.append(child)


def _children_listed(pid: int) -> list[int]:
    """A process's children as its threads list them (kernels built with ``CONFIG_PROC_CHILDREN``)."""
    found: list[int] = []
    for task in (PROC / str(pid) / "task").glob("*"):
        try:
            found += map(int, (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _children_by_parent() -> Callable[[int], list[int]]:
    """Children by each process's parent (``stat`` field 4), for kernels without ``children`` files."""
    by_parent: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            by_parent.setdefault(int(stat[1]), []).append(int(entry.name))
    return lambda pid: by_parent.get(pid, [])
