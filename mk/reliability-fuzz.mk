# The fuzz run (issue 12, item 5). Included by the top-level Makefile.
#
#   make reliability-fuzz   2,000 seeded byte mutations and truncations of small valid PDFs and images, each read by
#                           the real pipeline (Tesseract, Poppler) into a local sink, two cases at a time:
#                           "fuzz: 2000 cases → 0 escapes, 0 lost, max RSS … MB, max … s", the outcomes by reason
#                           code, and every case that broke an invariant; fails on any, known findings apart
#                           (FUZZ_ARGS=--strict fails on those too). About 3 minutes on 2 cores.
#
# A fast subset (the run's first 60 cases) runs in `make test` (tests/unit/test_fuzz.py). To look at one case:
# $(PY) -m s3ocr.reliability.fuzz --seed 1 --save INDEX --to /tmp

VENV ?= .venv
PY ?= $(VENV)/bin/python
FUZZ_ARGS ?=

.PHONY: reliability-fuzz

reliability-fuzz: deps
	$(PY) -m s3ocr.reliability.fuzz --cases 2000 --seed 1 $(FUZZ_ARGS)
