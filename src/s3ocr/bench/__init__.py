"""Benchmarks (accuracy, speed) and the page generator they can be fed with; not used by the pipeline at run time."""
