"""``make reliability-report``: hostile inputs, the fuzz run, injected faults and the template, one after another
(never side by side: the fuzz run times its cases), then their four summary lines together.

Exit status 1 when any line promises a zero it does not show.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from typing import Protocol


class Summary(Protocol):
    def line(self) -> str: ...


def _inputs() -> tuple[Summary, bool]:
    from s3ocr.reliability import inputs

    summary = inputs.run()
    for case, verdict in summary.results:
        print(f"  {case.name}: {'ok' if verdict.handled else 'UNHANDLED'} - {verdict.outcome}", flush=True)
    print(summary.markdown(), flush=True)
    return summary, not summary.unhandled and not summary.lost


def _fuzz(cases: int, seed: int) -> Callable[[], tuple[Summary, bool]]:
    def part() -> tuple[Summary, bool]:
        from s3ocr.reliability import fuzz

        summary = fuzz.run(cases=cases, seed=seed)
        for line in summary.lines():
            print(f"  {line}", flush=True)
        return summary, summary.clean

    return part


def _faults() -> tuple[Summary, bool]:
    from s3ocr.reliability import faults

    with tempfile.NamedTemporaryFile(prefix="s3ocr-faults-", suffix=".log", delete=False) as log:
        summary = faults.run(log=log)
    for kind in summary.kinds:
        print(kind.line(), flush=True)
    return summary, not (summary.lost or summary.duplicates or summary.failed)


def _template() -> tuple[Summary, bool]:
    from s3ocr.reliability import template

    summary = template.run()
    return summary, summary.ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--fuzz-cases", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    parts: list[tuple[str, Callable[[], tuple[Summary, bool]]]] = [
        ("inputs", _inputs), ("fuzz", _fuzz(args.fuzz_cases, args.seed)), ("faults", _faults),
        ("template", _template),
    ]
    lines, clean = [], True
    for name, part in parts:
        started = time.monotonic()
        print(f"== {name}", flush=True)
        try:
            summary, ok = part()
            lines.append(summary.line())
        except Exception as e:  # a part that cannot run is a failure of the report, said as such
            ok = False
            lines.append(f"{name}: could not run ({type(e).__name__}: {e})")
        clean = clean and ok
        print(f"   ({time.monotonic() - started:.0f} s)", flush=True)
    print("\n".join(["", "reliability report", *lines]))
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
