# s3ocr: `make demo` runs the whole job locally; `make test` passes the tests. Both do their own set-up.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
SAM_CLI_VERSION := 1.170.0
RIE := build/bin/aws-lambda-rie-x86_64
PYTEST_ARGS ?=

.PHONY: help deps runtime venv rie model demo demo-fanout test test-unit test-integration lint bench-accuracy bench bench-fanout bench-loading bench-cost clean

help:
	@echo "make demo   - run the OCR pipeline end to end on this machine (local S3, Lambda runtime, Tesseract)"
	@echo "make test   - install what is missing and run the test suite"
	@echo "make lint   - ruff + mypy"
	@echo "make reliability-report - hostile inputs, fuzz, injected faults, template checks: the README's figures"

deps: runtime venv rie model

runtime:
	@scripts/install-runtime.sh

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# PP-OCRv6's recogniser quantised to int8 (s3ocr.engines.quantize), from the float model the rapidocr wheel
# ships, calibrated on the repository's own test pages: the same file on every machine, carried by the image.
# The Latin recogniser is the int8 one with its last layer cut to the Latin characters (pages read with eng);
# those pages' lines are found by the detector quantised the same way.
INT8_MODEL := src/s3ocr/engines/models/PP-OCRv6_rec_small.int8.onnx
LATIN_MODEL := src/s3ocr/engines/models/PP-OCRv6_rec_small.latin.int8.onnx
DET_INT8_MODEL := src/s3ocr/engines/models/PP-OCRv6_det_small.int8.onnx
CALIBRATION_PAGES := $(addprefix tests/resources/,linn.png two-columns.png zh-clean.png zh-vertical.png)

model: $(INT8_MODEL) $(LATIN_MODEL) $(DET_INT8_MODEL)

$(DET_INT8_MODEL): $(VENV)/.installed src/s3ocr/engines/quantize.py $(CALIBRATION_PAGES)
	$(PY) -m s3ocr.engines.quantize $@ --detector --pages $(CALIBRATION_PAGES)

$(INT8_MODEL): $(VENV)/.installed src/s3ocr/engines/quantize.py $(CALIBRATION_PAGES)
	$(PY) -m s3ocr.engines.quantize $@ --pages $(CALIBRATION_PAGES)

$(LATIN_MODEL): $(INT8_MODEL)
	$(PY) -m s3ocr.engines.quantize $@ --latin-from $(INT8_MODEL)

# The Lambda Runtime Interface Emulator ships inside the aws-sam-cli wheel: take just that file.
rie: $(RIE)

$(RIE): | venv
	mkdir -p build/tools-wheels build/bin
	$(PY) -m pip download -q --no-deps -d build/tools-wheels aws-sam-cli==$(SAM_CLI_VERSION)
	$(PY) -c "import zipfile,sys; z=zipfile.ZipFile(sys.argv[1]); open(sys.argv[2],'wb').write(z.read('samcli/local/rapid/aws-lambda-rie-x86_64'))" \
	    build/tools-wheels/aws_sam_cli-$(SAM_CLI_VERSION)-py3-none-any.whl $@
	chmod +x $@

demo: deps
	$(PY) -m s3ocr.devstack.demo

# A 40-page scan read in page ranges by three function instances (s3ocr.fanout).
demo-fanout: deps
	$(PY) -m s3ocr.devstack.demo --fanout

test: deps
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: deps
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: deps
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check src tests handlers
	$(VENV)/bin/mypy

bench-accuracy: deps
	$(PY) -m s3ocr.bench.accuracy ../shared/corpus/real ../shared/corpus/generated $(BENCH_ARGS)

# OCRmyPDF is the reference for speed; it lives in its own venv so it never shapes the project's dependencies.
BENCH_VENV := build/bench-venv
OCRMYPDF_VERSION := 17.13.0

$(BENCH_VENV)/bin/ocrmypdf:
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q ocrmypdf==$(OCRMYPDF_VERSION)

# What splitting and assembling a 1,000-page document costs on the local stack (s3ocr.fanout).
bench-fanout: deps
	$(PY) -m s3ocr.bench.fanout --pages 1000 --compare-split $(BENCH_ARGS)

# What a new instance pays (init, and loading Tesseract's workers and PP-OCRv6's readers) before its pages cost
# what a warm instance's do: two real receipts, each read by both engines, two at a time (s3ocr.bench.loading).
bench-loading: deps
	$(PY) -m s3ocr.bench.loading ../shared/corpus/real/sroie-000.jpg ../shared/corpus/real/sroie-017.jpg $(BENCH_ARGS)

# What 1,000 pages cost on Lambda: the real pages read warm, bare Tesseract as the reference, the loading per
# instance; priced at x86 and arm64 against issue 13's goals (s3ocr.bench.cost).
bench-cost: deps
	$(PY) -m s3ocr.bench.cost ../shared/corpus/real $(BENCH_ARGS)

bench: deps $(BENCH_VENV)/bin/ocrmypdf
	$(PY) -m s3ocr.bench.speed --ocrmypdf $(BENCH_VENV)/bin/ocrmypdf $(BENCH_ARGS)

clean:
	rm -rf build .pytest_cache .ruff_cache .mypy_cache

-include mk/container.mk
-include mk/reliability.mk
-include mk/reliability-template.mk
-include mk/reliability-fuzz.mk
-include mk/reliability-faults.mk
