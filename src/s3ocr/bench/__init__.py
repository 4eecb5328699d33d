"""Accuracy benchmark and the page generator it can be fed with (not used by the pipeline at run time)."""
