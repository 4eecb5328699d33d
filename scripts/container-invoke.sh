#!/usr/bin/env bash
# Invoke the built OCR function locally with `sam local invoke`, against a local S3 server.
#
#   S3_ENDPOINT=http://127.0.0.1:5000 scripts/container-invoke.sh events/s3-put-png.json [sam args...]
#
# Needs `sam build` first (make image). Environment:
#   S3_ENDPOINT      the S3 server the function talks to (required). The function container sits on Docker's
#                    default bridge, so this is a server on this host listening on the bridge's gateway address
#                    ($S3OCR_DOCKER_GATEWAY from scripts/container-env.sh env), e.g. http://172.17.0.1:PORT
#   OUTPUT_BUCKET    output bucket (default s3ocr-output)
#   OUTPUT_PREFIX    output key prefix (default empty)
#   SAM_BUILD_DIR    where `sam build` wrote its template (default build/sam)
#
# SAM only lets --env-vars override variables the template declares, and the deployed template has no
# business declaring a local S3 endpoint; so this writes a local copy of the built template that declares
# them (AWS_ENDPOINT_URL, POWERTOOLS_TRACE_DISABLED) and invokes that.
#
# Networking: SAM publishes the emulator's port on the default bridge and ignores `--docker-network host`, so
# the container stays on the bridge; --container-dns 127.0.0.1 keeps it from asking any resolver (the
# endpoint is an IP address, and X-Ray is off).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS_VENV="${TOOLS_VENV:-$ROOT_DIR/build/tools-venv}"
SAM_BUILD_DIR="${SAM_BUILD_DIR:-$ROOT_DIR/build/sam}"
FUNCTION="${FUNCTION:-OcrFunction}"

[ $# -ge 1 ] || { echo "usage: S3_ENDPOINT=http://127.0.0.1:PORT $0 EVENT.json [sam local invoke args...]" >&2; exit 2; }
[ -n "${S3_ENDPOINT:-}" ] || { echo "container-invoke: set S3_ENDPOINT (the local S3 server)" >&2; exit 2; }
event="$1"
shift
built="$SAM_BUILD_DIR/template.yaml"
[ -f "$built" ] || { echo "container-invoke: $built missing; run: make image" >&2; exit 2; }

local_template="$SAM_BUILD_DIR/template.local.yaml"
env_file="$SAM_BUILD_DIR/env.local.json"
"$TOOLS_VENV/bin/python" - "$built" "$local_template" "$env_file" "$FUNCTION" <<'EOF'
import json
import os
import sys

import yaml  # PyYAML comes with aws-sam-cli; `sam build` writes intrinsics in long form, so safe_load reads it

built, local_template, env_file, function = sys.argv[1:5]
with open(built, encoding="utf-8") as f:
    template = yaml.safe_load(f)
local_env = {
    "OUTPUT_BUCKET": os.environ.get("OUTPUT_BUCKET", "s3ocr-output"),
    "OUTPUT_PREFIX": os.environ.get("OUTPUT_PREFIX", ""),
    "AWS_ENDPOINT_URL": os.environ["S3_ENDPOINT"],
    "POWERTOOLS_TRACE_DISABLED": "true",
    "POWERTOOLS_METRICS_NAMESPACE": "S3OcrLocal",
    # The template's references to its table and queues mean nothing to `sam local invoke`: the invocation reads
    # its document alone, as a function without a jobs table does.
    "JOBS_TABLE": "",
    "TASKS_QUEUE_URL": "",
    "DEAD_LETTER_QUEUE_URL": "",
    "INPUT_BUCKET": "",
    "EVENT_BUS_NAME": "",
}
for name in ("OCR_LANGUAGES", "OCR_ENGINE", "PDF_DPI", "MAX_PAGES", "OCR_PREPROCESS", "POWERTOOLS_LOG_LEVEL",
             "OUTPUT_FORMATS", "EVENT_BUS_NAME"):
    if os.environ.get(name):
        local_env[name] = os.environ[name]
props = template["Resources"][function]["Properties"]
variables = props.setdefault("Environment", {}).setdefault("Variables", {})
for name in local_env:
    variables.setdefault(name, "")
with open(local_template, "w", encoding="utf-8") as f:
    yaml.safe_dump(template, f, sort_keys=False)
with open(env_file, "w", encoding="utf-8") as f:
    json.dump({function: local_env}, f, indent=2)
EOF

# Fake credentials (the local S3 server accepts any); SAM hands its own to the function.
export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-testing}"
export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-testing}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"
export AWS_REGION="$AWS_DEFAULT_REGION"
unset AWS_PROFILE AWS_SESSION_TOKEN
export SAM_CLI_TELEMETRY=0

exec "$TOOLS_VENV/bin/sam" local invoke "$FUNCTION" \
    --template-file "$local_template" \
    --event "$event" \
    --env-vars "$env_file" \
    --container-dns 127.0.0.1 \
    --skip-pull-image \
    "$@"
