"""The processes under a process, from /proc, and their CPU time: what a page or an invocation costs.

Lambda bills the time an instance runs at its memory size, one vCPU per 1,769 MB; the CPU-seconds a page takes
are what that time buys. The benchmarks measure pages by them (``bench.accuracy``, ``bench.loading``), and the
function counts every invocation's (the ``CpuSeconds`` metric), so that the figure can be read on the CPUs
Lambda gives as well as here. The dev stack finds the function's processes the same way (``devstack.faults``,
``devstack.fleet``), and ``bench.speed`` their memory.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Callable
from pathlib import Path

PROC = Path("/proc")


def descendants(pid: int) -> list[int]:
    """The pids of every live process under ``pid``, each after its parent: from the kernel's lists of each
    process's children (kernels built with ``CONFIG_PROC_CHILDREN``), else from every process's parent
    (Lambda's kernel may keep no such lists)."""
    listed = (PROC / str(pid) / "task" / str(pid) / "children").exists()
    children = _children_listed if listed else _children_by_parent()
    found, todo = [], [pid]
    while todo:
        for child in children(todo.pop()):
            found.append(child)
            todo.append(child)
    return found


def tree_cpu_seconds() -> float:
    """CPU time of this process, its reaped children and its live descendants (Tesseract's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    reaped = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime + _live_cpu_seconds(os.getpid())


def descendants_cpu_seconds(pid: int) -> float:
    """CPU time of another process's descendants, reaped and live, not its own: e.g. the Lambda runtime and
    Tesseract's workers under the Runtime Interface Emulator."""
    stat = _stat(pid)
    if stat is None:
        raise ProcessLookupError(pid)
    return _ticks(stat[13:15]) + _live_cpu_seconds(pid)


def _live_cpu_seconds(pid: int) -> float:
    """CPU time of the live processes under ``pid``, and of the children they reaped."""
    return sum(_ticks(stat[11:15]) for stat in map(_stat, descendants(pid)) if stat is not None)


def _ticks(fields: list[str]) -> float:
    """Seconds, from ``/proc/PID/stat`` fields in clock ticks."""
    return sum(int(field) for field in fields) / os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    """A process's ``/proc/PID/stat`` fields after its name (which may hold spaces and parentheses): the state
    first, then the parent; None when it has ended."""
    try:
        return (PROC / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def _children_listed(pid: int) -> list[int]:
    """A process's children as its threads list them."""
    found: list[int] = []
    for task in (PROC / str(pid) / "task").glob("*"):
        try:
            found += map(int, (task / "children").read_text().split())
        except OSError:
            continue
    return found


def _children_by_parent() -> Callable[[int], list[int]]:
    """Children by each process's parent, read once from every process's ``stat``."""
    by_parent: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (stat := _stat(int(entry.name))) is not None:
            by_parent.setdefault(int(stat[1]), []).append(int(entry.name))
    return lambda pid: by_parent.get(pid, [])
