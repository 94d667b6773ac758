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
# The demo page's Moderate form takes admin.token: one per run unless set.
export COMMENTD_ADMIN_TOKEN="${COMMENTD_ADMIN_TOKEN:-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
echo "moderator token for the demo page and /admin/ (admin.token): $COMMENTD_ADMIN_TOKEN"
bin/commentd serve "$@" &
pid=$!
wait "$pid"
