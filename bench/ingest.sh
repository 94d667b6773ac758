#!/usr/bin/env bash
# Runs commentbench's ingest scenario against commentd in write-behind and
# in write-through mode (the naive design), one after the other on the same
# Redis and devmongo, on loopback. Usage: bench/ingest.sh [commentbench flags]
# e.g. bench/ingest.sh -clients 32 -window 4 -duration 10s
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
mkdir -p bin
go build -o bin/commentd ./cmd/commentd
go build -o bin/commentbench ./cmd/commentbench
scripts/services.sh start
pid=""
cleanup() {
	[ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	scripts/services.sh stop
}
trap cleanup EXIT
addr=127.0.0.1:${BENCH_PORT:-8099}
for mode in write-behind write-through; do
	bin/commentd serve --http.addr "$addr" --flush.mode "$mode" --limits.comments_per_second 0 \
		--limits.connections_per_ip 0 --log.level warn &
	pid=$!
	for _ in $(seq 1 100); do curl -fs "http://$addr/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
	echo "== flush.mode $mode"
	bin/commentbench -url "http://$addr" -json ".run/ingest-$mode.json" "$@"
	kill "$pid"
	wait "$pid" || true
	pid=""
done
