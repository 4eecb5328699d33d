"""The CPU time of a process tree (``s3ocr.proctree``): live descendants, reaped ones, and kernels without
``/proc/PID/task/TID/children``."""

from __future__ import annotations

import os
import resource
import subprocess
import sys

from s3ocr import proctree

# A child that starts a grandchild; each spends 0.3 CPU-s, says so, and waits for its stdin to close.
BURN = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass\n"
GRANDCHILD = BURN + "print('burnt', flush=True)\nimport sys\nsys.stdin.read()\n"
CHILD = (f"import subprocess, sys\ng = subprocess.Popen([sys.executable, '-c', {GRANDCHILD!r}], "
         "stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)\ng.stdout.readline()\n"
         + BURN + "print('burnt', flush=True)\nsys.stdin.read()\ng.stdin.close()\ng.wait()\n")


def _own() -> float:
    own, reaped = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + reaped.ru_utime + reaped.ru_stime


def test_live_descendants_count_as_they_run_and_after_they_end():
    # GIVEN a child and a grandchild that have spent 0.3 CPU-s each and still run
    before, own_before = proctree.tree_cpu_seconds(), _own()
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdout.readline() == "burnt\n"
    # THEN this process's tree counts them, though the kernel counts none of it as this process's yet
    assert proctree.tree_cpu_seconds() - before >= 0.55
    assert _own() - own_before < 0.3
    # AND the children are found alike by the kernel's children lists and by every process's parent (this process
    # may have others, from the tests before: servers, Tesseract's workers)
    by_parent = proctree._children_by_parent()
    assert child.pid in proctree._children_listed(os.getpid()) and child.pid in by_parent(os.getpid())
    assert len(proctree._children_listed(child.pid)) == 1
    assert proctree._children_listed(child.pid) == by_parent(child.pid)
    # WHEN they end THEN the time stays counted, now as reaped children's
    while_running = proctree.tree_cpu_seconds()
    child.communicate("")
    assert proctree.tree_cpu_seconds() >= while_running - 0.02
    assert proctree.descendants_cpu_seconds(os.getpid()) >= 0.55


def test_another_process_descendants_are_counted_not_its_own_time():
    # GIVEN a process that has spent 0.3 CPU-s itself, with a grandchild that has spent as much
    child = subprocess.Popen([sys.executable, "-c", CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "burnt\n"
        # THEN its descendants' time is the grandchild's
        assert 0.25 <= proctree.descendants_cpu_seconds(child.pid) < 0.5
    finally:
        child.communicate("")
