# Container image, SAM and local Lambda targets. Included by the top-level Makefile (`include mk/container.mk`).
#
#   make container-env   Docker engine (private dockerd if none answers), debian:bookworm-slim, aws-sam-cli
#   make image           wheels + docker build + sam build (the image is tagged $(IMAGE))
#   make test-container  pytest tests/container -m container (builds what it needs)
#   make image-report    image size, cold start, first-page latency
#   make container-stop  stop the private dockerd, if container-env started it
#   make lock            re-pin handlers/ocr/requirements.lock from pyproject.toml
#
# Every recipe takes DOCKER_HOST (and the bridge gateway for the local S3 server) from
# scripts/container-env.sh, so the targets work in a fresh shell.

VENV ?= .venv
PY ?= $(VENV)/bin/python
TOOLS_VENV ?= $(CURDIR)/build/tools-venv
IMAGE ?= ocrfunction:s3ocr
CONTAINER_ENV := scripts/container-env.sh

export TOOLS_VENV IMAGE

.PHONY: container-env wheels lock image sam-validate test-container image-report container-stop

container-env:
	@$(CONTAINER_ENV) up

wheels: model
	scripts/container-wheels.sh

lock:
	scripts/container-wheels.sh lock

image: model
	@eval "$$($(CONTAINER_ENV) up)" && scripts/container-build.sh

sam-validate:
	@$(CONTAINER_ENV) tools
	SAM_CLI_TELEMETRY=0 $(TOOLS_VENV)/bin/sam validate --lint --template-file template.yaml

test-container: container-env model
	@eval "$$($(CONTAINER_ENV) env)" && $(PY) -m pytest tests/container -m container $(PYTEST_ARGS)

image-report: image
	@eval "$$($(CONTAINER_ENV) env)" && $(PY) scripts/image_report.py

container-stop:
	@$(CONTAINER_ENV) stop
