#!/usr/bin/env bash
# checkov and cfn-lint, pinned, in a venv of their own (build/checkov-venv): checkov pins much of what it
# imports, and those pins must never shape the project's dependencies.
#
# Idempotent: a stamp file names the versions installed; when it matches, nothing is done. Prints the venv's
# bin folder on stdout (log lines go to stderr), so callers can do `bin="$(scripts/install-checkov.sh)"`.
#
# Environment: CHECKOV_VENV (default build/checkov-venv), PYTHON (default python3).
# Exit status: 0 installed or already there; 1 any failure (pip's own message says which).
set -euo pipefail

ROOT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CHECKOV_VENV="${CHECKOV_VENV:-$ROOT_DIR/build/checkov-venv}"
PYTHON="${PYTHON:-python3}"
# cfn-lint at the version aws-sam-cli 1.170.0 brings (build/tools-venv), so both tools agree.
CHECKOV_VERSION=3.3.30
CFN_LINT_VERSION=1.58.0
STAMP="$CHECKOV_VENV/.installed"
WANT="checkov==$CHECKOV_VERSION cfn-lint==$CFN_LINT_VERSION"

log() { printf 'install-checkov: %s\n' "$*" >&2; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] \
        && [ -x "$CHECKOV_VENV/bin/checkov" ] && [ -x "$CHECKOV_VENV/bin/cfn-lint" ]; then
    printf '%s\n' "$CHECKOV_VENV/bin"
    exit 0
fi

if [ ! -x "$CHECKOV_VENV/bin/python" ]; then
    log "creating $CHECKOV_VENV"
    "$PYTHON" -m venv "$CHECKOV_VENV"
fi
log "installing $WANT"
rm -f "$STAMP"
# The machine's pip configuration warns about index locations it does not have; keep real errors.
# shellcheck disable=SC2086
"$CHECKOV_VENV/bin/python" -m pip install -q $WANT \
    2> >(grep -v "^WARNING: Location '.*' is ignored" >&2)
printf '%s\n' "$WANT" >"$STAMP"
printf '%s\n' "$CHECKOV_VENV/bin"
