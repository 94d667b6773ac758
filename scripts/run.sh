#!/usr/bin/env bash
# `make run`: starts Redis and devmongo on local defaults, then commentd in
# the foreground; Ctrl-C (or SIGTERM) stops all three. Extra arguments go to
# `commentd serve`, e.g. scripts/run.sh --http.addr :9090
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
mkdir -p bin
go build -o bin/commentd ./cmd/commentd
scripts/services.sh start
pid=""
cleanup() {
	[ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	scripts/services.sh stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bin/commentd serve "$@" &
pid=$!
wait "$pid"
