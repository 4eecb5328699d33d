"""The speed benchmark's arithmetic: ratios are taken within a round, then summarised."""

from __future__ import annotations

from s3ocr.bench.speed import Measurements, Run, _spread


def test_ratios_are_taken_within_each_round():
    # GIVEN a machine that slows down by half in round 2: both tools slow with it
    measurements = Measurements()
    for ours, bound in [(11.0, 10.0), (16.5, 15.0), (12.0, 10.0)]:
        measurements.add("scan", "s3ocr", Run(ours, ours, 0))
        measurements.add("scan", "bound", Run(bound, bound, 0))
    # THEN the per-round ratios do not see the slowdown; medians of the raw times would (12.0 / 10.0)
    assert [round(r, 2) for r in measurements.round_ratios("scan", "s3ocr", "bound")] == [1.1, 1.1, 1.2]
    assert _spread(measurements.round_ratios("scan", "s3ocr", "bound")) == "1.10 (1.10-1.20)"
    assert _spread(measurements.round_ratios("scan", "s3ocr", "ocrmypdf")) == "—"
