# Injected faults on the local stack (issue 12, item 4). Included by the top-level Makefile.
#
#   make reliability-faults   every fault kind on one local stack (S3 errors through a fault proxy, a crashed and a
#                             hung Tesseract worker, a silent cloud engine, Secrets Manager down, a poison message):
#                             "faults: F kinds → 0 lost, 0 duplicate outputs", then one line per kind; fails on any
#                             lost document or duplicate output. FAULTS_ARGS="--kind s3-read-down" runs one kind.
#
# The same scenarios run as tests in tests/integration/test_faults.py (part of `make test`).

VENV ?= .venv
PY ?= $(VENV)/bin/python
FAULTS_ARGS ?=

.PHONY: reliability-faults

reliability-faults: deps
	$(PY) -m s3ocr.reliability.faults $(FAULTS_ARGS)
