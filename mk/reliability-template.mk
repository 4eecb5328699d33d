# The template's part of the reliability report (issue 12). Included by the top-level Makefile.
#
#   make reliability-template   checkov + cfn-lint (pinned, in build/checkov-venv: scripts/install-checkov.sh),
#                               then the project's own checks; prints
#                               "template: checkov failed=0 (skips: ...), cfn-lint 0, custom N/N"
#                               and fails when anything failed.

VENV ?= .venv
PY ?= $(VENV)/bin/python

.PHONY: reliability-template checkov-venv

checkov-venv:
	@scripts/install-checkov.sh >/dev/null

reliability-template: venv checkov-venv
	$(PY) -m s3ocr.reliability.template
