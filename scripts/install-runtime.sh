#!/usr/bin/env bash
# Installs the native OCR runtime on this host from the one list the image build also uses
# (layers/ocr-runtime/apt-packages.txt), plus what the venv needs. Idempotent: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=$(grep -Ev '^\s*(#|$)' layers/ocr-runtime/apt-packages.txt)
# The host also needs Python's venv module (Debian splits it out of python3).
python3 -m venv --help >/dev/null 2>&1 || packages="$packages python3-venv python3-pip"

missing=()
for package in $packages; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

sudo=""
[[ $(id -u) -eq 0 ]] || sudo="sudo"
echo "installing: ${missing[*]}"
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
