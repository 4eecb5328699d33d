#!/usr/bin/env bash
# Build the OCR function image: wheels on the host, `docker build`, then `sam build`.
#
#   eval "$(scripts/container-env.sh up)" && scripts/container-build.sh
#
# Environment: IMAGE (default ocrfunction:s3ocr, the tag `sam build` gives OcrFunction), SAM_BUILD_DIR
# (default build/sam), SKIP_SAM_BUILD=1 to stop after the docker build.
#
# Why both builds: the Dockerfile's apt-get steps need the package mirror, which only a `--network host`
# build reaches here (the engine adds no NAT), and SAM cannot pass a network to its builds. The docker build
# below fills the layer cache; `sam build` then runs the same Dockerfile on the same context and finds every
# step cached, and writes the built template that `sam local invoke` and `sam deploy` use.
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_VENV="${TOOLS_VENV:-$ROOT_DIR/build/tools-venv}"
IMAGE="${IMAGE:-ocrfunction:s3ocr}"
SAM_BUILD_DIR="${SAM_BUILD_DIR:-$ROOT_DIR/build/sam}"
BASE_IMAGE="${S3OCR_BASE_IMAGE:-debian:bookworm-slim}"

log() { printf 'container-build: %s\n' "$*" >&2; }

[ -n "${DOCKER_HOST:-}" ] || eval "$("$ROOT_DIR/scripts/container-env.sh" env)"
export DOCKER_BUILDKIT=0 SAM_CLI_TELEMETRY=0

"$ROOT_DIR/scripts/container-wheels.sh"

log "docker build -> $IMAGE"
cd "$ROOT_DIR"
docker build --network host --build-arg "BASE_IMAGE=$BASE_IMAGE" -f handlers/ocr/Dockerfile -t "$IMAGE" . \
    2> >(grep -v -e '^DEPRECATED: The legacy builder' \
    -e '^ *BuildKit is currently disabled' -e '^ *environment-variable\.$' -e '^ *Install the buildx' \
    -e '^ *https://docs.docker.com/go/buildx' >&2)

if [ "${SKIP_SAM_BUILD:-0}" != 1 ]; then
    log "sam build -> ${SAM_BUILD_DIR#"$ROOT_DIR"/}"
    "$TOOLS_VENV/bin/sam" build --template-file template.yaml --build-dir "$SAM_BUILD_DIR"
fi
log "$IMAGE: $(docker image inspect --format '{{.Size}}' "$IMAGE" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
