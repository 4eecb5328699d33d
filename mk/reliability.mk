# The project's own reliability report (issue 12). Included by the top-level Makefile, with its parts:
#
#   make reliability-report     hostile inputs, the 2,000-case fuzz run, injected faults and the template, one after
#                               another, then their four summary lines; fails when a line shows what it promises not to
#   make reliability-inputs     the hostile inputs alone, with the README's table (--markdown)
#   make reliability-fuzz | reliability-faults | reliability-template   each part alone (mk/reliability-*.mk)

VENV ?= .venv
PY ?= $(VENV)/bin/python
RELIABILITY_ARGS ?=

.PHONY: reliability-report reliability-inputs

reliability-inputs: deps
	$(PY) -m s3ocr.reliability.inputs --markdown

reliability-report: deps checkov-venv
	$(PY) -m s3ocr.reliability.report $(RELIABILITY_ARGS)
