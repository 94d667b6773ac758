#!/usr/bin/env bash
# `make run`: starts Redis and devmongo on local defaults, then commentd in
# the foreground; Ctrl-C stops all three.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
mkdir -p bin
go build -o bin/commentd ./cmd/commentd
scripts/services.sh start
trap 'scripts/services.sh stop' EXIT
bin/commentd serve "$@"
